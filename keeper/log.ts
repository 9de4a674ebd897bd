/**
 * JSON lines through pino: one object per line with `time` (ISO-8601), `level` (a name), `msg` and the event's
 * fields. Bigints are written as decimal strings (JSON numbers would lose precision past 2^53).
 *
 * The rest of keeper/ sees only the `Logger` function type, so a test or the demo can capture lines with
 * `jsonLogger((line) => lines.push(JSON.parse(line)))`.
 */
import { pino, type DestinationStream } from "pino";

export type Level = "debug" | "info" | "warn" | "error";
export type LogSink = (line: string) => void;
export type Logger = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

/** Bigints (at any depth of arrays and plain objects) to strings; everything else unchanged. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/**
 * A pino logger writing to `sink` (default: stdout, synchronously, so that nothing is lost on exit).
 * `level` is the lowest level written (default `KEEPER_LOG_LEVEL` or info).
 */
export function jsonLogger(
  sink?: LogSink,
  level: Level = (process.env.KEEPER_LOG_LEVEL as Level | undefined) ?? "info",
): Logger {
  const destination: DestinationStream =
    sink === undefined
      ? pino.destination({ dest: 1, sync: true })
      : { write: (line: string) => sink(line.endsWith("\n") ? line.slice(0, -1) : line) };
  const logger = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return (lvl, msg, fields = {}) => logger[lvl](plain(fields) as object, msg);
}
