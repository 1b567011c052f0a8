/**
 * The `sup:host/sandbox` functions a rewritten plugin calls (see
 * sandbox.ts), and the guard around every host function: together they
 * are where the deadline and the memory cap are enforced while a plugin
 * runs.
 *
 * @module
 */
import process from "node:process";
import {
  BLOCK_OVERHEAD,
  charge,
  checkpoint,
  give,
  held,
  type HostCallContext,
  type HostFunction,
  type HostState,
  pastDeadline,
  poison,
} from "./context.ts";
import { PluginMemoryError, PluginTimeoutError } from "./errors.ts";
import { PAGE_BYTES } from "./wasm_sections.ts";

/** One instance's standing: a timed-out async call leaves its instance behind, dead. */
export interface Slot {
  /** Set when the host gave up on the instance; its next check traps. */
  dead: boolean;
}

/** What a var costs beyond its key and value bytes. */
const VAR_OVERHEAD = 64;
/** WASI errno values poll_oneoff answers. */
const ERRNO = { success: 0, fault: 21, inval: 28, notsup: 58 } as const;
const SUBSCRIPTION_BYTES = 48;
const EVENT_BYTES = 32;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => {
  if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
};
const keyDecoder = new TextDecoder();

function timeout(state: HostState): Error {
  return poison(
    state,
    new PluginTimeoutError(state.plugin, state.fn, state.timeoutMs),
  );
}

/**
 * Wrap a host function so it first checks the deadline and the call's
 * poison (and refuses to run for a dead instance). Async functions stay
 * async, so Extism still suspends the plugin on them.
 *
 * @example
 * ```ts
 * import type { HostState } from "./context.ts";
 * import { guard } from "./sandbox_imports.ts";
 * const state = { poison: null, deadline: 0, timeoutMs: 100 } as unknown as HostState;
 * const fn = guard(state, { dead: false }, () => 7n);
 * console.log(fn({} as never)); // 7n
 * ```
 */
export function guard(
  state: HostState,
  slot: Slot,
  fn: HostFunction,
): HostFunction {
  let calls = 0;
  const enter = () => {
    if (slot.dead) throw new Error("this plugin instance was stopped");
    if (state.poison !== null) throw state.poison;
    // The clock on every 8th call: a loop of host calls still ends within
    // 8 calls of its deadline, and the common call skips a clock read.
    if ((++calls & 7) === 0 && pastDeadline(state)) throw timeout(state);
  };
  if (fn.constructor.name === "AsyncFunction") {
    return (async (cx: HostCallContext, ...args: bigint[]) => {
      checkpoint(state);
      enter();
      return await fn(cx, ...args);
    }) as unknown as HostFunction;
  }
  return function () {
    enter();
    // `arguments` passes Extism's arguments through without the array a
    // rest parameter allocates on every host call.
    return fn.apply(null, arguments as unknown as Parameters<HostFunction>);
  } as HostFunction;
}

/**
 * The `sup:host/sandbox` imports for one instance. With `linked`, the set
 * for the linked modules of a manifest (compile.ts renames their import
 * module): `grow` also counts what it grants in `state.linkedBytes`, and
 * `poll_oneoff`, which could only read the entry module's memory, answers
 * "not supported".
 *
 * @example
 * ```ts
 * import type { HostState } from "./context.ts";
 * import { sandboxImports } from "./sandbox_imports.ts";
 * const state = {
 *   poison: null, deadline: 0, timeoutMs: 100, memory: null, tableBytes: 0,
 *   allocated: 0, varBytes: 0, maxMemoryBytes: 1_048_576,
 * } as unknown as HostState;
 * const { tick } = sandboxImports(state, { dead: false });
 * console.log(tick({} as never)); // 0: keep running
 * ```
 */
