/**
 * Literal prefix ranges and opaque cursors for `list`.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/**
 * The smallest string greater than every string that starts with `prefix`,
 * or `null` when there is none. SQLite compares keys as UTF-8 bytes and
 * UTF-8 keeps code point order, so bumping the last code point gives an
 * exact range: `%` and `_` stay literal and the primary key index is used.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix);
  while (points.length > 0) {
    let next = points.pop()!.codePointAt(0)! + 1;
    if (next === 0xd800) next = 0xe000; // surrogates are not characters
    if (next <= 0x10ffff) {
      points.push(String.fromCodePoint(next));
      return points.join("");
    }
  }
  return null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The cursor that continues after `key`: its UTF-8 bytes in base64url. */
export function encodeCursor(key: string): string {
  return encoder.encode(key).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** The key a cursor continues after; a cursor not made here is an error. */
export function decodeCursor(cursor: unknown): string {
  const bad = () =>
    new InvalidInputError(
      `cursor ${
        JSON.stringify(cursor)
      } is not one that list() returned; pass the cursor of the previous page unchanged`,
    );
  if (typeof cursor !== "string" || cursor === "" || cursor.includes("=")) {
    throw bad();
  }
  try {
    // Decoded once; "strict" refuses stray bits in the last group, so each
    // key has exactly one cursor.
    const bytes = Uint8Array.fromBase64(cursor, {
      alphabet: "base64url",
      lastChunkHandling: cursor.length % 4 === 0 ? "strict" : "loose",
    });
    const key = decoder.decode(bytes);
    if (key === "") throw bad();
    return key;
  } catch {
    throw bad();
  }
}
