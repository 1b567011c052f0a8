/**
 * The state host functions share for one loaded plugin ({@link HostState}),
 * and the two small helpers every host function uses: reading a plugin's
 * memory block and handing bytes back while counting them against the
 * memory cap.
 *
 * Naming: in the host, "context" means one thing, Extism's call context
 * handed to every host function ({@link HostCallContext}, the `cx`
 * parameter). What the host keeps per plugin is its state (`HostState`,
 * `state`), and the loaded plugin is a `Plugin`. The file keeps its name
 * so branches that add to `HostState` merge cleanly.
 *
 * @module
 */
import type { Namespace } from "../cache/async_namespace.ts";
import type { SyncNamespace } from "../cache/types.ts";
import { PluginMemoryError, PluginTimeoutError } from "./errors.ts";

/**
 * The logger `loadPlugin` reports to; `console` fits. Host functions that
 * must answer sup's bare failure codes log the reason here, so it is never
 * lost.
 */
export interface Logger {
  /** Plugin trace lines (with `logLevel: "trace"`); `debug` gets them when absent. */
  trace?(...args: unknown[]): void;
  /** Detail of normal operation. */
  debug(...args: unknown[]): void;
  /** Plugin log lines at info level. */
  info(...args: unknown[]): void;
  /** A request the host refused (bad JSON, a path outside the data directory). */
  warn(...args: unknown[]): void;
  /** Something the operator should look at. */
  error(...args: unknown[]): void;
}

/**
 * The part of Extism's call context host functions use (Extism passes its
 * full `CallContext`, which has these methods).
 */
export interface HostCallContext {
  /** The bytes of the block at a handle, or `null` for a dead or made-up handle. */
  read(addr: bigint): { bytes(): Uint8Array } | null;
  /** Copy text or bytes into a new block and return its handle. */
  store(input: string | Uint8Array): bigint;
  /** Allocate a zeroed block and return its handle. */
  alloc(size: bigint | number): bigint;
  /** The length of the block at a handle (0 for a dead handle). */
  length(addr: bigint): bigint;
}

/**
 * A host function as Extism calls it: the call context, then the wasm
 * arguments (i64 as `bigint`, i32 as `number`). An `async` function
 * suspends the plugin while it waits (Extism uses JSPI); the call's
 * deadline still holds.
 *
 * @example
 * ```ts
 * import type { HostFunction } from "./context.ts";
 * // exec_command answering like sup's Go host would for "echo hi".
 * const exec: HostFunction = (cx) => cx.store('{"success":true,"stdout":"hi\\n","exit_code":0}');
 * ```
 */
export type HostFunction = (
  cx: HostCallContext,
  ...args: bigint[]
) => bigint | number | void | Promise<bigint | number | void>;

