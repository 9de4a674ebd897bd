/**
 * Mutant generation for `npm run mutation`: a small Solidity lexer and the mutation operators.
 *
 * Operators work on tokens, never on raw text, so comments, strings, NatSpec and pragmas are never mutated, and
 * they know nothing about Bulkhead's functions: they apply to whatever the contracts contain today.
 */

import { rng } from "../lib/rng.js";

export type Operator =
  | "comparison" // `<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`: boundary errors
  | "arithmetic" // binary `+` ↔ `-`, `+=` ↔ `-=`
  | "rounding" // `…Up` ↔ `…Down`, `…Ceil` ↔ `…Floor`, `Rounding.Ceil` ↔ `Rounding.Floor`
  | "guard" // `if (c) revert …` → `if (false) revert …`; `require(c, …)` → `require(true, …)`
  | "negate" // `if (c)` → `if (!(c))` for branches that are not guards
  | "sign" // unary `-x` → `x`
  | "constant" // a numeric literal `n` → `n + 1` (0) or `n - 1`
  | "logical" // `&&` ↔ `||`, `true` ↔ `false`
  | "emit"; // `emit E(…);` → `{}`

export const OPERATORS: readonly Operator[] = [
  "comparison",
  "arithmetic",
  "rounding",
  "guard",
  "negate",
  "sign",
  "constant",
  "logical",
  "emit",
];

export interface Mutant {
  /** Stable id within one enumeration: `<file>:<line>:<column>:<operator>:<n>`. */
  id: string;
  file: string;
  line: number;
  operator: Operator;
  /** Human-readable change, e.g. `<= → <` or `divCeil → divFloor`. */
  mutation: string;
  /** The source line before the change, trimmed (used to match entries of the equivalents list). */
  source: string;
  start: number;
  end: number;
  replacement: string;
}

type Kind = "ident" | "number" | "string" | "op";

interface Token {
  kind: Kind;
  text: string;
  start: number;
  end: number;
}

const OPS = [
  ">>>=",
  "<<=",
  ">>=",
  ">>>",
  "**",
  "==",
  "!=",
  "<=",
  ">=",
  "&&",
  "||",
  "++",
  "--",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "|=",
  "&=",
  "^=",
  "<<",
  ">>",
  "=>",
  "->",
  ":=",
];

/** Splits Solidity source into tokens, dropping whitespace and comments. */
export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      ++i;
    } else if (src.startsWith("//", i)) {
      const nl = src.indexOf("\n", i);
      i = nl < 0 ? src.length : nl;
    } else if (src.startsWith("/*", i)) {
      const close = src.indexOf("*/", i + 2);
      i = close < 0 ? src.length : close + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === "\\" ? 2 : 1;
      tokens.push({ kind: "string", text: src.slice(i, j + 1), start: i, end: j + 1 });
      i = j + 1;
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_$]/.test(src[j])) ++j;
      tokens.push({ kind: "ident", text: src.slice(i, j), start: i, end: j });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[0-9A-Za-z_.]/.test(src[j])) ++j;
      tokens.push({ kind: "number", text: src.slice(i, j), start: i, end: j });
      i = j;
    } else {
      const op = OPS.find((o) => src.startsWith(o, i)) ?? c;
      tokens.push({ kind: "op", text: op, start: i, end: i + op.length });
      i += op.length;
    }
  }
  return tokens;
}

/** Index of the token closing the bracket opened at `open` (`(`, `[` or `{`). */
function matching(tokens: Token[], open: number): number {
  const pairs: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
  const close = pairs[tokens[open].text];
  let depth = 0;
  for (let i = open; i < tokens.length; ++i) {
    if (tokens[i].text === tokens[open].text) ++depth;
    else if (tokens[i].text === close && --depth === 0) return i;
  }
  return tokens.length - 1;
}

/** Tokens after which a `-` or `+` is binary (an operand ends there). */
function endsOperand(t: Token | undefined): boolean {
  if (t === undefined) return false;
  if (t.kind === "number" || t.kind === "string") return true;
  if (t.kind === "ident") return !["return", "emit", "revert", "else", "if", "while"].includes(t.text);
  return t.text === ")" || t.text === "]";
}

const UNITS = new Set(["wei", "gwei", "ether", "seconds", "minutes", "hours", "days", "weeks"]);
const COMPARISON: Record<string, string> = {
  "<": "<=",
  "<=": "<",
  ">": ">=",
  ">=": ">",
  "==": "!=",
  "!=": "==",
};
const ROUNDING: [string, string][] = [
  ["Up", "Down"],
  ["Ceil", "Floor"],
];

/** Every mutant of one file. `functions` holds the function names declared in the production sources, so that a
 *  rounding swap is only proposed when its counterpart exists (`mulDivUp` → `mulDivDown`). */