export function sandboxImports(
  state: HostState,
  slot: Slot,
  linked = false,
): Record<string, HostFunction> {
  return {
    tick: () => {
      if (slot.dead || state.poison !== null) return 1;
      if (pastDeadline(state)) {
        timeout(state);
        return 1;
      }
      const total = held(state);
      if (total > state.maxMemoryBytes) {
        poison(
          state,
          new PluginMemoryError(
            state.plugin,
            state.fn,
            total,
            state.maxMemoryBytes,
          ),
        );
        return 1;
      }
      return 0;
    },
    grow: ((_cx: HostCallContext, pages: number) => {
      // An abandoned instance may not grow (nor count against its successor).
      if (slot.dead) return -1;
      const n = pages >>> 0;
      const total = held(state) + n * PAGE_BYTES;
      if (total > state.maxMemoryBytes) {
        poison(
          state,
          new PluginMemoryError(
            state.plugin,
            state.fn,
            total,
            state.maxMemoryBytes,
          ),
        );
        return -1; // 0xFFFFFFFF pages: the grow fails
      }
      if (linked) state.linkedBytes += n * PAGE_BYTES;
      return n;
    }) as unknown as HostFunction,
    alloc: (cx, size) => {
      charge(state, Number(size) + BLOCK_OVERHEAD);
      return cx.alloc(size);
    },
    var_get: (cx, keyHandle) => {
      const key = cx.read(keyHandle);
      if (key === null) return 0n;
      const value = state.vars.get(keyDecoder.decode(key.bytes()));
      return value === undefined ? 0n : give(cx, state, value);
    },
    var_set: (cx, keyHandle, valueHandle) => {
      const keyBlock = cx.read(keyHandle);
      if (keyBlock === null) return;
      const key = keyDecoder.decode(keyBlock.bytes());
      const old = state.vars.get(key);
      const oldCost = old === undefined
        ? 0
        : key.length + old.length + VAR_OVERHEAD;
      if (valueHandle === 0n) {
        state.vars.delete(key);
        state.varBytes -= oldCost;
        state.varValueBytes -= old?.length ?? 0;
        return;
      }
      const block = cx.read(valueHandle);
      if (block === null) return;
      const value = block.bytes().slice();
      const values = state.varValueBytes - (old?.length ?? 0) + value.length;
      if (values > state.maxVarBytes) {
        // As Extism's SDK: the var_set fails the call.
        throw poison(
          state,
          new PluginMemoryError(
            state.plugin,
            state.fn,
            values,
            state.maxVarBytes,
            "vars (memory.maxVarBytes)",
          ),
        );
      }
      const cost = key.length + value.length + VAR_OVERHEAD;
      // Counted as held while the check runs, then moved to varBytes.
      charge(state, cost - oldCost);
      state.allocated -= cost - oldCost;
      state.varBytes += cost - oldCost;
      state.varValueBytes = values;
      state.vars.set(key, value);
    },
    poll_oneoff: ((
      _cx: HostCallContext,
      inPtr: number,
      outPtr: number,
      count: number,
      countPtr: number,
    ) =>
      linked ? ERRNO.notsup : pollOneoff(
        state,
        inPtr,
        outPtr,
        count,
        countPtr,
      )) as unknown as HostFunction,
  };
}

/**
 * WASI `poll_oneoff`, bounded by the deadline: a clock wait past it sleeps
 * only until the deadline and stops the call; descriptor subscriptions
 * (stdin and stdout are /dev/null) are ready at once.
 */
function pollOneoff(
  state: HostState,
  inPtr: number,
  outPtr: number,
  count: number,
  countPtr: number,
): number {
  const memory = state.memory;
  if (memory === null) return ERRNO.notsup;
  if (count === 0) return ERRNO.inval;
  const view = new DataView(memory.buffer);
  const end = view.byteLength;
  if (
    inPtr + count * SUBSCRIPTION_BYTES > end ||
    outPtr + count * EVENT_BYTES > end || countPtr + 4 > end
  ) {
    return ERRNO.fault;
  }
  const clocks: Array<{ userdata: bigint; ns: bigint }> = [];
  const ready: Array<{ userdata: bigint; tag: number }> = [];
  for (let i = 0; i < count; i++) {
    const at = inPtr + i * SUBSCRIPTION_BYTES;
    const userdata = view.getBigUint64(at, true);
    const tag = view.getUint8(at + 8);
    if (tag !== 0) {
      ready.push({ userdata, tag });
      continue;
    }
    const clock = view.getUint32(at + 16, true);
    const timeoutNs = view.getBigUint64(at + 24, true);
    const absolute = (view.getUint16(at + 40, true) & 1) === 1;
    let ns = timeoutNs;
    if (absolute) {
      const now = clock === 0
        ? BigInt(Date.now()) * 1_000_000n
        : process.hrtime.bigint();
      ns = timeoutNs > now ? timeoutNs - now : 0n;
    }
    clocks.push({ userdata, ns });
  }
  let fired: Array<{ userdata: bigint; tag: number }> = ready;
  if (fired.length === 0) {
    const wait = clocks.reduce((m, c) => c.ns < m ? c.ns : m, clocks[0].ns);
    const waitMs = Number(wait) / 1e6;
    pastDeadline(state);
    const left = state.deadline - Date.now();
    if (waitMs > left) {
      sleep(left);
      throw timeout(state);
    }
    sleep(waitMs);
    fired = clocks.filter((c) => c.ns === wait).map((c) => ({
      userdata: c.userdata,
      tag: 0,
    }));
  }
  fired.forEach((e, i) => {
    const at = outPtr + i * EVENT_BYTES;
    for (let k = 0; k < EVENT_BYTES; k++) view.setUint8(at + k, 0);
    view.setBigUint64(at, e.userdata, true);
    view.setUint8(at + 10, e.tag);
  });
  view.setUint32(countPtr, fired.length, true);
  return ERRNO.success;
}
