/**
 * sup's own cache and store host functions, as sup's Go PDK calls them
 * (`plugin.GetCache`, `plugin.SetCache`, `Storage().Get/Set/List`). A plugin
 * that uses only these loads unchanged in sup's Go host as well as in
 * sup-cache. Values travel inside JSON strings, so they must be text; use
 * `cache.ts` for bytes, TTLs and the rest.
 *
 * A miss is told apart from an error the way sup's host reports it:
 * `{"success":false,"error":"key not found"}` is a miss (that is the text of
 * the `kv` library's not-found error, and sup-cache's host answers the
 * same); any other `success:false` is an error.
 *
 * @module
 */
import {
  get_cache,
  get_store,
  list_store,
  set_cache,
  set_store,
} from "./user_env";
import { JsonKind, JsonValue, parse } from "./json";
import { allocString, readString } from "./memory";

/** The `error` text sup's host uses for a missing (or expired) key. */
export const SUP_NOT_FOUND = "key not found";

/** Outcome of {@link getCache} / {@link getStore}. */
export class SupGet {
  constructor(
    /** Whether the key holds a live value. */
    public found: bool,
    /** The value ("" unless found; a found value may also be ""). */
    public value: string,
    /** Why the read failed, or `null` for a hit or a plain miss. */
    public error: string | null,
  ) {}
}

/** Outcome of {@link listStore}. */
export class SupList {
  constructor(
    /** Matching keys (empty on error). */
    public keys: Array<string>,
    /** Why listing failed, or `null`. */
    public error: string | null,
  ) {}
}

function decodeGet(handle: u64, what: string): SupGet {
  if (handle == 0) {
    return new SupGet(false, "", what + ": the host returned no reply");
  }
  const parsed = parse(readString(handle));
  if (!parsed.ok || parsed.value.kind != JsonKind.Object) {
    return new SupGet(false, "", what + ": malformed host reply");
  }
  const reply = parsed.value;
  const success = reply.get("success");
  if (success !== null && success.asBool()) {
    const data = reply.get("data");
    // sup's Go host omits "data" when the value is empty (omitempty).
    if (data === null) return new SupGet(true, "", null);
    const text = data.asString();
    if (text === null) {
      return new SupGet(false, "", what + ": malformed host reply");
    }
    return new SupGet(true, text, null);
  }
  const error = reply.getString("error");
  if (error !== null && error == SUP_NOT_FOUND) {
    return new SupGet(false, "", null);
  }
  return new SupGet(
    false,
    "",
    what + " failed: " + (error !== null ? error : "unknown error"),
  );
}

function encodeSet(key: string, value: string): u64 {
  const req = JsonValue.object()
    .set("key", JsonValue.string(key))
    .set("value", JsonValue.string(value));
  return allocString(req.stringify());
}

/** Read `key` from the plugin's cache through sup's `get_cache`. */
export function getCache(key: string): SupGet {
  return decodeGet(get_cache(allocString(key)), "get_cache");
}

/**
 * Write `key` through sup's `set_cache` (expires after the host's default
 * TTL). Returns `null` on success or the failure; sup's host says only that
 * it failed, not why.
 */
export function setCache(key: string, value: string): string | null {
  const code = set_cache(encodeSet(key, value));
  return code == 0 ? null : "set_cache failed with code " + code.toString();
}

/** Read `key` from the plugin's never-expiring store through sup's `get_store`. */
export function getStore(key: string): SupGet {
  return decodeGet(get_store(allocString(key)), "get_store");
}

/** Write `key` to the never-expiring store through sup's `set_store`; `null` on success. */
export function setStore(key: string, value: string): string | null {
  const code = set_store(encodeSet(key, value));
  return code == 0 ? null : "set_store failed with code " + code.toString();
}

/** Keys of the store starting with `prefix`, through sup's `list_store`. */
export function listStore(prefix: string): SupList {
  const handle = list_store(allocString(prefix));
  if (handle == 0) {
    return new SupList([], "list_store: the host returned no reply");
  }
  const parsed = parse(readString(handle));
  if (!parsed.ok || parsed.value.kind != JsonKind.Object) {
    return new SupList([], "list_store: malformed host reply");
  }
  const reply = parsed.value;
  const success = reply.get("success");
  if (success === null || !success.asBool()) {
    const error = reply.getString("error");
    return new SupList(
      [],
      "list_store failed: " + (error !== null ? error : "unknown error"),
    );
  }
  const keys = new Array<string>();
  const list = reply.get("keys"); // omitted by sup's Go host when empty
  if (list !== null) {
    const items = list.asArray();
    for (let i = 0; i < items.length; i++) {
      const k = items[i].asString();
      if (k === null) {
        return new SupList([], "list_store: malformed host reply");
      }
      keys.push(k);
    }
  }
  return new SupList(keys, null);
}
