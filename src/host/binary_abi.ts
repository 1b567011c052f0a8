/**
 * The binary-safe host ABI for new plugins (the PDK in `plugins/pdk` speaks
 * it). Import module `extism:host/user`; arguments are i64 Extism handles
 * unless noted. Every function returns the handle of a reply block (never 0):
 * byte 0 is the status, the rest the payload.
 *
 * | status | meaning | payload |
 * | --- | --- | --- |
 * | 0 | miss / false / absent | empty |
 * | 1 | ok / hit / true | the value bytes, or a function-specific payload |
 * | 2 | error | a UTF-8 message naming the function and the reason |
 *
 * - `sup_cache_get(key)`: 1 + value bytes, or 0.
 * - `sup_cache_set(key, value, ttl_ms: i64)`: 1. `ttl_ms` 0 = the cache's
 *   default TTL, -1 = never expires, > 0 = milliseconds; else an error.
 * - `sup_cache_delete(key)`: 1 deleted, 0 was absent.
 * - `sup_cache_has(key)`: 1 or 0.
 * - `sup_cache_list(prefix, limit: i64, cursor)`: 1 + UTF-8 JSON
 *   `{"keys":[...],"cursor":"..."|null}`. Cursor handle 0 = first page;
 *   limit 0 = 100, at most 1,000.
 * - `sup_cache_increment(key, by: i64)`: 1 + the new value in decimal ASCII;
 *   an error if the stored value is not a decimal integer (it is left as is).
 * - `sup_store_get`, `sup_store_set(key, value)`, `sup_store_delete`,
 *   `sup_store_list`: the same on the never-expiring store keyspace.
 *
 * Keys are UTF-8 (invalid UTF-8 is an error, never mangled); values are any
 * bytes, including none.
 *
 * @module
 */
import type { Namespace } from "../cache/async_namespace.ts";
import type { ListOptions, SetOptions, SyncNamespace } from "../cache/types.ts";
import {
  decodeKey,
  give,
  type HostCallContext,
  type HostFunction,
  type HostState,
  messageOf,
  strictDecoder,
  take,
} from "./context.ts";
import { PluginMemoryError } from "./errors.ts";

/** Reply status byte: miss, false or absent. */
export const MISS = 0;
/** Reply status byte: ok, hit or true. */
export const OK = 1;
/** Reply status byte: error; the payload is a UTF-8 message. */
export const ERROR = 2;

const encoder = new TextEncoder();

/** Thrown inside a host function to answer an error reply. */
class Refusal extends Error {}

function reply(
  cx: HostCallContext,
  state: HostState,
  status: number,
  payload?: Uint8Array,
): bigint {
  const out = new Uint8Array(1 + (payload?.length ?? 0));
  out[0] = status;
  if (payload) out.set(payload, 1);
  return give(cx, state, out);
}

function bytesArg(
  cx: HostCallContext,
  handle: bigint,
  what: string,
): Uint8Array {
  const bytes = take(cx, handle);
  if (bytes === null) {
    throw new Refusal(
      `${what} handle 0x${
        BigInt.asUintN(64, BigInt(handle)).toString(16)
      } is not a live Extism memory block`,
    );
  }
  return bytes;
}

function textArg(cx: HostCallContext, handle: bigint, what: string): string {
  const bytes = bytesArg(cx, handle, what);
  try {
    return decodeKey(bytes, strictDecoder);
  } catch {
    throw new Refusal(`${what} is not valid UTF-8`);
  }
}

function intArg(value: bigint, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new Refusal(`${what} ${value} is outside the safe integer range`);
  }
  return n;
}

/** The `list` arguments of the ABI: a limit of 0 means the default 100. */
function listArgs(
  cx: HostCallContext,
  prefixHandle: bigint,
  limit: bigint,
  cursor: bigint,
): ListOptions {
  const n = intArg(limit, "limit");
  if (n < 0) throw new Refusal(`limit ${n} is negative`);
  return {
    prefix: textArg(cx, prefixHandle, "prefix"),
    limit: n === 0 ? 100 : n,
    cursor: cursor === 0n ? undefined : textArg(cx, cursor, "cursor"),
  };
}

