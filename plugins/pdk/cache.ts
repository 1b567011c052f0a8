// AssemblyScript has no `import type`, so this Deno lint rule cannot be met here.
// deno-lint-ignore-file verbatim-module-syntax
/**
 * sup-cache's binary-safe ABI: raw bytes in and out, per-item TTL, delete,
 * has, paged listing by prefix, atomic increment, and errors a plugin can
 * tell apart from a miss. `Cache` is the plugin's expiring cache; `Store` is
 * its never-expiring keyspace. These imports exist only in sup-cache's host:
 * a plugin that calls them will not load in sup's Go host (use `sup_host.ts`
 * there).
 *
 * Wire format of every reply block: byte 0 is the status (0 miss / false /
 * absent, 1 ok / hit / true, 2 error), then the payload (the value on a hit,
 * a UTF-8 message on an error).
 *
 * @module
 */
import {
  sup_cache_delete,
  sup_cache_get,
  sup_cache_has,
  sup_cache_increment,
  sup_cache_list,
  sup_cache_set,
  sup_store_delete,
  sup_store_get,
  sup_store_list,
  sup_store_set,
} from "./user_env";
import { JsonKind, JsonValue, parse, ParseResult } from "./json";
import { allocBytes, allocString, fromUtf8, readBytes, utf8 } from "./memory";

/** `ttlMs` for "use the cache's default TTL" (sup-cache's default is one hour). */
export const TTL_DEFAULT: i64 = 0;
/** `ttlMs` for "never expires". */
export const TTL_NEVER: i64 = -1;

/** Reply status bytes of the ABI. */
export enum Status {
  /** Miss, false, or absent. */
  Miss = 0,
  /** Ok, hit, or true. */
  Ok = 1,
  /** The host refused or failed; the payload says why. */
  Error = 2,
}

/** One decoded reply block. Check {@link isError} before trusting `hit`/`miss`. */
export class Reply {
  constructor(
    /** The status byte. */
    public status: Status,
    /** Value bytes on a hit, the message on an error, else empty. */
    public payload: Uint8Array,
  ) {}

  /** Hit / ok / true. */
  get hit(): bool {
    return this.status == Status.Ok;
  }

  /** Miss / false / absent (not an error). */
  get miss(): bool {
    return this.status == Status.Miss;
  }

  /** Whether the host reported an error. */
  get isError(): bool {
    return this.status == Status.Error;
  }

  /** The error message, or `null` when the status is not an error. */
  get error(): string | null {
    return this.isError ? fromUtf8(this.payload) : null;
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return fromUtf8(this.payload);
  }

  /** The payload parsed as JSON. */
  json(): ParseResult {
    return parse(this.text());
  }
}

function errorReply(message: string): Reply {
  return new Reply(Status.Error, utf8(message));
}

/** Decode the reply block behind `handle`; malformed replies become errors, never hits. */
export function decodeReply(handle: u64, op: string): Reply {
  if (handle == 0) return errorReply(op + ": the host returned handle 0");
  const block = readBytes(handle);
  if (block.length == 0) {
    return errorReply(op + ": the host returned an empty reply");
  }
  const status = block[0];
  if (status > 2) {
    return errorReply(op + ": unknown reply status " + status.toString());
  }
  const payload = block.subarray(1);
  if (status == Status.Error) {
    return new Reply(Status.Error, utf8(op + ": " + fromUtf8(payload)));
  }
  return new Reply(<Status> status, payload);
}

/** One page of keys from `list`. */
export class ListPage {
  constructor(
    /** Keys in the host's stable order. */
    public keys: Array<string>,
    /** Pass to the next `list` call; `null` on the last page. */
    public cursor: string | null,
    /** Why listing failed, or `null`. */
    public error: string | null,
  ) {}
}

function decodeList(reply: Reply, op: string): ListPage {
  if (reply.isError) return new ListPage([], null, reply.error);
  if (!reply.hit) return new ListPage([], null, op + ": unexpected miss reply");
  const parsed = reply.json();
  const bad = new ListPage([], null, op + ": malformed list payload");
  if (!parsed.ok || parsed.value.kind != JsonKind.Object) return bad;
  const keysValue = parsed.value.get("keys");
  if (keysValue === null || keysValue.kind != JsonKind.Array) return bad;
  const keys = new Array<string>();
  const items = keysValue.asArray();
  for (let i = 0; i < items.length; i++) {
    const k = items[i].asString();
    if (k === null) return bad;
    keys.push(k);
  }
  const cursorValue = parsed.value.get("cursor");
  let cursor: string | null = null;
  if (cursorValue !== null && !cursorValue.isNull) {
    cursor = cursorValue.asString();
    if (cursor === null) return bad;
  }
  return new ListPage(keys, cursor, null);
}

/** Result of {@link Cache.increment}. */
export class Counter {
  constructor(
    /** The value after the increment (0 on error). */
    public value: i64,
    /** Why it failed (for example the stored value is not an integer), or `null`. */
    public error: string | null,
  ) {}
}

