/**
 * Runs one call of a plugin export under the sandbox: sets the deadline,
 * the fuel and the per-call budget, races calls that can suspend (async
 * host functions, `http_request`) against the deadline, and turns whatever
 * happened into a result or a typed error. A call the host gave up on
 * leaves its instance dead (its next check traps) and it is closed once it
 * settles.
 *
 * @module
 */
import type { HostState } from "./context.ts";
import { poison } from "./context.ts";
import { PluginTimeoutError } from "./errors.ts";
import type { Instance } from "./instance.ts";

/** How a call ended. */
export type Outcome =
  | {
    ok: true;
    /** `null` when the plugin set no output (Extism's `call` answers `null`). */
    output: Uint8Array | null;
  }
  | {
    ok: false;
    error: unknown;
    /** The plugin reported the error itself (error_set); the instance is fine. */
    reported: boolean;
    /** The runner closes the instance when its abandoned call ends. */
    closesLater: boolean;
  };

/**
 * Start a call: fresh deadline (started at the first check), budget and
 * no poison.
 *
 * @example
 * ```ts
 * import { beginCall } from "./call_runner.ts";
 * import type { HostState } from "./context.ts";
 * import type { Instance } from "./instance.ts";
 * const state = { poison: new Error("old") } as unknown as HostState;
 * beginCall(state, "run", { memory: null, fuel: null } as unknown as Instance);
 * console.log(state.poison, state.fn); // null "run"
 * ```
 */
export function beginCall(
  state: HostState,
  fn: string,
  instance: Instance,
): void {
  state.fn = fn;
  state.allocated = 0;
  state.poison = null;
  state.memory = instance.memory;
  state.fuel = instance.fuel;
  // The fuel is not refilled: it only decides when the next look at the
  // clock comes, and a poisoned instance (fuel zeroed) is never reused.
  state.deadline = 0;
}

/**
 * Call `fn` on `instance`. `suspends` says whether the call can wait on a
 * promise (then a timer enforces the deadline); purely synchronous calls
 * skip the timer, which would cost more than a trivial call.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../cache/cache.ts";
 * import { loadPlugin } from "./load.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * // loadPlugin's calls go through runCall.
 * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
 * console.log(await plugin.version()); // "unknown"
 * ```
 */
export async function runCall(
  state: HostState,
  instance: Instance,
  fn: string,
  input: Uint8Array,
  suspends: boolean,
): Promise<Outcome> {
  beginCall(state, fn, instance);
  if (suspends) state.deadline = Date.now() + state.timeoutMs;
  const call = instance.plugin.call(fn, input);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let abandoned = false;
  try {
    let out;
    if (suspends) {
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandoned = true;
          instance.slot.dead = true;
          if (instance.fuel !== null) instance.fuel.value = 0;
          reject(
            poison(
              state,
              new PluginTimeoutError(state.plugin, fn, state.timeoutMs),
            ),
          );
        }, Math.max(0, state.deadline - Date.now()));
      });
      out = await Promise.race([call, expired]);
    } else {
      out = await call;
    }
    if (state.poison !== null) {
      // The plugin caught the host's exception and returned anyway.
      return {
        ok: false,
        error: state.poison,
        reported: false,
        closesLater: false,
      };
    }
    return { ok: true, output: out ? out.bytes().slice() : null };
  } catch (err) {
    if (abandoned) {
      // Close the abandoned instance when its suspended call finally ends.
      call.then(() => {}, () => {}).finally(() => instance.plugin.close());
      return { ok: false, error: err, reported: false, closesLater: true };
    }
    const message = err instanceof Error ? err.message : "";
    if (
      state.poison === null && message.startsWith("Plugin-originated error: ")
    ) {
      return { ok: false, error: err, reported: true, closesLater: false };
    }
    return {
      ok: false,
      error: state.poison ?? err,
      reported: false,
      closesLater: false,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * What a call that threw means: an error the plugin reported itself
 * (`error_set`, the instance is fine), or a trap, timeout or memory error
 * (the call's poison wins over the trap it caused).
 *
 * @example
 * ```ts
 * import { classify } from "./call_runner.ts";
 * import type { HostState } from "./context.ts";
 * const state = { poison: null } as unknown as HostState;
 * const out = classify(state, new Error("Plugin-originated error: no"));
 * console.log(out.reported); // true
 * ```
 */
export function classify(
  state: HostState,
  err: unknown,
): Exclude<Outcome, { ok: true }> {
  const message = err instanceof Error ? err.message : "";
  if (
    state.poison === null && message.startsWith("Plugin-originated error: ")
  ) {
    return { ok: false, error: err, reported: true, closesLater: false };
  }
  return {
    ok: false,
    error: state.poison ?? err,
    reported: false,
    closesLater: false,
  };
}
