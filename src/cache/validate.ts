/**
 * Input checks shared by every cache operation. Each returns the bytes it
 * measured so callers never encode twice.
 *
 * @module
 */
import { InvalidInputError, LimitExceededError } from "../errors.ts";

const encoder = new TextEncoder();

/** UTF-8 byte length without allocating, for the common short key. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
    // A surrogate pair is two UTF-16 units and four UTF-8 bytes: 1 + 1 each.
  }
  return n;
}

/** Check a key and return its UTF-8 size in bytes. */
export function checkKey(key: unknown, maxBytes: number, what = "key"): number {
  if (typeof key !== "string") {
    throw new InvalidInputError(
      `${what} must be a string, got ${key === null ? "null" : typeof key}`,
    );
  }
  if (key.length === 0) {
    throw new InvalidInputError(`${what} must not be empty`);
  }
  if (!key.isWellFormed()) {
    throw new InvalidInputError(
      `${what} contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the string (String.prototype.toWellFormed)`,
    );
  }
  if (key.includes("\0")) {
    throw new InvalidInputError(
      `${what} contains a NUL character (\\0), which SQLite text cannot carry through every driver; use another separator`,
    );
  }
  const size = utf8Length(key);
  if (size > maxBytes) throw new LimitExceededError(what, size, maxBytes);
  return size;
}

/** Check a value and return it as bytes (strings become UTF-8). */
export function toValueBytes(value: unknown, maxBytes: number): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = value;
  else if (typeof value === "string") {
    if (!value.isWellFormed()) {
      throw new InvalidInputError(
        "value contains a lone UTF-16 surrogate, which has no UTF-8 form; pass bytes or a well-formed string",
      );
    }
    bytes = encoder.encode(value);
  } else {
    throw new InvalidInputError(
      `value must be a string or Uint8Array, got ${
        value === null ? "null" : typeof value
      }`,
    );
  }
  if (bytes.length > maxBytes) {
    throw new LimitExceededError("value", bytes.length, maxBytes);
  }
  return bytes;
}

/** Check a TTL (positive whole ms, or `null` for never). */
export function checkTtl(ttl: unknown, what = "ttl"): number | null {
  if (ttl === null) return null;
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new InvalidInputError(
      `${what} must be a positive whole number of milliseconds or null (never expires), got ${
        String(ttl)
      }`,
    );
  }
  return ttl;
}