/** Everything a host function of one plugin needs. */
export interface HostState {
  /** The plugin name, which is also its namespace. */
  readonly plugin: string;
  /** The plugin's expiring cache keyspace. */
  readonly cache: SyncNamespace;
  /** The plugin's never-expiring store keyspace. */
  readonly store: SyncNamespace;
  /**
   * Both keyspaces' async faces when the cache is on Redis (which has no
   * synchronous face); the host functions are then `async` and the plugin
   * suspends while they wait. `null` on SQLite.
   */
  readonly remote: { cache: Namespace; store: Namespace } | null;
  /** The directory `read_file`/`list_directory` may see, or `null`. */
  readonly filesDir: string | null;
  /** Where refused requests are reported. */
  readonly logger: Logger;
  /**
   * The one memory cap: linear memory, tables, Extism blocks of the running
   * call and Extism vars together, in bytes.
   */
  readonly maxMemoryBytes: number;
  /** Bytes the tables may hold (counted up front, see wasm_sections.ts). */
  tableBytes: number;
  /** The call limit in ms, for error messages. */
  readonly timeoutMs: number;
  /**
   * `Date.now()` after which the running call is stopped, or 0 until the
   * call's first check (see {@link pastDeadline}). Date.now() costs a third
   * of performance.now() in Deno and its millisecond resolution is far
   * inside the deadline's slack.
   */
  deadline: number;
  /**
   * Why the running call must stop, once decided. Every later check throws
   * or traps with it, and the call rejects with it even if the plugin
   * caught the exception and returned.
   */
  poison: Error | null;
  /** The running instance's linear memory, once instantiated. */
  memory: WebAssembly.Memory | null;
  /** The running instance's fuel global (zeroed to stop it at its next check). */
  fuel: WebAssembly.Global | null;
  /**
   * Extism vars. Kept here, not in Extism's call context, so they survive
   * the fresh instance a failed call gets.
   */
  readonly vars: Map<string, Uint8Array>;
  /** Bytes `vars` holds, keys and per-entry overhead included. */
  varBytes: number;
  /** Extism's `maxVarBytes`: value bytes `vars` may hold (`Infinity`: only the cap). */
  readonly maxVarBytes: number;
  /** Value bytes `vars` holds, as Extism counts against `maxVarBytes`. */
  varValueBytes: number;
  /**
   * Bytes of the linked (non-entry) modules of a manifest: their initial
   * memories and tables, and every grow granted since. The host cannot
   * reach their memories, so it counts what it allowed.
   */
  linkedBytes: number;
  /**
   * True while the host only asks `get_required_env_vars`: like sup's
   * temporary plugin, host functions then touch nothing.
   */
  probing: boolean;
  /** The export being called, for error messages. */
  fn: string;
  /** Extism bytes allocated so far in this call. */
  allocated: number;
}

/** What an Extism block costs the host beyond its bytes (objects, views). */
export const BLOCK_OVERHEAD = 512;

/**
 * Bytes the plugin makes the host hold now (see {@link HostState.maxMemoryBytes}).
 *
 * @example
 * ```ts
 * import { held, type HostState } from "./context.ts";
 * const state = {
 *   plugin: "demo", fn: "run", timeoutMs: 100, deadline: 0, poison: null,
 *   memory: null, fuel: null, tableBytes: 0, allocated: 0, varBytes: 0,
 *   maxMemoryBytes: 1_048_576,
 * } as unknown as HostState;
 * console.log(held(state)); // 0
 * ```
 */
export function held(state: HostState): number {
  return (state.memory?.buffer.byteLength ?? 0) + state.tableBytes +
    state.allocated + state.varBytes + (state.linkedBytes ?? 0);
}

/**
 * Decide that the running call stops with `err`: later checks throw or
 * trap with it, and the plugin's fuel is zeroed so its next check comes at
 * once. The first reason wins.
 *
 * @example
 * ```ts
 * import { type HostState, poison } from "./context.ts";
 * const state = {
 *   plugin: "demo", fn: "run", timeoutMs: 100, deadline: 0, poison: null,
 *   memory: null, fuel: null, tableBytes: 0, allocated: 0, varBytes: 0,
 *   maxMemoryBytes: 1_048_576,
 * } as unknown as HostState;
 * poison(state, new Error("first"));
 * console.log(poison(state, new Error("second")).message); // "first"
 * ```
 */
export function poison(state: HostState, err: Error): Error {
  state.poison ??= err;
  if (state.fuel !== null) state.fuel.value = 0;
  return state.poison;
}

/**
 * Whether the running call is past its deadline. The clock starts at the
 * call's first check rather than at its start: reading it costs a quarter
 * of a trivial call, and the first check comes within one tick of fuel
 * (microseconds of work) or the first host call.
 *
 * @example
 * ```ts
 * import { type HostState, pastDeadline } from "./context.ts";
 * const state = {
 *   plugin: "demo", fn: "run", timeoutMs: 100, deadline: 0, poison: null,
 *   memory: null, fuel: null, tableBytes: 0, allocated: 0, varBytes: 0,
 *   maxMemoryBytes: 1_048_576,
 * } as unknown as HostState;
 * console.log(pastDeadline(state), state.deadline > 0); // false true
 * ```
 */
