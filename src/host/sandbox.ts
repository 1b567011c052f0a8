/**
 * Rewrites a plugin's WebAssembly so the host can stop it and cap it while
 * it runs on the main thread (Extism's own `timeoutMs` needs `runInWorker`,
 * which makes every host call a cross-thread round trip).
 *
 * - Every loop header and function entry decrements a fuel counter kept in a
 *   new wasm global; every {@link FUEL_PER_TICK} steps it calls the host's
 *   `sup:host/sandbox` `tick`, which throws once the call's deadline passed.
 *   Nothing runs unbounded without reaching a loop header or a call.
 * - Extism's `alloc` import is routed through `sup:host/sandbox` `alloc`, so
 *   the host can count the bytes a call allocates.
 * - The linear memory gets a maximum, so `memory.grow` fails past the cap.
 * - WASI `environ_get`/`environ_sizes_get` are replaced by functions that
 *   write exactly the variables the host chose (Extism's WASI has no way to
 *   pass an environment).
 *
 * @module
 */
// Pinned in deno.json to the exact build assemblyscript already depends on,
// so nothing extra downloads. Loaded on the first plugin load, not at import:
// it takes a few hundred ms, which cache-only users should not pay.
import type Binaryen from "npm:binaryen@131.0.0-nightly.20260721";

let binaryen: typeof Binaryen;

/** Import module of the functions the rewritten plugin calls. */
export const SANDBOX_MODULE = "sup:host/sandbox";
/** Loop iterations or function entries between two deadline checks. */
export const FUEL_PER_TICK = 10_000;
/** Bytes in a WebAssembly page. */
export const PAGE_BYTES = 65_536;

const WASI = "wasi_snapshot_preview1";
const EXTISM_ENV = "extism:host/env";
const FUEL = "__sup_fuel";
const TICK = "__sup_tick";

/** What {@link instrument} needs to know. */
export interface InstrumentOptions {
  /** Upper bound for the plugin's linear memory, in 64 KiB pages. */
  maxPages: number;
  /** Environment variables the plugin sees through WASI, in order. */
  env: ReadonlyArray<readonly [string, string]>;
}

/** Thrown for modules that cannot be rewritten; the loader turns it into a PluginLoadError. */
export class InstrumentError extends Error {}

/**
 * Rewrite `wasm` as described in the module comment.
 *
 * @example
 * ```ts
 * import { instrument } from "./sandbox.ts";
 * const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * const safe = await instrument(empty, { maxPages: 16, env: [] });
 * console.log(WebAssembly.validate(safe)); // true
 * ```
 */
export async function instrument(
  wasm: Uint8Array,
  options: InstrumentOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  binaryen ??= (await import("npm:binaryen@131.0.0-nightly.20260721")).default;
  const b = binaryen;
  let mod: Binaryen.Module;
  try {
    mod = b.readBinary(wasm);
  } catch (cause) {
    throw new InstrumentError(
      `not a valid WebAssembly module (${(cause as Error).message})`,
    );
  }
  try {
    mod.setFeatures(b.Features.All);
    const before = new Set(functionNames(mod));
    mod.runPasses(["log-execution"]);
    const logger = functionNames(mod).find((n) => !before.has(n));
    if (logger === undefined) {
      throw new InstrumentError("binaryen's log-execution pass added no hook");
    }
    mod.removeFunction(logger);
    mod.addGlobal(FUEL, b.i32, true, mod.i32.const(FUEL_PER_TICK));
    mod.addFunctionImport(TICK, SANDBOX_MODULE, "tick", b.none, b.none);
    mod.addFunction(
      logger,
      b.createType([b.i32]),
      b.none,
      [],
      mod.block(null, [
        mod.global.set(
          FUEL,
          mod.i32.sub(mod.global.get(FUEL, b.i32), mod.i32.const(1)),
        ),
        mod.if(
          mod.i32.eqz(mod.global.get(FUEL, b.i32)),
          mod.block(null, [
            mod.call(TICK, [], b.none),
            mod.global.set(FUEL, mod.i32.const(FUEL_PER_TICK)),
          ]),
        ),
      ]),
    );
    rewriteImports(mod, options.env);
    // The hook is a dozen instructions; inlining it keeps a loop iteration
    // at a few nanoseconds instead of a call.
    b.setFlexibleInlineMaxSize(40);
    mod.runPasses(["inlining"]);
    if (!mod.validate()) {
      throw new InstrumentError("the rewritten module does not validate");
    }
    return capMemory(mod.emitBinary(), options.maxPages);
  } finally {
    mod.dispose();
  }
}

