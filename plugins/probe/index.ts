// AssemblyScript has no `import type`, so this Deno lint rule cannot be met here.
// deno-lint-ignore-file verbatim-module-syntax
/**
 * probe: a test fixture, not an example to copy. Its one export, `run`,
 * takes `{"op":..., ...}` and performs exactly one PDK call, answering what
 * the PDK returned as JSON, so tests can check every PDK function against a
 * real host (and a deliberately misbehaving one) from Deno.
 *
 * Bytes travel as lowercase hex (`hex` fields) so tests can send values
 * that are not UTF-8.
 *
 * @module
 */
import {
  Cache,
  config,
  Counter,
  getCache,
  getStore,
  getVar,
  inputString,
  JsonKind,
  JsonValue,
  ListPage,
  listStore,
  log,
  LogLevel,
  outputString,
  parse,
  removeVar,
  Reply,
  setCache,
  setError,
  setStore,
  setVar,
  Store,
  SupGet,
  utf8,
} from "../pdk/index";

const HEX = "0123456789abcdef";

function toHex(bytes: Uint8Array): string {
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    parts[i] = HEX.charAt(bytes[i] >> 4) + HEX.charAt(bytes[i] & 15);
  }
  return parts.join("");
}

function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = u8(
      (HEX.indexOf(text.charAt(2 * i)) << 4) |
        HEX.indexOf(text.charAt(2 * i + 1)),
    );
  }
  return out;
}

function str(cmd: JsonValue, key: string): string {
  const v = cmd.getString(key);
  if (v === null) abort("probe: missing string field " + key);
  return v!;
}

function int(cmd: JsonValue, key: string, fallback: i64): i64 {
  const v = cmd.get(key);
  return v === null ? fallback : i64(v.asNumber());
}

function optString(cmd: JsonValue, key: string): string | null {
  return cmd.getString(key);
}

/** Value bytes of a command: `hex` when given, else the UTF-8 of `value`. */
function valueOf(cmd: JsonValue): Uint8Array {
  const h = cmd.getString("hex");
  return h !== null ? fromHex(h) : utf8(str(cmd, "value"));
}

function reply(r: Reply): JsonValue {
  const status = r.isError ? "error" : r.hit ? "hit" : "miss";
  const out = JsonValue.object().set("status", JsonValue.string(status));
  if (r.isError) out.set("error", JsonValue.string(r.error!));
  else out.set("hex", JsonValue.string(toHex(r.payload)));
  return out;
}

function page(p: ListPage): JsonValue {
  const out = JsonValue.object();
  if (p.error !== null) return out.set("error", JsonValue.string(p.error!));
  out.set("keys", JsonValue.stringArray(p.keys));
  out.set(
    "cursor",
    p.cursor === null ? JsonValue.null() : JsonValue.string(p.cursor!),
  );
  return out;
}

function counter(c: Counter): JsonValue {
  if (c.error !== null) {
    return JsonValue.object().set("error", JsonValue.string(c.error!));
  }
  return JsonValue.object().set("value", JsonValue.number(f64(c.value)));
}

function supGet(r: SupGet): JsonValue {
  const out = JsonValue.object().set("found", JsonValue.bool(r.found));
  out.set("value", JsonValue.string(r.value));
  out.set(
    "error",
    r.error === null ? JsonValue.null() : JsonValue.string(r.error!),
  );
  return out;
}

function supSet(err: string | null): JsonValue {
  return JsonValue.object().set(
    "error",
    err === null ? JsonValue.null() : JsonValue.string(err),
  );
}

function dispatch(op: string, cmd: JsonValue): JsonValue {
  if (op == "cache_get") return reply(Cache.get(str(cmd, "key")));
  if (op == "cache_set") {
    return reply(Cache.set(str(cmd, "key"), valueOf(cmd), int(cmd, "ttl", 0)));
  }
  if (op == "cache_delete") return reply(Cache.delete(str(cmd, "key")));
  if (op == "cache_has") return reply(Cache.has(str(cmd, "key")));
  if (op == "cache_list") {
    return page(
      Cache.list(
        str(cmd, "prefix"),
        int(cmd, "limit", 0),
        optString(cmd, "cursor"),
      ),
    );
  }
  if (op == "cache_increment") {
    return counter(Cache.increment(str(cmd, "key"), int(cmd, "by", 1)));
  }
  if (op == "store_get") return reply(Store.get(str(cmd, "key")));
  if (op == "store_set") return reply(Store.set(str(cmd, "key"), valueOf(cmd)));
  if (op == "store_delete") return reply(Store.delete(str(cmd, "key")));
  if (op == "store_list") {
    return page(
      Store.list(
        str(cmd, "prefix"),
        int(cmd, "limit", 0),
        optString(cmd, "cursor"),
      ),
    );
  }
  if (op == "sup_get_cache") return supGet(getCache(str(cmd, "key")));
  if (op == "sup_set_cache") {
    return supSet(setCache(str(cmd, "key"), str(cmd, "value")));
  }
  if (op == "sup_get_store") return supGet(getStore(str(cmd, "key")));
  if (op == "sup_set_store") {
    return supSet(setStore(str(cmd, "key"), str(cmd, "value")));
  }
  if (op == "sup_list_store") {
    const r = listStore(str(cmd, "prefix"));
    const out = JsonValue.object().set("keys", JsonValue.stringArray(r.keys));
    return out.set(
      "error",
      r.error === null ? JsonValue.null() : JsonValue.string(r.error!),
    );
  }
  if (op == "config") {
    const v = config(str(cmd, "key"));
    return JsonValue.object().set(
      "value",
      v === null ? JsonValue.null() : JsonValue.string(v),
    );
  }
  if (op == "var_roundtrip") {
    const key = str(cmd, "key");
    const before = getVar(key);
    setVar(key, valueOf(cmd));
    const after = getVar(key);
    removeVar(key);
    const gone = getVar(key);
    return JsonValue.object()
      .set(
        "before",
        before === null ? JsonValue.null() : JsonValue.string(toHex(before)),
      )
      .set(
        "after",
        after === null ? JsonValue.null() : JsonValue.string(toHex(after)),
      )
      .set("removed", JsonValue.bool(gone === null));
  }
  if (op == "log") {
    log(LogLevel.Info, str(cmd, "message"));
    return JsonValue.object();
  }
  if (op == "json") {
    // Parse the text and serialize it again: tests compare with JSON.parse.
    const parsed = parse(str(cmd, "text"));
    if (!parsed.ok) {
      return JsonValue.object().set("error", JsonValue.string(parsed.error!));
    }
    return JsonValue.object().set("value", parsed.value);
  }
  if (op == "fail") {
    setError(str(cmd, "message"));
    return JsonValue.object();
  }
  if (op == "abort") abort(str(cmd, "message"));
  if (op == "out_of_bounds") {
    const items = new Array<i32>(1);
    return JsonValue.number(f64(items[i32(int(cmd, "index", 5))]));
  }
  return JsonValue.object().set("error", JsonValue.string("unknown op " + op));
}

/** Perform the command in the input; output its JSON result. */
export function run(): i32 {
  const parsed = parse(inputString());
  if (!parsed.ok || parsed.value.kind != JsonKind.Object) {
    setError("probe: input is not a JSON object");
    return 1;
  }
  const cmd = parsed.value;
  const op = str(cmd, "op");
  const result = dispatch(op, cmd);
  if (op == "fail") return 1;
  outputString(result.stringify());
  return 0;
}
