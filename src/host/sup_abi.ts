/**
 * The host functions of sup's Go host (`bot/handlers/wasm_host_functions.go`
 * in rubiojr/sup), answer for answer, so sup plugins run unchanged. The
 * differences are deliberate: handles are used as full 64-bit Extism
 * handles (sup's `DecodeU32` truncates them, which breaks on the JS SDK),
 * each plugin sees only its own namespace, and `read_file`/`list_directory`
 * are confined to the plugin's data directory.
 *
 * Shapes (Go `encoding/json`, fields in this order, empty ones omitted):
 * - `get_cache(i64) -> i64`, `get_store(i64) -> i64`:
 *   `{"success":true,"data":"..."}` or `{"success":false,"error":"..."}`;
 *   a missing key answers `{"success":false,"error":"key not found"}`.
 * - `set_cache(i64) -> i32`, `set_store(i64) -> i32`: input
 *   `{"key":"...","value":"..."}`; 0 stored, 1 anything else (nothing stored).
 * - `list_store(i64) -> i64`: `{"success":true,"keys":[...]}`.
 * - `read_file(i64) -> i64`: the raw file bytes, or an empty block on failure.
 * - `list_directory(i64) -> i64`: `{"success":true,"files":[...]}`.
 * - `send_image(i64) -> i32`: 1 (failure) unless the caller supplies one.
 * - `exec_command(i64) -> i64`: `{"success":false,"exit_code":0,"error":"..."}`
 *   unless the caller supplies one.
 *
 * @module
 */
import type { Namespace } from "../cache/async_namespace.ts";
import type { SyncNamespace } from "../cache/types.ts";
import {
  decodeKey,
  give,
  type HostCallContext,
  type HostFunction,
  type HostState,
  lenientDecoder,
  messageOf,
  take,
} from "./context.ts";
import { PluginMemoryError } from "./errors.ts";
import { FileAccessError, listConfined, readConfined } from "./files.ts";
import { goJsonObject, plainDataReply } from "./go_json.ts";
import type { Keyspace } from "../cache/types.ts";

/** sup's answer for a missing key: the text of `kv.ErrKeyNotFound`. */
export const KEY_NOT_FOUND = "key not found";

function failure(cx: HostCallContext, state: HostState, error: string): bigint {
  return give(
    cx,
    state,
    goJsonObject([["success", false], ["error", error, true]]),
  );
}

function getter(
  state: HostState,
  which: Keyspace,
  pick: (s: HostState) => SyncNamespace,
): HostFunction {
  const label = which === "cache" ? "Cache" : "Store";
  return (cx, handle) => {
    if (state.probing) {
      return failure(cx, state, `${label} not available in temp plugin`);
    }
    const key = take(cx, handle);
    if (key === null) return failure(cx, state, "Failed to read key");
    try {
      return getReply(
        cx,
        state,
        pick(state).get(decodeKey(key, lenientDecoder)),
      );
    } catch (err) {
      return getFailed(cx, state, which, err);
    }
  };
}

/** sup's answer to `get_cache` / `get_store` for `value` (`null`: a miss). */
function getReply(
  cx: HostCallContext,
  state: HostState,
  value: Uint8Array | null,
): bigint {
  if (value === null) return failure(cx, state, KEY_NOT_FOUND);
  return give(
    cx,
    state,
    plainDataReply(value) ??
      goJsonObject([["success", true], ["data", value, true]]),
  );
}

/** A failed get: logged and answered, except past the memory cap (a trap). */
function getFailed(
  cx: HostCallContext,
  state: HostState,
  which: Keyspace,
  err: unknown,
): bigint {
  if (err instanceof PluginMemoryError) throw err;
  state.logger.warn(
    `plugin "${state.plugin}": get_${which} failed: ${messageOf(err)}`,
  );
  return failure(cx, state, messageOf(err));
}