export function pastDeadline(state: HostState): boolean {
  const now = Date.now();
  if (state.deadline === 0) {
    state.deadline = now + state.timeoutMs;
    return false;
  }
  return now > state.deadline;
}

/**
 * Throw if the running call must stop: already poisoned, or past its
 * deadline. Host functions call this first, so a loop of host calls ends
 * on time even when each call is slow.
 *
 * @example
 * ```ts
 * import { checkpoint, type HostState } from "./context.ts";
 * const state = {
 *   plugin: "demo", fn: "run", timeoutMs: 100, deadline: 0, poison: null,
 *   memory: null, fuel: null, tableBytes: 0, allocated: 0, varBytes: 0,
 *   maxMemoryBytes: 1_048_576,
 * } as unknown as HostState;
 * checkpoint(state); // the clock starts; nothing to stop yet
 * ```
 */
export function checkpoint(state: HostState): void {
  if (state.poison !== null) throw state.poison;
  if (pastDeadline(state)) {
    throw poison(
      state,
      new PluginTimeoutError(state.plugin, state.fn, state.timeoutMs),
    );
  }
}

/**
 * Count `bytes` more against the memory cap, throwing a
 * {@link PluginMemoryError} (and poisoning the call) when it would pass it.
 *
 * @example
 * ```ts
 * import { charge, type HostState } from "./context.ts";
 * const state = {
 *   plugin: "demo", fn: "run", timeoutMs: 100, deadline: 0, poison: null,
 *   memory: null, fuel: null, tableBytes: 0, allocated: 0, varBytes: 0,
 *   maxMemoryBytes: 1_048_576,
 * } as unknown as HostState;
 * charge(state, 1000);
 * console.log(state.allocated); // 1000
 * ```
 */
export function charge(state: HostState, bytes: number): void {
  const total = held(state) + bytes;
  if (total > state.maxMemoryBytes) {
    throw poison(
      state,
      new PluginMemoryError(
        state.plugin,
        state.fn,
        total,
        state.maxMemoryBytes,
      ),
    );
  }
  state.allocated += bytes;
}

/** Copy `bytes` into a new Extism block and return its handle. */
export function give(
  cx: HostCallContext,
  state: HostState,
  bytes: Uint8Array | string,
): bigint {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  charge(state, data.length + BLOCK_OVERHEAD);
  return cx.store(data);
}

/** The bytes of the block at `handle`, or `null` when it is not a live block. */
export function take(cx: HostCallContext, handle: bigint): Uint8Array | null {
  if (typeof handle !== "bigint" || handle <= 0n) return null;
  return cx.read(handle)?.bytes() ?? null;
}

const encoder = new TextEncoder();
/** Strict UTF-8: keys that are not valid UTF-8 are refused, never mangled. */
export const strictDecoder: TextDecoder = new TextDecoder("utf-8", {
  fatal: true,
});
/** Lenient UTF-8, as Go converts bytes to string (invalid bytes become U+FFFD). */
export const lenientDecoder: TextDecoder = new TextDecoder();

/**
 * Decode a key. Keys are nearly always short ASCII, where building the
 * string directly is several times cheaper than a TextDecoder call; other
 * bytes go through `decoder` (strict or lenient as the ABI requires).
 */
export function decodeKey(bytes: Uint8Array, decoder: TextDecoder): string {
  if (bytes.length <= 64) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    // `apply`, not a spread: spreading a typed array runs its iterator,
    // which made this 3-5x slower (111 ns for a 1-byte key, 1 µs for a
    // 34-byte one, against 34 and 231 ns).
    if (ascii) {
      return String.fromCharCode.apply(null, bytes as unknown as number[]);
    }
  }
  return decoder.decode(bytes);
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
