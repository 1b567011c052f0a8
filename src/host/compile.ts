/**
 * From module bytes to a compiled, sandboxed `WebAssembly.Module`: refuse
 * what cannot be capped, take the rewrite from the content-addressed store
 * (sandbox_store.ts), write the memory and table maxima for this cap, and
 * compile. Compiled modules are kept per content address and cap, so a
 * warm load compiles nothing.
 *
 * @module
 */
import { SANDBOX_MODULE } from "./sandbox.ts";
import { InstrumentError } from "./sandbox_errors.ts";
import { sandboxed, sandboxKey } from "./sandbox_store.ts";
import {
  capLimits,
  initialPages,
  PAGE_BYTES,
  refuseUncappable,
  renameImportModule,
} from "./wasm_sections.ts";

/**
 * Where a linked (non-entry) module's sandbox hooks are imported from: the
 * same functions, except that `grow` counts what it grants (the host cannot
 * see a linked module's memory) and `poll_oneoff` answers "not supported"
 * (it would read the entry module's memory). Same length as
 * `SANDBOX_MODULE`, so the rename patches bytes in place.
 */
export const LINKED_SANDBOX_MODULE = "sup:host/sandlib";

/** A compiled sandboxed module and what its tables count against the cap. */
export interface Compiled {
  module: WebAssembly.Module;
  tableBytes: number;
  /** Bytes its own memory starts with (counted up front for linked modules). */
  memoryBytes: number;
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
  linked = false,
): Promise<Compiled> {
  const id = `${sandboxKey(wasm, env)}/${maxMemoryBytes}${linked ? "/l" : ""}`;
  let hit = compiled.get(id);
  if (hit === undefined) {
    refuseUncappable(wasm);
    const out = await sandboxed(wasm, env, dataDir);
    const capped = capLimits(out.wasm, maxMemoryBytes);
    const bytes = linked
      ? renameImportModule(capped.wasm, SANDBOX_MODULE, LINKED_SANDBOX_MODULE)
      : capped.wasm;
    const module = await WebAssembly.compile(bytes);
    if (linked) refuseUnlinkable(module);
    hit = {
      module,
      tableBytes: capped.tableBytes,
      memoryBytes: initialPages(capped.wasm) * PAGE_BYTES,
    };
    compiled.set(id, hit);
  }
  return hit;
}

function refuseUnlinkable(module: WebAssembly.Module): void {
  // A missed rename would let the module's growth go uncounted.
  if (
    WebAssembly.Module.imports(module).some((i) => i.module === SANDBOX_MODULE)
  ) {
    throw new InstrumentError(
      "the linked module's sandbox imports could not be told apart",
    );
  }
  if (WebAssembly.Module.exports(module).some((e) => e.name === "_start")) {
    throw new InstrumentError(
      "a linked module exports _start (a WASI command); Extism instantiates such a module once per import, which the memory cap cannot bound; build it as a reactor (no _start) or make it the main module",
    );
  }
}
