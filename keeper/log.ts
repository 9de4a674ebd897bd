/** JSON lines: one object per line with ts, level, msg and the event's fields. Bigints print as strings. */
export type Level = "debug" | "info" | "warn" | "error";
export type LogSink = (line: string) => void;
export type Logger = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

export function jsonLogger(sink: LogSink = (line) => process.stdout.write(line + "\n")): Logger {
  return (level, msg, fields = {}) =>
    sink(
      JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }, (_k, v: unknown) =>
        typeof v === "bigint" ? v.toString() : v,
      ),
    );
}
