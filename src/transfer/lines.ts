/**
 * Splitting a byte stream into UTF-8 lines in linear time.
 *
 * Hand-written because nothing maintained fits: `@std/streams`'
 * `TextLineStream` is on JSR only, `node:readline` and npm `split2` re-scan
 * a growing string for every chunk of a long line (quadratic: a 40 MB line
 * took 17.6 s that way), and `it-split` is barely used. Here each byte is
 * searched once, decoded once and copied at most twice (into the pending
 * pieces, then into the joined line), whatever the line length.
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

function concat(pieces: Uint8Array[], size: number): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * The lines of `chunks`, decoded as UTF-8, yielded a chunk's worth at a
 * time (an array per chunk that ends at least one line, so a caller loops
 * over many lines per `await`). Invalid UTF-8 throws
 * {@link InputFormatError} naming `name` and the line. A final line without
 * a newline is yielded too.
 *
 * Each chunk is searched once, backwards, for its last newline; the bytes
 * up to it (with any pending start of a line from earlier chunks) are
 * decoded in one call and split once. A line longer than a chunk waits as
 * pending pieces and is joined once. (A newline byte is never part of a
 * multi-byte UTF-8 sequence, so decoding many lines at once is the same as
 * decoding each.)
 *
 * @example
 * ```ts
 * import { splitLines } from "./lines.ts";
 * const bytes = new TextEncoder().encode("a\r\nbc\n\nd");
 * const lines = [];
 * for await (const batch of splitLines([bytes], "x.jsonl")) {
 *   for (const { n, text } of batch) lines.push(`${n}:${text}`);
 * }
 * console.log(lines); // ["1:a", "2:bc", "3:", "4:d"]
 * ```
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  name: string,
): AsyncGenerator<Line[]> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let n = 0;
  const lines = (tail: Uint8Array): Line[] => {
    pending.push(tail);
    const region = concat(pending, pendingBytes + tail.length);
    pending = [];
    pendingBytes = 0;
    let text: string;
    try {
      text = decoder.decode(region);
    } catch (cause) {
      throw badLine(region, n, name, cause);
    }
    return text.split("\n").map((t) => ({
      n: ++n,
      text: t.endsWith("\r") ? t.slice(0, -1) : t,
    }));
  };
  for await (const chunk of chunks) {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last !== -1) yield lines(chunk.subarray(0, last));
    if (last + 1 < chunk.length) {
      // Copied: a stream may reuse its buffer for the next chunk.
      const rest = chunk.slice(last + 1);
      pending.push(rest);
      pendingBytes += rest.length;
    }
  }
  if (pending.length > 0) yield lines(new Uint8Array(0));
}

/** The error naming the first line of `region` that is not UTF-8. */
function badLine(
  region: Uint8Array,
  before: number,
  name: string,
  cause: unknown,
): InputFormatError {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let n = before;
  for (let start = 0;;) {
    const at = region.indexOf(NEWLINE, start);
    const end = at === -1 ? region.length : at;
    n++;
    try {
      decoder.decode(region.subarray(start, end));
    } catch {
      break;
    }
    if (at === -1) break;
    start = at + 1;
  }
  return new InputFormatError(name, `line ${n} is not UTF-8 text`, { cause });
}