/** The ABI's `ttl_ms`: 0 = the cache's default, -1 = never, else ms. */
function ttlArg(ttl: bigint): SetOptions | undefined {
  const ttlMs = intArg(ttl, "ttl_ms");
  if (ttlMs < -1) {
    throw new Refusal(
      `ttl_ms ${ttlMs} is invalid: use 0 for the default, -1 for never, or a positive number of milliseconds`,
    );
  }
  return ttlMs === 0 ? undefined : { ttl: ttlMs === -1 ? null : ttlMs };
}

/**
 * Wrap a host function body: a {@link Refusal} or an error from the cache
 * becomes an error reply that names the plugin and the function.
 */
function guarded(
  state: HostState,
  name: string,
  body: (cx: HostCallContext, ...args: bigint[]) => bigint,
): HostFunction {
  // `arguments` and `apply`, not a rest parameter and a spread: no array
  // is built on every host call (this wraps the cache reads of the ABI).
  return function (cx: HostCallContext) {
    if (state.probing) {
      return reply(
        cx,
        state,
        ERROR,
        encoder.encode(
          `${name}: not available while the host reads get_required_env_vars`,
        ),
      );
    }
    try {
      return body.apply(
        null,
        arguments as unknown as Parameters<typeof body>,
      );
    } catch (err) {
      return answerError(cx, state, name, err);
    }
  };
}

/**
 * The error answer of a binary-ABI host function: the plugin gets the
 * message, refusals are not logged, and a call over the memory cap traps
 * instead (answering would allocate more).
 */
function answerError(
  cx: HostCallContext,
  state: HostState,
  name: string,
  err: unknown,
): bigint {
  if (err instanceof PluginMemoryError) throw err;
  if (!(err instanceof Refusal)) {
    state.logger.debug(
      `plugin "${state.plugin}": ${name} answered an error: ${messageOf(err)}`,
    );
  }
  return reply(cx, state, ERROR, encoder.encode(`${name}: ${messageOf(err)}`));
}

function space(
  state: HostState,
  prefix: "sup_cache" | "sup_store",
  ns: (s: HostState) => SyncNamespace,
): Record<string, HostFunction> {
  const fns: Record<string, HostFunction> = {
    [`${prefix}_get`]: guarded(state, `${prefix}_get`, (cx, key) => {
      const value = ns(state).get(textArg(cx, key, "key"));
      return value === null
        ? reply(cx, state, MISS)
        : reply(cx, state, OK, value);
    }),
    [`${prefix}_delete`]: guarded(state, `${prefix}_delete`, (cx, key) => {
      return reply(
        cx,
        state,
        ns(state).delete(textArg(cx, key, "key")) ? OK : MISS,
      );
    }),
    [`${prefix}_list`]: guarded(
      state,
      `${prefix}_list`,
      (cx, prefixHandle, limit, cursor) => {
        const page = ns(state).list(listArgs(cx, prefixHandle, limit, cursor));
        return reply(cx, state, OK, encoder.encode(JSON.stringify(page)));
      },
    ),
  };
  if (prefix === "sup_cache") {
    fns.sup_cache_set = guarded(
      state,
      "sup_cache_set",
      (cx, key, value, ttl) => {
        ns(state).set(
          textArg(cx, key, "key"),
          bytesArg(cx, value, "value"),
          ttlArg(ttl),
        );
        return reply(cx, state, OK);
      },
    );
    fns.sup_cache_has = guarded(state, "sup_cache_has", (cx, key) => {
      return reply(
        cx,
        state,
        ns(state).has(textArg(cx, key, "key")) ? OK : MISS,
      );
    });
    fns.sup_cache_increment = guarded(
      state,
      "sup_cache_increment",
      (cx, key, by) => {
        const sum = ns(state).increment(
          textArg(cx, key, "key"),
          intArg(by, "by"),
        );
        return reply(cx, state, OK, encoder.encode(String(sum)));
      },
    );
  } else {
    fns.sup_store_set = guarded(state, "sup_store_set", (cx, key, value) => {
      ns(state).set(textArg(cx, key, "key"), bytesArg(cx, value, "value"));
      return reply(cx, state, OK);
    });
  }
  return fns;
}

