/**
 * Input checks shared by every cache operation. Each returns the bytes it
 * measured so callers never encode twice.
 *
 * @module
 */
import { checkOptions } from "../check_options.ts";
import {
  InvalidInputError,
  LimitExceededError,
  QuotaExceededError,
} from "../errors.ts";
import type { BatchWrite, Quota } from "../storage/backend.ts";
import type { ResolvedLimits } from "./options.ts";
import type { CacheValue, SetOptions } from "./types.ts";

const encoder = new TextEncoder();

/**
 * UTF-8 byte length of a key without allocating, or -1 for a lone
 * surrogate and -2 for a NUL; one pass, since this runs on every call.
 */
function keyBytes(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) return -2;
      continue;
    }
    if (c < 0x800) n += 1;
    else if (c < 0xd800 || c > 0xdfff) n += 2;
    else if (
      // A surrogate pair is two UTF-16 units and four UTF-8 bytes.
      c <= 0xdbff && i + 1 < s.length &&
      (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      n += 2;
      i++;
    } else return -1;
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
  const size = keyBytes(key);
  if (size === -1) {
    throw new InvalidInputError(
      `${what} contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the string (String.prototype.toWellFormed)`,
    );
  }
  if (size === -2) {
    throw new InvalidInputError(
      `${what} contains a NUL character (\\0), which SQLite text cannot carry through every driver; use another separator`,
    );
  }
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

/**
 * The latest expiry that can be stored: the last millisecond a JavaScript
 * `Date` can hold (+275760-09-13). Anything later would be written fine by
 * SQLite but break every reader that turns it into a date (the CLI's
 * listing and export), so it is refused at the door.
 */
export const MAX_EXPIRES_AT = 8_640_000_000_000_000;

const fmt = (n: number) => n.toLocaleString("en-US");

/**
 * Check a TTL (positive whole ms, or `null` for never); `now` is the
 * cache's clock, which decides how far away the last valid instant is.
 */
export function checkTtl(
  ttl: unknown,
  what = "ttl",
  now: number,
): number | null {
  if (ttl === null) return null;
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new InvalidInputError(
      `${what} must be a positive whole number of milliseconds or null (never expires), got ${
        String(ttl)
      }`,
    );
  }
  if (ttl > MAX_EXPIRES_AT - now) {
    throw new InvalidInputError(
      `${what} is ${fmt(ttl)} ms, out of range: it must be from 1 to ${
        fmt(MAX_EXPIRES_AT - now)
      } ms (ending at most at ${
        fmt(MAX_EXPIRES_AT)
      } ms since the epoch, the last instant a JavaScript Date can hold), or null for never`,
    );
  }
  return ttl;
}

/** The expiry `ttl` ms after `now`, checked to be a valid `Date`. */
export function expiryFromTtl(ttl: number, now: number): number {
  const at = now + ttl;
  if (at > MAX_EXPIRES_AT) checkTtl(ttl, "ttl", now);
  return at;
}

/** Check an absolute expiry (whole ms since the epoch within `Date`'s range, or `null`). */
export function checkExpiresAt(at: unknown, what = "expiresAt"): number | null {
  if (at === null) return null;
  if (
    typeof at !== "number" || !Number.isSafeInteger(at) || at < 0 ||
    at > MAX_EXPIRES_AT
  ) {
    throw new InvalidInputError(
      `${what} must be a whole number of milliseconds since the epoch from 0 to ${
        fmt(MAX_EXPIRES_AT)
      } (the last instant a JavaScript Date can hold), or null (never expires), got ${
        String(at)
      }`,
    );
  }
  return at;
}

/** The option names `set` (and each `setMany` item) takes. */
export const SET_OPTIONS = ["ttl", "expiresAt"] as const;

/**
 * When an entry written at `now` with `options` expires: its `ttl`
 * (relative) or `expiresAt` (absolute), else `defaultTtl`; `null` is never.
 * Every namespace, local or remote, asks this one function.
 */
export function expiryOf(
  options: SetOptions | undefined,
  defaultTtl: number | null,
  now: number,
): number | null {
  if (options === undefined) {
    return defaultTtl === null ? null : expiryFromTtl(defaultTtl, now);
  }
  checkOptions(options, SET_OPTIONS, "set");
  if (options.expiresAt !== undefined) {
    if (options.ttl !== undefined) {
      throw new InvalidInputError(
        "give ttl (relative) or expiresAt (absolute), not both",
      );
    }
    return checkExpiresAt(options.expiresAt);
  }
  const ttl = options.ttl === undefined
    ? defaultTtl
    : checkTtl(options.ttl, "ttl", now);
  return ttl === null ? null : expiryFromTtl(ttl, now);
}

/**
 * Check every item of a `setMany`-style batch before anything is written,
 * and turn it into backend writes; `size` is their keys and values in bytes.
 */
export function checkBatch(
  entries: Iterable<
    readonly [key: string, value: CacheValue, options?: SetOptions]
  >,
  method: string,
  limits: ResolvedLimits,
  defaultTtl: number | null,
  now: number,
): { writes: BatchWrite[]; size: number } {
  if (
    entries === null || typeof entries !== "object" ||
    typeof (entries as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new InvalidInputError(
      `${method} takes an iterable of [key, value, options?] items, e.g. [["a", "1"], ["b", "2", { ttl: 60_000 }]] or a Map`,
    );
  }
  const writes: BatchWrite[] = [];
  let size = 0;
  let i = 0;
  for (const item of entries) {
    if (!Array.isArray(item) || item.length < 2 || item.length > 3) {
      throw new InvalidInputError(
        `${method} item ${i} must be [key, value] or [key, value, options], got ${
          Array.isArray(item) ? `${item.length} elements` : typeof item
        }; nothing was written`,
      );
    }
    const [key, value, options] = item;
    const bytes = toValueBytes(value, limits.maxValueBytes);
    const itemSize = checkKey(key, limits.maxKeyBytes) + bytes.length;
    size += itemSize;
    writes.push({
      key,
      value: bytes,
      expiresAt: expiryOf(options, defaultTtl, now),
      size: itemSize,
    });
    i++;
  }
  return { writes, size };
}

/**
 * The error for a write that would pass a namespace's quota, with what it
 * holds, what the write needs and what to do about it.
 */
export function quotaError(
  name: string,
  used: { keys: number; bytes: number },
  size: number,
  quota: Quota | null,
): QuotaExceededError {
  const n = (x: number) => x.toLocaleString("en-US");
  return new QuotaExceededError(
    name,
    `namespace "${name}" holds ${n(used.keys)} keys and ${
      n(used.bytes)
    } bytes; writing ${n(size)} bytes would pass its quota of ${
      n(quota?.maxKeys ?? 0)
    } keys / ${
      n(quota?.maxBytes ?? 0)
    } bytes: delete keys, use shorter TTLs, or raise limits.maxKeys / limits.maxBytes`,
  );
}