export function mutantsOf(file: string, src: string, functions: ReadonlySet<string>): Mutant[] {
  const tokens = tokenize(src);
  const lineStarts = [0];
  for (let i = 0; i < src.length; ++i) if (src[i] === "\n") lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const out: Mutant[] = [];
  const add = (operator: Operator, start: number, end: number, replacement: string, mutation: string) => {
    const line = lineOf(start);
    const column = start - lineStarts[line - 1] + 1;
    const lineText = src.slice(lineStarts[line - 1], lineStarts[line] ?? src.length).trim();
    const n = out.filter((m) => m.line === line && m.operator === operator).length;
    out.push({
      id: `${file}:${line}:${column}:${operator}:${n}`,
      file,
      line,
      operator,
      mutation,
      source: lineText,
      start,
      end,
      replacement,
    });
  };

  // Regions never mutated: pragmas, imports, and array lengths in type names (`uint256[3]`).
  const skip = new Set<number>();
  for (let i = 0; i < tokens.length; ++i) {
    const t = tokens[i];
    if (t.kind === "ident" && (t.text === "pragma" || t.text === "import")) {
      while (i < tokens.length && tokens[i].text !== ";") skip.add(i++);
    }
  }

  // Statement-level operators first: guards, negations and emits, keyed on `if`, `require` and `emit`.
  for (let i = 0; i < tokens.length; ++i) {
    const t = tokens[i];
    if (skip.has(i) || t.kind !== "ident") continue;
    if ((t.text === "if" || t.text === "require") && tokens[i + 1]?.text === "(") {
      const close = matching(tokens, i + 1);
      const condStart = tokens[i + 2].start;
      if (t.text === "require") {
        let end = close;
        let depth = 0;
        for (let j = i + 2; j < close; ++j) {
          const x = tokens[j].text;
          if (x === "(" || x === "[" || x === "{") ++depth;
          else if (x === ")" || x === "]" || x === "}") --depth;
          else if (x === "," && depth === 0) {
            end = j;
            break;
          }
        }
        add("guard", condStart, tokens[end - 1].end, "true", "require(…) deleted");
        continue;
      }
      const condEnd = tokens[close - 1].end;
      const next = tokens[close + 1];
      const guard = next?.text === "revert" || (next?.text === "{" && tokens[close + 2]?.text === "revert");
      if (guard) add("guard", condStart, condEnd, "false", "if (…) revert deleted");
      else add("negate", condStart, condEnd, `!(${src.slice(condStart, condEnd)})`, "if condition negated");
    } else if (t.text === "emit") {
      let j = i;
      while (j < tokens.length && tokens[j].text !== ";") ++j;
      add("emit", t.start, tokens[j].end, "{}", `emit ${tokens[i + 1]?.text ?? ""} deleted`);
    }
  }

  // Token-level operators.
  for (let i = 0; i < tokens.length; ++i) {
    if (skip.has(i)) continue;
    const t = tokens[i];
    const prev = tokens[i - 1];
    if (t.kind === "op") {
      if (t.text in COMPARISON)
        add("comparison", t.start, t.end, COMPARISON[t.text], `${t.text} → ${COMPARISON[t.text]}`);
      else if ((t.text === "+" || t.text === "-") && endsOperand(prev)) {
        const r = t.text === "+" ? "-" : "+";
        add("arithmetic", t.start, t.end, r, `${t.text} → ${r}`);
      } else if (t.text === "+=" || t.text === "-=") {
        const r = t.text === "+=" ? "-=" : "+=";
        add("arithmetic", t.start, t.end, r, `${t.text} → ${r}`);
      } else if (t.text === "-" && !endsOperand(prev)) add("sign", t.start, t.end, "", "unary - deleted");
      else if (t.text === "&&" || t.text === "||") {
        const r = t.text === "&&" ? "||" : "&&";
        add("logical", t.start, t.end, r, `${t.text} → ${r}`);
      }
    } else if (t.kind === "ident") {
      if (t.text === "true" || t.text === "false") {
        const r = t.text === "true" ? "false" : "true";
        add("logical", t.start, t.end, r, `${t.text} → ${r}`);
      } else if ((t.text === "Ceil" || t.text === "Floor") && tokens[i - 2]?.text === "Rounding") {
        const r = t.text === "Ceil" ? "Floor" : "Ceil";
        add("rounding", t.start, t.end, r, `Rounding.${t.text} → Rounding.${r}`);
      } else if (tokens[i + 1]?.text === "(" && prev?.text !== "function") {
        for (const [a, b] of ROUNDING) {
          for (const [from, to] of [
            [a, b],
            [b, a],
          ]) {
            const swapped = t.text.replace(new RegExp(`${from}(?=[A-Z0-9_]|$)`), to);
            if (swapped !== t.text && functions.has(swapped)) {
              add("rounding", t.start, t.end, swapped, `${t.text} → ${swapped}`);
            }
          }
        }
      }
    } else if (t.kind === "number" && /^[0-9][0-9_]*(e[0-9]+)?$/.test(t.text) && prev?.text !== "[") {
      // A unit (`1 days`, `1 ether`) belongs to the literal: mutate `1 days` to `(1 days - 1)`.
      const unit = UNITS.has(tokens[i + 1]?.text ?? "") ? tokens[i + 1] : undefined;
      const literal = src.slice(t.start, (unit ?? t).end);
      const zero = unit === undefined && /^0+$/.test(t.text.replace(/_/g, ""));
      const r = zero ? "1" : `(${literal} - 1)`;
      add("constant", t.start, (unit ?? t).end, r, `${literal} → ${zero ? "1" : `${literal} - 1`}`);
    }
  }
  return out.sort((x, y) => x.start - y.start);
}

/** Names of every function declared in `sources`. */
export function declaredFunctions(sources: Iterable<string>): Set<string> {
  const names = new Set<string>();
  for (const src of sources) {
    const tokens = tokenize(src);
    for (let i = 0; i + 1 < tokens.length; ++i) {
      if (tokens[i].text === "function" && tokens[i + 1].kind === "ident") names.add(tokens[i + 1].text);
    }
  }
  return names;
}

/** Applies one mutant to its file's source. */
export function apply(src: string, m: Mutant): string {
  return src.slice(0, m.start) + m.replacement + src.slice(m.end);
}

/** `n` mutants drawn without replacement (Fisher–Yates with a seeded PRNG), returned in source order. */
export function sample<T>(items: readonly T[], n: number, seed: number): T[] {
  const copy = [...items];
  const random = rng(seed);
  for (let i = copy.length - 1; i > 0; --i) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  const picked = new Set(copy.slice(0, Math.min(n, copy.length)));
  return items.filter((m) => picked.has(m));
}
