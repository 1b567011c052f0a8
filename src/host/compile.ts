/**
 * From module bytes to a compiled, sandboxed `WebAssembly.Module`: refuse
 * what cannot be capped, take the rewrite from the content-addressed store
 * (sandbox_store.ts), write the memory and table maxima for this cap, and
 * compile. Compiled modules are kept per content address and cap, so a
 * warm load compiles nothing.
 *
 * @module
 */
import { sandboxed, sandboxKey } from "./sandbox_store.ts";
import { capLimits, refuseUncappable } from "./wasm_sections.ts";

/** A compiled sandboxed module and what its tables count against the cap. */
export interface Compiled {
  module: WebAssembly.Module;
  tableBytes: number;
}

const compiled = new Map<string, Compiled>();

/**
 * Compile `wasm` for the sandbox with `env` baked in and `maxMemoryBytes`
 * as the cap. Throws the sandbox's `InstrumentError` for refused modules.
 *
 * @example
 * ```ts
 * import { compileSandboxed } from "./compile.ts";
 * const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * const { tableBytes } = await compileSandboxed(empty, [], 1_048_576, null);
 * console.log(tableBytes); // 0
 * ```
 */
export async function compileSandboxed(
  wasm: Uint8Array,
  env: ReadonlyArray<readonly [string, string]>,
  maxMemoryBytes: number,
  dataDir: string | null,
): Promise<Compiled> {
  const id = `${sandboxKey(wasm, env)}/${maxMemoryBytes}`;
  let hit = compiled.get(id);
  if (hit === undefined) {
    refuseUncappable(wasm);
    const out = await sandboxed(wasm, env, dataDir);
    const capped = capLimits(out.wasm, maxMemoryBytes);
    hit = {
      module: await WebAssembly.compile(capped.wasm),
      tableBytes: capped.tableBytes,
    };
    compiled.set(id, hit);
  }
  return hit;
}
