/**
 * Splitting a byte stream into UTF-8 lines in linear time.
 *
 * Hand-written because nothing maintained fits: `@std/streams`'
 * `TextLineStream` is on JSR only, `node:readline` and npm `split2` re-scan
 * a growing string for every chunk of a long line (quadratic: a 40 MB line
 * took 17.6 s that way), and `it-split` is barely used. Here each byte is
 * scanned once and copied at most twice (into the pending pieces, then into
 * the finished line), whatever the line length.
 *
 * @module
 */
import { InputFormatError } from "./errors.ts";

/** One line: its 1-based number and its text without the line ending. */
export interface Line {
  /** 1-based line number. */
  n: number;
  /** The text, without `\n` or `\r\n`. */
  text: string;
}

const NEWLINE = 0x0a;

/**
 * The lines of `chunks`, decoded as UTF-8. Invalid UTF-8 throws
 * {@link InputFormatError} naming `name` and the line. A final line without
 * a newline is yielded too.
 *
 * @example
 * ```ts
 * import { splitLines } from "./lines.ts";
 * const bytes = new TextEncoder().encode("a\r\nbc\n\nd");
 * const lines = [];
 * for await (const { n, text } of splitLines([bytes], "x.jsonl")) lines.push(`${n}:${text}`);
 * console.log(lines); // ["1:a", "2:bc", "3:", "4:d"]
 * ```
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  name: string,
): AsyncGenerator<Line> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let n = 0;
  const finish = (tail: Uint8Array): Line => {
    let bytes = tail;
    if (pending.length > 0) {
      bytes = new Uint8Array(pendingBytes + tail.length);
      let at = 0;
      for (const piece of pending) {
        bytes.set(piece, at);
        at += piece.length;
      }
      bytes.set(tail, at);
      pending = [];
      pendingBytes = 0;
    }
    n++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    try {
      return { n, text: decoder.decode(bytes.subarray(0, end)) };
    } catch (cause) {
      throw new InputFormatError(name, `line ${n} is not UTF-8 text`, {
        cause,
      });
    }
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const at = chunk.indexOf(NEWLINE, start);
      if (at === -1) {
        if (start < chunk.length) {
          // Copied: a stream may reuse its buffer for the next chunk.
          const rest = chunk.slice(start);
          pending.push(rest);
          pendingBytes += rest.length;
        }
        break;
      }
      yield finish(chunk.subarray(start, at));
      start = at + 1;
    }
  }
  if (pending.length > 0) yield finish(new Uint8Array(0));
}
