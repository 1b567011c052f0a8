/**
 * Showing text that came from a plugin or the database (keys, values,
 * replies, errors, log lines) on a terminal without letting it act on the
 * terminal: control characters (escape sequences, carriage returns,
 * backspaces) and Unicode bidirectional controls (which can make a key read
 * backwards, or hide part of a line) are shown as escapes instead of
 * printed. `--json` output is never escaped: it is exact.
 *
 * Hand-written: the rule is one regular expression, and the npm packages
 * that strip ANSI codes remove the text (losing what a key really is)
 * instead of showing it.
 *
 * @module
 */

// C0 and C1 controls, DEL, the Arabic letter mark, LRM/RLM, the line and
// paragraph separators, and the bidi embeddings, overrides and isolates.
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\t") return "\\t";
  if (c === "\r") return "\\r";
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * `s` on one line: every unsafe character escaped, newlines and tabs too
 * (for table cells and one-line messages).
 *
 * @example
 * ```ts
 * import { escapeInline } from "./escape.ts";
 * console.log(escapeInline("a\nb\u001b[2J\u202Ec")); // "a\\nb\\u001b[2J\\u202ec"
 * ```
 */
export function escapeInline(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/**
 * `s` as a block of text: unsafe characters escaped, but newlines and tabs
 * kept (for plugin replies and values printed whole).
 *
 * @example
 * ```ts
 * import { escapeText } from "./escape.ts";
 * console.log(escapeText("line 1\nline 2\r\u001b[31m")); // "line 1\nline 2\\r\\u001b[31m"
 * ```
 */
export function escapeText(s: string): string {
  return s.replace(UNSAFE, (c) => c === "\n" || c === "\t" ? c : escapeChar(c));
}