function functionNames(mod: Binaryen.Module): string[] {
  const names: string[] = [];
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    names.push(binaryen.getFunctionInfo(mod.getFunctionByIndex(i)).name);
  }
  return names;
}

function rewriteImports(
  mod: Binaryen.Module,
  env: ReadonlyArray<readonly [string, string]>,
): void {
  const b = binaryen;
  const environ = environBytes(env);
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = b.getFunctionInfo(mod.getFunctionByIndex(i));
    if (info.module === EXTISM_ENV && info.base === "alloc") {
      mod.removeFunction(info.name);
      mod.addFunctionImport(
        info.name,
        SANDBOX_MODULE,
        "alloc",
        info.params,
        info.results,
      );
      i--;
    } else if (info.module === WASI && info.base === "environ_sizes_get") {
      mod.removeFunction(info.name);
      addEnvironSizesGet(mod, info.name, environ);
      i--;
    } else if (info.module === WASI && info.base === "environ_get") {
      mod.removeFunction(info.name);
      addEnvironGet(mod, info.name, environ);
      i--;
    }
  }
}

/** The WASI environment block: `NAME=value\0` entries and where each starts. */
interface Environ {
  bytes: Uint8Array;
  offsets: number[];
}

function environBytes(env: ReadonlyArray<readonly [string, string]>): Environ {
  const encoder = new TextEncoder();
  const entries = env.map(([k, v]) => encoder.encode(`${k}=${v}\0`));
  const total = entries.reduce((n, e) => n + e.length, 0);
  const bytes = new Uint8Array(total);
  const offsets: number[] = [];
  let at = 0;
  for (const e of entries) {
    offsets.push(at);
    bytes.set(e, at);
    at += e.length;
  }
  return { bytes, offsets };
}

function addEnvironSizesGet(
  mod: Binaryen.Module,
  name: string,
  { bytes, offsets }: Environ,
): void {
  const b = binaryen;
  mod.addFunction(
    name,
    b.createType([b.i32, b.i32]),
    b.i32,
    [],
    mod.block(null, [
      mod.i32.store(
        0,
        4,
        mod.local.get(0, b.i32),
        mod.i32.const(offsets.length),
      ),
      mod.i32.store(0, 4, mod.local.get(1, b.i32), mod.i32.const(bytes.length)),
      mod.i32.const(0),
    ], b.i32),
  );
}

function addEnvironGet(
  mod: Binaryen.Module,
  name: string,
  { bytes, offsets }: Environ,
): void {
  const b = binaryen;
  const body: number[] = [];
  offsets.forEach((offset, i) => {
    body.push(
      mod.i32.store(
        4 * i,
        4,
        mod.local.get(0, b.i32),
        mod.i32.add(mod.local.get(1, b.i32), mod.i32.const(offset)),
      ),
    );
  });
  for (let i = 0; i < bytes.length; i++) {
    body.push(
      mod.i32.store8(i, 1, mod.local.get(1, b.i32), mod.i32.const(bytes[i])),
    );
  }
  body.push(mod.i32.const(0));
  mod.addFunction(
    name,
    b.createType([b.i32, b.i32]),
    b.i32,
    [],
    mod.block(null, body, b.i32),
  );
}

function readLeb(buf: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[at++];
    if (byte === undefined) throw new InstrumentError("truncated LEB128");
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, at];
    scale *= 128;
  }
}

function writeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/** Give every defined memory a maximum of at most `maxPages`. */
function capMemory(
  wasm: Uint8Array,
  maxPages: number,
): Uint8Array<ArrayBuffer> {
  const out: number[] = Array.from(wasm.subarray(0, 8));
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, start] = readLeb(wasm, at + 1);
    const end = start + size;
    if (id !== 5) {
      for (let i = at; i < end; i++) out.push(wasm[i]);
      at = end;
      continue;
    }
    let [count, p] = readLeb(wasm, start);
    const payload = writeLeb(count);
    while (count-- > 0) {
      const flags = wasm[p++];
      let min: number;
      let max = Infinity;
      [min, p] = readLeb(wasm, p);
      if (flags & 1) [max, p] = readLeb(wasm, p);
      if (min > maxPages) {
        throw new InstrumentError(
          `the module starts with ${min} pages of memory (${
            (min * PAGE_BYTES).toLocaleString("en-US")
          } bytes), more than maxMemoryBytes allows (${maxPages} pages)`,
        );
      }
      payload.push(
        flags | 1,
        ...writeLeb(min),
        ...writeLeb(Math.min(max, maxPages)),
      );
    }
    out.push(5, ...writeLeb(payload.length), ...payload);
    at = end;
  }
  return new Uint8Array(out);
}