/**
 * Like {@link guarded}, for a body that waits on a Redis-backed cache: an
 * `async` function, which Extism runs with JSPI (the plugin suspends
 * while the host waits; the call's deadline still holds).
 */
function guardedAsync(
  state: HostState,
  name: string,
  body: (cx: HostCallContext, ...args: bigint[]) => Promise<bigint>,
): HostFunction {
  return async (cx, ...args) => {
    if (state.probing) {
      return reply(
        cx,
        state,
        ERROR,
        encoder.encode(
          `${name}: not available while the host reads get_required_env_vars`,
        ),
      );
    }
    try {
      return await body(cx, ...args);
    } catch (err) {
      return answerError(cx, state, name, err);
    }
  };
}

/**
 * {@link space} for a cache on Redis: the same functions and answers, each
 * waiting for the network instead of blocking on SQLite.
 */
function remoteSpace(
  state: HostState,
  prefix: "sup_cache" | "sup_store",
  ns: Namespace,
): Record<string, HostFunction> {
  const fns: Record<string, HostFunction> = {
    [`${prefix}_get`]: guardedAsync(state, `${prefix}_get`, async (cx, key) => {
      const value = await ns.get(textArg(cx, key, "key"));
      return value === null
        ? reply(cx, state, MISS)
        : reply(cx, state, OK, value);
    }),
    [`${prefix}_delete`]: guardedAsync(
      state,
      `${prefix}_delete`,
      async (cx, key) =>
        reply(
          cx,
          state,
          await ns.delete(textArg(cx, key, "key")) ? OK : MISS,
        ),
    ),
    [`${prefix}_list`]: guardedAsync(
      state,
      `${prefix}_list`,
      async (cx, prefixHandle, limit, cursor) => {
        const page = await ns.list(listArgs(cx, prefixHandle, limit, cursor));
        return reply(cx, state, OK, encoder.encode(JSON.stringify(page)));
      },
    ),
  };
  if (prefix === "sup_cache") {
    fns.sup_cache_set = guardedAsync(
      state,
      "sup_cache_set",
      async (cx, key, value, ttl) => {
        await ns.set(
          textArg(cx, key, "key"),
          bytesArg(cx, value, "value"),
          ttlArg(ttl),
        );
        return reply(cx, state, OK);
      },
    );
    fns.sup_cache_has = guardedAsync(
      state,
      "sup_cache_has",
      async (cx, key) =>
        reply(cx, state, await ns.has(textArg(cx, key, "key")) ? OK : MISS),
    );
    fns.sup_cache_increment = guardedAsync(
      state,
      "sup_cache_increment",
      async (cx, key, by) => {
        const sum = await ns.increment(
          textArg(cx, key, "key"),
          intArg(by, "by"),
        );
        return reply(cx, state, OK, encoder.encode(String(sum)));
      },
    );
  } else {
    fns.sup_store_set = guardedAsync(
      state,
      "sup_store_set",
      async (cx, key, value) => {
        await ns.set(textArg(cx, key, "key"), bytesArg(cx, value, "value"));
        return reply(cx, state, OK);
      },
    );
  }
  return fns;
}

/**
 * The binary-safe host functions, by name, for `extism:host/user`.
 *
 * @example
 * ```ts
 * import { binaryHostFunctions } from "./binary_abi.ts";
 * import type { HostState } from "./context.ts";
 * const names = Object.keys(binaryHostFunctions({} as HostState));
 * console.log(names.includes("sup_cache_get")); // true
 * ```
 */
export function binaryHostFunctions(
  state: HostState,
): Record<string, HostFunction> {
  if (state.remote) {
    return {
      ...remoteSpace(state, "sup_cache", state.remote.cache),
      ...remoteSpace(state, "sup_store", state.remote.store),
    };
  }
  return {
    ...space(state, "sup_cache", (s) => s.cache),
    ...space(state, "sup_store", (s) => s.store),
  };
}
