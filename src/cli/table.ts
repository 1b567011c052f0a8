/**
 * Aligned plain-text tables for human output. Scripts use `--json`, so the
 * table is free to pad, escape and abbreviate for reading.
 *
 * @module
 */

/** One column: its header, and whether numbers in it align right. */
export interface Column {
  /** The header text, printed as given. */
  header: string;
  /** Right-align (for numbers), so digits line up. Default left. */
  right?: boolean;
}

// Keys are arbitrary strings: a newline or escape sequence in one would
// break the row or repaint the terminal, so control characters are shown
// escaped instead of printed.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `s` with control characters shown as `\n`, `\t` or `\u001b`. */
export function printable(s: string): string {
  return s.replace(CONTROL, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    if (c === "\r") return "\\r";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/**
 * Render rows under headers, columns separated by two spaces, trailing
 * spaces trimmed. Every row must have one cell per column.
 *
 * @example
 * ```ts
 * import { renderTable } from "./table.ts";
 * console.log(renderTable(
 *   [{ header: "NAME" }, { header: "KEYS", right: true }],
 *   [["counter", "12"], ["weather", "3"]],
 * ));
 * // NAME     KEYS
 * // counter    12
 * // weather     3
 * ```
 */
export function renderTable(columns: Column[], rows: string[][]): string {
  const cells = rows.map((row) => {
    if (row.length !== columns.length) {
      throw new RangeError(
        `a table row has ${row.length} cells but there are ${columns.length} columns`,
      );
    }
    return row.map(printable);
  });
  const widths = columns.map((col, i) =>
    Math.max(col.header.length, ...cells.map((row) => row[i].length))
  );
  const line = (row: string[]) =>
    row.map((cell, i) =>
      columns[i].right ? cell.padStart(widths[i]) : cell.padEnd(widths[i])
    ).join("  ").trimEnd();
  return [columns.map((c) => c.header), ...cells].map(line).join("\n");
}