function parseDecimal(text: string): i64 {
  // Caller guarantees text matches -?[0-9]+ and fits the host's range.
  let neg = false;
  let i = 0;
  if (text.charCodeAt(0) == 0x2d) {
    neg = true;
    i = 1;
  }
  let v: i64 = 0;
  for (; i < text.length; i++) v = v * 10 + i64(text.charCodeAt(i) - 0x30);
  return neg ? -v : v;
}

function isDecimal(text: string): bool {
  const n = text.length;
  const start = n > 0 && text.charCodeAt(0) == 0x2d ? 1 : 0;
  if (n == start || n - start > 18) return false; // 18 digits always fit an i64
  for (let i = start; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function cursorHandle(cursor: string | null): u64 {
  return cursor === null ? 0 : allocString(cursor);
}

/** The plugin's expiring cache (its own namespace; other plugins cannot see it). */
export class Cache {
  /** Read `key`: `hit` with the value bytes, `miss`, or `isError`. */
  static get(key: string): Reply {
    return decodeReply(sup_cache_get(allocString(key)), "sup_cache_get");
  }

  /**
   * Write bytes. `ttlMs`: {@link TTL_DEFAULT} (0) for the cache's default,
   * {@link TTL_NEVER} (-1) for never, or a positive number of milliseconds.
   */
  static set(key: string, value: Uint8Array, ttlMs: i64 = TTL_DEFAULT): Reply {
    return decodeReply(
      sup_cache_set(allocString(key), allocBytes(value), ttlMs),
      "sup_cache_set",
    );
  }

  /** {@link set} with UTF-8 text. */
  static setString(
    key: string,
    value: string,
    ttlMs: i64 = TTL_DEFAULT,
  ): Reply {
    return Cache.set(key, utf8(value), ttlMs);
  }

  /** {@link set} with a JSON value serialized as text. */
  static setJson(
    key: string,
    value: JsonValue,
    ttlMs: i64 = TTL_DEFAULT,
  ): Reply {
    return Cache.setString(key, value.stringify(), ttlMs);
  }

  /** Remove `key`: `hit` when it existed, `miss` when it was absent. */
  static delete(key: string): Reply {
    return decodeReply(sup_cache_delete(allocString(key)), "sup_cache_delete");
  }

  /** Whether `key` holds a live value: `hit` true, `miss` false. */
  static has(key: string): Reply {
    return decodeReply(sup_cache_has(allocString(key)), "sup_cache_has");
  }

  /**
   * One page of live keys starting with `prefix` (matched literally).
   * `limit` 0 means the host's default (100); pass the previous page's
   * cursor to continue.
   */
  static list(
    prefix: string,
    limit: i64 = 0,
    cursor: string | null = null,
  ): ListPage {
    const reply = decodeReply(
      sup_cache_list(allocString(prefix), limit, cursorHandle(cursor)),
      "sup_cache_list",
    );
    return decodeList(reply, "sup_cache_list");
  }

  /**
   * Atomically add `by` to the decimal integer at `key` (absent counts as 0)
   * and return the new value. Safe when several hosts share one data
   * directory, unlike a get-then-set.
   */
  static increment(key: string, by: i64 = 1): Counter {
    const reply = decodeReply(
      sup_cache_increment(allocString(key), by),
      "sup_cache_increment",
    );
    if (reply.isError) return new Counter(0, reply.error);
    const text = reply.text();
    if (!reply.hit || !isDecimal(text)) {
      return new Counter(
        0,
        "sup_cache_increment: malformed reply '" + text + "'",
      );
    }
    return new Counter(parseDecimal(text), null);
  }
}

/** The plugin's never-expiring store (a keyspace separate from {@link Cache}). */
export class Store {
  /** Read `key`: `hit` with the value bytes, `miss`, or `isError`. */
  static get(key: string): Reply {
    return decodeReply(sup_store_get(allocString(key)), "sup_store_get");
  }

  /** Write bytes that never expire. */
  static set(key: string, value: Uint8Array): Reply {
    return decodeReply(
      sup_store_set(allocString(key), allocBytes(value)),
      "sup_store_set",
    );
  }

  /** {@link set} with UTF-8 text. */
  static setString(key: string, value: string): Reply {
    return Store.set(key, utf8(value));
  }

  /** {@link set} with a JSON value serialized as text. */
  static setJson(key: string, value: JsonValue): Reply {
    return Store.setString(key, value.stringify());
  }

  /** Remove `key`: `hit` when it existed, `miss` when it was absent. */
  static delete(key: string): Reply {
    return decodeReply(sup_store_delete(allocString(key)), "sup_store_delete");
  }

  /** One page of keys starting with `prefix`; see {@link Cache.list}. */
  static list(
    prefix: string,
    limit: i64 = 0,
    cursor: string | null = null,
  ): ListPage {
    const reply = decodeReply(
      sup_store_list(allocString(prefix), limit, cursorHandle(cursor)),
      "sup_store_list",
    );
    return decodeList(reply, "sup_store_list");
  }
}