/** The `{"key","value"}` request of set_cache/set_store, or the refusal (1). */
function setRequest(
  cx: HostCallContext,
  handle: bigint,
  refuse: (why: string) => 1,
): { key: string; value: string } | 1 {
  const raw = take(cx, handle);
  if (raw === null) return refuse("the request handle is not a live block");
  let req: unknown;
  try {
    req = JSON.parse(lenientDecoder.decode(raw));
  } catch (err) {
    if (err instanceof PluginMemoryError) throw err;
    return refuse(`the request is not JSON (${messageOf(err)})`);
  }
  if (typeof req !== "object" || req === null || Array.isArray(req)) {
    return refuse(
      'the request is not a JSON object {"key":"...","value":"..."}',
    );
  }
  const { key, value } = req as Record<string, unknown>;
  if (typeof key !== "string") {
    return refuse('"key" is missing or not a string');
  }
  if (typeof value !== "string") {
    return refuse('"value" is missing or not a string');
  }
  return { key, value };
}

function refuser(state: HostState, which: Keyspace) {
  return (why: string): 1 => {
    state.logger.warn(
      `plugin "${state.plugin}": set_${which} refused: ${why}`,
    );
    return 1;
  };
}

function setter(
  state: HostState,
  which: Keyspace,
  pick: (s: HostState) => SyncNamespace,
): HostFunction {
  const refuse = refuser(state, which);
  return (cx, handle) => {
    if (state.probing) return 0;
    const req = setRequest(cx, handle, refuse);
    if (req === 1) return 1;
    try {
      pick(state).set(req.key, req.value);
      return 0;
    } catch (err) {
      if (err instanceof PluginMemoryError) throw err;
      return refuse(messageOf(err));
    }
  };
}

/**
 * get_cache / set_cache / get_store / set_store / list_store for a cache
 * on Redis: the same answers, from `async` functions (the plugin suspends
 * while the host waits for the network; the call's deadline still holds).
 */
function remoteCacheFunctions(
  state: HostState,
  remote: { cache: Namespace; store: Namespace },
): Record<string, HostFunction> {
  const get = (which: Keyspace): HostFunction => {
    const label = which === "cache" ? "Cache" : "Store";
    return async (cx, handle) => {
      if (state.probing) {
        return failure(cx, state, `${label} not available in temp plugin`);
      }
      const key = take(cx, handle);
      if (key === null) return failure(cx, state, "Failed to read key");
      try {
        const value = await remote[which].get(decodeKey(key, lenientDecoder));
        return getReply(cx, state, value);
      } catch (err) {
        return getFailed(cx, state, which, err);
      }
    };
  };
  const set = (which: Keyspace): HostFunction => {
    const refuse = refuser(state, which);
    return async (cx, handle) => {
      if (state.probing) return 0;
      const req = setRequest(cx, handle, refuse);
      if (req === 1) return 1;
      try {
        await remote[which].set(req.key, req.value);
        return 0;
      } catch (err) {
        if (err instanceof PluginMemoryError) throw err;
        return refuse(messageOf(err));
      }
    };
  };
  const list: HostFunction = async (cx, handle) => {
    if (state.probing) {
      return failure(cx, state, "list_store not available in temp plugin");
    }
    const prefix = take(cx, handle);
    if (prefix === null) return failure(cx, state, "failed to read prefix");
    try {
      const keys = await Array.fromAsync(
        remote.store.list({
          prefix: lenientDecoder.decode(prefix),
          limit: 1000,
        }),
      );
      return give(
        cx,
        state,
        goJsonObject([["success", true], ["keys", keys, true]]),
      );
    } catch (err) {
      if (err instanceof PluginMemoryError) throw err;
      return failure(cx, state, messageOf(err));
    }
  };
  return {
    get_cache: get("cache"),
    set_cache: set("cache"),
    get_store: get("store"),
    set_store: set("store"),
    list_store: list,
  };
}

