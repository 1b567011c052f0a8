/**
 * Literal prefix ranges and opaque cursors for `list`.
 *
 * @module
 */
import { checkOptions } from "../check_options.ts";
import { InvalidInputError } from "../errors.ts";
import type { KeyRange, Space } from "../storage/backend.ts";
import type { ListOptions } from "./types.ts";
import { checkKey } from "./validate.ts";

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

const LIST_OPTIONS = ["prefix", "limit", "cursor"] as const;

/**
 * Check `list`/`scan` options and turn them into the storage request: a
 * literal prefix, a page size of 1 to 1,000 (default 100), and where a
 * cursor resumes. Every namespace, local or remote, pages through this.
 */
export function listRange(
  options: ListOptions,
  space: Space,
  ns: string,
  maxKeyBytes: number,
  now: number,
): KeyRange {
  checkOptions(options, LIST_OPTIONS, "list");
  const prefix = options.prefix ?? "";
  if (prefix !== "") checkKey(prefix, maxKeyBytes, "prefix");
  const limit = options.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
    throw new InvalidInputError(
      `limit must be a whole number from 1 to 1,000, got ${String(limit)}`,
    );
  }
  const after = options.cursor === undefined
    ? null
    : decodeCursor(options.cursor);
  // A cursor before the prefix (from another listing) starts at the prefix.
  const resume = after !== null && compareKeys(after, prefix) >= 0;
  return {
    space,
    ns,
    from: resume ? after : prefix,
    exclusive: resume,
    before: prefixEnd(prefix),
    limit,
    now,
  };
}

/** The cursor after a full page, or `null` when the page was the last. */
export function nextCursor<T>(
  items: T[],
  limit: number,
  keyOf: (item: T) => string,
): string | null {
  return items.length === limit
    ? encodeCursor(keyOf(items[items.length - 1]))
    : null;
}

/** Order keys as SQLite does (UTF-8 bytes, i.e. code points), not as UTF-16. */
function compareKeys(a: string, b: string): number {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  for (;;) {
    const p = x.next();
    const q = y.next();
    if (p.done || q.done) return (p.done ? 0 : 1) - (q.done ? 0 : 1);
    const d = p.value.codePointAt(0)! - q.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}
