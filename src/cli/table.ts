/**
 * Aligned plain-text tables for human output. Scripts use `--json`, so the
 * table is free to pad and escape for reading.
 *
 * Column widths are display widths from `string-width` (CJK characters take
 * two columns, combining marks none). The layout itself is a few lines
 * here: the maintained table packages (`cli-table3`) draw boxes and wrap
 * cells, which would break the plain, `grep`-able rows this tool prints.
 *
 * @module
 */
import stringWidth from "npm:string-width@9.0.0";
import { escapeInline } from "./escape.ts";

/** One column: its header, and whether numbers in it align right. */
export interface Column {
  /** The header text, printed as given. */
  header: string;
  /** Right-align (for numbers), so digits line up. Default left. */
  right?: boolean;
}

/**
 * `s` with control characters and bidi controls shown escaped (`\n`,
 * `\u001b`), so a key cannot break a row or repaint the terminal.
 *
 * @example
 * ```ts
 * import { printable } from "./table.ts";
 * console.log(printable("a\tb")); // "a\\tb"
 * ```
 */
export function printable(s: string): string {
  return escapeInline(s);
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
 *   [["counter", "12"], ["天気", "3"]],
 * ));
 * // NAME     KEYS
 * // counter    12
 * // 天気        3
 * ```
 */
export function renderTable(columns: Column[], rows: string[][]): string {
  const cells = rows.map((row) => {
    if (row.length !== columns.length) {
      throw new RangeError(
        `a table row has ${row.length} cells but there are ${columns.length} columns`,
      );
    }
    return row.map((cell) => {
      const text = printable(cell);
      return { text, width: stringWidth(text) };
    });
  });
  const head = columns.map((c) => ({
    text: c.header,
    width: stringWidth(c.header),
  }));
  const widths = columns.map((_, i) =>
    Math.max(head[i].width, ...cells.map((row) => row[i].width))
  );
  const line = (row: { text: string; width: number }[]) =>
    row.map(({ text, width }, i) => {
      const pad = " ".repeat(widths[i] - width);
      return columns[i].right ? pad + text : text + pad;
    }).join("  ").trimEnd();
  return [head, ...cells].map(line).join("\n");
}