function listStore(state: HostState): HostFunction {
  return (cx, handle) => {
    if (state.probing) {
      return failure(cx, state, "list_store not available in temp plugin");
    }
    const prefix = take(cx, handle);
    if (prefix === null) return failure(cx, state, "failed to read prefix");
    try {
      const keys = [
        ...state.store.list({
          prefix: lenientDecoder.decode(prefix),
          limit: 1000,
        }),
      ];
      return give(
        cx,
        state,
        goJsonObject([["success", true], ["keys", keys, true]]),
      );
    } catch (err) {
      if (err instanceof PluginMemoryError) throw err;
      return failure(cx, state, messageOf(err));
    }
  };
}

function readFile(state: HostState): HostFunction {
  return (cx, handle) => {
    if (state.probing) return give(cx, state, "");
    const path = take(cx, handle);
    if (path === null) return give(cx, state, "");
    const requested = lenientDecoder.decode(path);
    try {
      if (state.filesDir === null) {
        throw new FileAccessError(
          "this plugin has no data directory (the cache is in memory); pass filesDir to loadPlugin",
        );
      }
      // Never read more than the call may still allocate (plus one byte).
      const maxBytes = Math.max(0, state.maxMemoryBytes - state.allocated);
      return give(
        cx,
        state,
        readConfined(state.filesDir, requested, { maxBytes }),
      );
    } catch (err) {
      if (err instanceof PluginMemoryError) throw err;
      // sup answers an empty block on any failure; the reason goes to the log.
      state.logger.warn(
        `plugin "${state.plugin}": read_file ${
          JSON.stringify(requested)
        } refused: ${messageOf(err)}`,
      );
      return give(cx, state, "");
    }
  };
}

function listDirectory(state: HostState): HostFunction {
  return (cx, handle) => {
    if (state.probing) {
      return give(cx, state, goJsonObject([["success", true]]));
    }
    const path = take(cx, handle);
    if (path === null) return failure(cx, state, "Failed to read path");
    const requested = lenientDecoder.decode(path);
    try {
      if (state.filesDir === null) {
        throw new FileAccessError(
          "this plugin has no data directory (the cache is in memory); pass filesDir to loadPlugin",
        );
      }
      const files = listConfined(state.filesDir, requested);
      return give(
        cx,
        state,
        goJsonObject([["success", true], ["files", files, true]]),
      );
    } catch (err) {
      if (err instanceof PluginMemoryError) throw err;
      state.logger.warn(
        `plugin "${state.plugin}": list_directory ${
          JSON.stringify(requested)
        } refused: ${messageOf(err)}`,
      );
      const message = messageOf(err);
      return failure(
        cx,
        state,
        message === "Path is not a directory"
          ? message
          : `Directory not found: ${message}`,
      );
    }
  };
}

function sendImage(state: HostState): HostFunction {
  return () => {
    state.logger.warn(
      `plugin "${state.plugin}": send_image is not available; pass hostFunctions.send_image to loadPlugin to provide it`,
    );
    return 1;
  };
}

function execCommand(state: HostState): HostFunction {
  return (cx) => {
    return give(
      cx,
      state,
      goJsonObject([
        ["success", false],
        ["exit_code", 0],
        [
          "error",
          "exec_command is not available: the host did not pass hostFunctions.exec_command to loadPlugin",
          true,
        ],
      ]),
    );
  };
}

/**
 * sup's host functions, by name, for the `extism:host/user` import module.
 *
 * @example
 * ```ts
 * import { supHostFunctions } from "./sup_abi.ts";
 * import type { HostState } from "./context.ts";
 * const names = Object.keys(supHostFunctions({} as HostState));
 * console.log(names.includes("get_cache")); // true
 * ```
 */
export function supHostFunctions(
  state: HostState,
): Record<string, HostFunction> {
  return {
    ...(state.remote ? remoteCacheFunctions(state, state.remote) : {
      get_cache: getter(state, "cache", (s) => s.cache),
      set_cache: setter(state, "cache", (s) => s.cache),
      get_store: getter(state, "store", (s) => s.store),
      set_store: setter(state, "store", (s) => s.store),
      list_store: listStore(state),
    }),
    read_file: readFile(state),
    list_directory: listDirectory(state),
    send_image: sendImage(state),
    exec_command: execCommand(state),
  };
}
