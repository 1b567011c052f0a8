/**
 * Rewrites a plugin's WebAssembly so the host can stop it and cap it while
 * it runs on the main thread (Extism's own `timeoutMs` needs `runInWorker`,
 * which makes every host call a cross-thread round trip; docs/sandbox.md
 * has the measurements behind that choice).
 *
 * - Fuel: a wasm global, exported as {@link FUEL_EXPORT}. Every loop header
 *   and function entry burns 1, every import call {@link HOST_CALL_FUEL},
 *   every `memory.fill`/`memory.copy` one per 64 bytes. When it runs out
 *   the code calls `sup:host/sandbox` `tick`, which looks at the clock and
 *   the memory in use; a non-zero answer executes `unreachable`. A trap,
 *   unlike a thrown exception, cannot be caught by wasm exception handling,
 *   so a plugin cannot swallow its own timeout. The host also zeroes the
 *   exported fuel to stop a plugin at its next check.
 * - Extism's `alloc`, `var_get` and `var_set` and WASI's `poll_oneoff` are
 *   routed through `sup:host/sandbox`, so the host counts allocations and
 *   variables against the cap and bounds sleeps by the deadline; every
 *   `memory.grow` asks the host first, so linear memory, Extism blocks and
 *   vars stay under one cap together.
 * - WASI `environ_get`/`environ_sizes_get` are replaced by functions that
 *   write exactly the variables the host chose (Extism's WASI has no way to
 *   pass an environment).
 *
 * The output does not depend on the memory cap (wasm_sections.ts writes the
 * maxima afterwards), so one rewrite serves every cap and is cached by
 * content (sandbox_store.ts).
 *
 * @module
 */
// Binaryen through AssemblyScript's re-export (`assemblyscript/binaryen`,
// which pins binaryen to this exact version), not `npm:binaryen` directly:
// `deno task` reads every bin script of each npm package imported by name
// in full before it runs any task, and binaryen's nine bins are 83 MB
// (about 110 ms of CPU on every `deno task`, here and in every project
// that imports this module). A transitive dependency's bins are not read.
import type Binaryen from "npm:assemblyscript@0.28.20/binaryen";
import { InstrumentError } from "./sandbox_errors.ts";

export { InstrumentError };

let binaryen: typeof Binaryen;

/**
 * Version of the rewrite. Part of the content address of cached output:
 * bump it whenever {@link instrument}'s output changes.
 */
export const SANDBOX_VERSION = "6";
/** Import module of the functions the rewritten plugin calls. */
export const SANDBOX_MODULE = "sup:host/sandbox";
/** Export name of the fuel global. */
export const FUEL_EXPORT = "__sup_fuel";
/** Fuel between two looks at the clock. */
export const FUEL_PER_TICK = 10_000;
/** Fuel one call to any import burns. */
export const HOST_CALL_FUEL = 100;
/** `memory.fill`/`memory.copy` burn one fuel per 2^BULK_SHIFT bytes. */
export const BULK_SHIFT = 6;

const WASI = "wasi_snapshot_preview1";
const EXTISM_ENV = "extism:host/env";
const FUEL = "__sup_fuel";
const TICK = "__sup_tick";
const BURN = "__sup_burn";
const BULK32 = "__sup_bulk32";
const BULK64 = "__sup_bulk64";
const NO_HOOK = "__sup_no_hook";
const GROW = "__sup_grow";
const GROW64 = "__sup_grow64";

/** What {@link instrument} needs to know. */
export interface InstrumentOptions {
  /** Environment variables the plugin sees through WASI, in order. */
  env: ReadonlyArray<readonly [string, string]>;
}

/** Load Binaryen (a few hundred ms), once per process, only when a rewrite is needed. */
async function loadBinaryen(): Promise<typeof Binaryen> {
  if (binaryen === undefined) {
    const b = (await import("npm:assemblyscript@0.28.20/binaryen")).default;
    // The hooks are a dozen instructions; inlining keeps a loop iteration
    // at a few nanoseconds instead of a call. Set once, before any rewrite:
    // Binaryen's options are global, and the output (which is cached by
    // content) must not depend on what ran before.
    b.setAlwaysInlineMaxSize(20);
    b.setFlexibleInlineMaxSize(40);
    binaryen = b;
  }
  return binaryen;
}

/**
 * Rewrite `wasm` as described in the module comment.
 *
 * @example
 * ```ts
 * import { instrument } from "./sandbox.ts";
 * const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * const safe = await instrument(empty, { env: [] });
 * console.log(WebAssembly.validate(safe)); // true
 * ```
 */
export async function instrument(
  wasm: Uint8Array,
  options: InstrumentOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  const b = await loadBinaryen();
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
    const plugin = functionNames(mod).filter((n) =>
      b.getFunctionInfo(mod.getFunction(n)).module === ""
    );
    const before = new Set(functionNames(mod));
    mod.runPasses(["log-execution"]);
    const logger = functionNames(mod).find((n) => !before.has(n));
    if (logger === undefined) {
      throw new InstrumentError("binaryen's log-execution pass added no hook");
    }
    mod.removeFunction(logger);
    mod.addGlobal(FUEL, b.i32, true, mod.i32.const(FUEL_PER_TICK));
    mod.addGlobalExport(FUEL, FUEL_EXPORT);
    mod.addFunctionImport(TICK, SANDBOX_MODULE, "tick", b.none, b.i32);
    mod.addFunction(
      BURN,
      b.i32,
      b.none,
      [b.i32],
      burn(mod, mod.local.get(0, b.i32), 1),
    );
    // The hook's own (unused) parameter holds the new fuel value.
    mod.addFunction(logger, b.i32, b.none, [], burn(mod, mod.i32.const(1), 0));
    mod.addFunction(NO_HOOK, b.i32, b.none, [], mod.nop());
    addBulk(mod);
    addGrow(mod);
    for (const name of plugin) meterBulk(mod, name, logger);
    rewriteImports(mod, options.env);
    meterImports(mod);
    mod.runPasses(["inlining"]);
    if (!mod.validate()) {
      throw new InstrumentError("the rewritten module does not validate");
    }
    return mod.emitBinary() as Uint8Array<ArrayBuffer>;
  } finally {
    mod.dispose();
  }
}

/**
 * `fuel -= amount; if (fuel <= 0) { fuel = FUEL_PER_TICK; if (tick()) unreachable }`,
 * with the new value kept in local `scratch` so the global is read once.
 */
function burn(mod: Binaryen.Module, amount: number, scratch: number): number {
  const b = binaryen;
  return mod.block(null, [
    mod.global.set(
      FUEL,
      mod.local.tee(
        scratch,
        mod.i32.sub(mod.global.get(FUEL, b.i32), amount),
        b.i32,
      ),
    ),
    mod.if(
      mod.i32.le_s(mod.local.get(scratch, b.i32), mod.i32.const(0)),
      mod.block(null, [
        mod.global.set(FUEL, mod.i32.const(FUEL_PER_TICK)),
        mod.if(mod.call(TICK, [], b.i32), mod.unreachable()),
      ]),
    ),
  ]);
}

/** `__sup_bulk32/64(size) -> size`, burning fuel by size on the way. */
function addBulk(mod: Binaryen.Module): void {
  const b = binaryen;
  const shifted = () =>
    mod.i64.shr_u(mod.local.get(0, b.i64), mod.i64.const(BigInt(BULK_SHIFT)));
  mod.addFunction(
    BULK32,
    b.i32,
    b.i32,
    [],
    mod.block(null, [
      mod.call(BURN, [
        mod.i32.shr_u(mod.local.get(0, b.i32), mod.i32.const(BULK_SHIFT)),
      ], b.none),
      mod.local.get(0, b.i32),
    ], b.i32),
  );
  mod.addFunction(
    BULK64,
    b.i64,
    b.i64,
    [],
    mod.block(null, [
      mod.call(BURN, [
        mod.select(
          mod.i64.lt_u(shifted(), mod.i64.const(0x3fffffffn)),
          mod.i32.wrap(shifted()),
          mod.i32.const(0x3fffffff),
        ),
      ], b.none),
      mod.local.get(0, b.i64),
    ], b.i64),
  );
}

/** Loop passes counted in a local before one burn from the global. */
export const LOOP_BATCH = 64;

/** Whether `block`'s first child is a call to the log-execution hook. */
function isHook(b: typeof Binaryen, block: number, logger: string): boolean {
  const info = b.getExpressionInfo(block) as unknown as { children: number[] };
  const first = info.children[0];
  if (first === undefined || b.getExpressionId(first) !== b.CallId) {
    return false;
  }
  return (b.getExpressionInfo(first) as unknown as { target: string })
    .target === logger;
}

/** `if (--c <= 0) { c = LOOP_BATCH; burn(LOOP_BATCH) }` on local `c`. */
function loopCounter(mod: Binaryen.Module, c: number): number {
  const b = binaryen;
  return mod.if(
    mod.i32.le_s(
      mod.local.tee(
        c,
        mod.i32.sub(mod.local.get(c, b.i32), mod.i32.const(1)),
        b.i32,
      ),
      mod.i32.const(0),
    ),
    mod.block(null, [
      mod.local.set(c, mod.i32.const(LOOP_BATCH)),
      mod.call(BURN, [mod.i32.const(LOOP_BATCH)], b.none),
    ]),
  );
}

/**
 * `__sup_grow(pages)` asks the host (`sup:host/sandbox` `grow`), which
 * answers `pages`, or 0xFFFFFFFF pages (so the grow fails) when the memory
 * cap would be passed with the Extism blocks and vars already held.
 */
function addGrow(mod: Binaryen.Module): void {
  const b = binaryen;
  mod.addFunctionImport(GROW, SANDBOX_MODULE, "grow", b.i32, b.i32);
  mod.addFunction(
    GROW64,
    b.i64,
    b.i64,
    [],
    mod.i64.extend_u(
      mod.call(GROW, [
        mod.select(
          mod.i64.lt_u(mod.local.get(0, b.i64), mod.i64.const(0x7fffffffn)),
          mod.i32.wrap(mod.local.get(0, b.i64)),
          mod.i32.const(0x7fffffff),
        ),
      ], b.i32),
    ),
  );
}

/** Expression kinds without children. */
function leafIds(b: typeof Binaryen): Set<number> {
  return new Set([
    b.NopId,
    b.ConstId,
    b.LocalGetId,
    b.GlobalGetId,
    b.UnreachableId,
    b.MemorySizeId,
    b.RefNullId,
    b.RefFuncId,
    b.DataDropId,
    b.PopId,
    b.TableSizeId,
    b.RethrowId,
  ].filter((id) => typeof id === "number"));
}

/** Expression kinds that can hold others, and the fields holding them. */
function childKeys(b: typeof Binaryen): Map<number, string[]> {
  return new Map<number, string[]>([
    [b.BlockId, ["children"]],
    [b.IfId, ["condition", "ifTrue", "ifFalse"]],
    [b.LoopId, ["body"]],
    [b.BreakId, ["condition", "value"]],
    [b.SwitchId, ["condition", "value"]],
    [b.CallId, ["operands"]],
    [b.CallIndirectId, ["target", "operands"]],
    [b.LocalSetId, ["value"]],
    [b.GlobalSetId, ["value"]],
    [b.LoadId, ["ptr"]],
    [b.StoreId, ["ptr", "value"]],
    [b.UnaryId, ["value"]],
    [b.BinaryId, ["left", "right"]],
    [b.SelectId, ["ifTrue", "ifFalse", "condition"]],
    [b.DropId, ["value"]],
    [b.ReturnId, ["value"]],
    [b.MemoryGrowId, ["delta"]],
    [b.AtomicRMWId, ["ptr", "value"]],
    [b.AtomicCmpxchgId, ["ptr", "expected", "replacement"]],
    [b.SIMDExtractId, ["vec"]],
    [b.SIMDReplaceId, ["vec", "value"]],
    [b.SIMDShuffleId, ["left", "right"]],
    [b.SIMDTernaryId, ["a", "b", "c"]],
    [b.SIMDShiftId, ["vec", "shift"]],
    [b.SIMDLoadId, ["ptr"]],
    [b.SIMDLoadStoreLaneId, ["ptr", "vec"]],
    [b.MemoryInitId, ["dest", "offset", "size"]],
    [b.MemoryCopyId, ["dest", "source", "size"]],
    [b.MemoryFillId, ["dest", "value", "size"]],
    [b.RefIsNullId, ["value"]],
    [b.RefEqId, ["left", "right"]],
    [b.TableGetId, ["index"]],
    [b.TableSetId, ["index", "value"]],
    [b.TableGrowId, ["value", "delta"]],
    [b.TryId, ["body", "catchBodies"]],
    [b.ThrowId, ["operands"]],
    [b.TupleMakeId, ["operands"]],
    [b.TupleExtractId, ["tuple"]],
  ]);
}

/**
 * Route the size of every memory.fill/copy in `name` through the bulk
 * meter, and zero the ids of the log-execution hooks.
 */
function meterBulk(
  mod: Binaryen.Module,
  name: string,
  logger: string,
): void {
  const b = binaryen;
  const body = b.getFunctionInfo(mod.getFunction(name)).body;
  if (!body) return;
  const keys = childKeys(b);
  const leaves = leafIds(b);
  const api = b as unknown as Record<
    string,
    {
      setOperandAt(expr: number, i: number, op: number): void;
      setTarget(expr: number, target: string): void;
      setSize(expr: number, size: number): void;
      setChildAt(expr: number, i: number, child: number): void;
      setDelta(expr: number, delta: number): void;
    }
  >;
  const entryHooks: number[] = [];
  let counter = -1;
  // Whether a call can run outside every loop of this function, or the
  // function holds code this walk cannot see into.
  let callOutsideLoops = false;
  const stack: Array<[expr: number, inLoop: boolean]> = [[body, false]];
  while (stack.length > 0) {
    const [expr, inLoop] = stack.pop()!;
    const id = b.getExpressionId(expr);
    const fields = keys.get(id);
    if (fields === undefined) {
      // Kinds Binaryen.js has no accessors for (try_table, call_ref, for
      // some): the loop-header fuel still covers whatever is under those,
      // and the function keeps its entry hook.
      if (!leaves.has(id)) callOutsideLoops = true;
      continue;
    }
    const info = b.getExpressionInfo(expr) as unknown as Record<
      string,
      unknown
    >;
    if (id === b.CallId && info.target === logger) {
      // log-execution numbers its hooks from a process-wide counter; the
      // number is unused, and zeroing it makes the output depend on the
      // module alone (it is cached by content).
      api.Call.setOperandAt(expr, 0, mod.i32.const(0));
      if (!inLoop) entryHooks.push(expr);
    } else if ((id === b.CallId || id === b.CallIndirectId) && !inLoop) {
      callOutsideLoops = true;
    }
    if (id === b.MemoryGrowId) {
      const delta = info.delta as number;
      const wide = b.getExpressionType(delta) === b.i64;
      api.MemoryGrow.setDelta(
        expr,
        mod.call(wide ? GROW64 : GROW, [delta], wide ? b.i64 : b.i32),
      );
    }
    if (id === b.MemoryFillId || id === b.MemoryCopyId) {
      const size = info.size as number;
      const wide = b.getExpressionType(size) === b.i64;
      const metered = mod.call(
        wide ? BULK64 : BULK32,
        [size],
        wide ? b.i64 : b.i32,
      );
      // Typed in binaryen.js but missing from its .d.ts.
      api[id === b.MemoryFillId ? "MemoryFill" : "MemoryCopy"].setSize(
        expr,
        metered,
      );
    }
    if (id === b.LoopId) {
      // log-execution made the loop body `[call hook, body]`. Count loop
      // passes in a local (a register) and burn LOOP_BATCH fuel from the
      // global once per batch, in advance, so nothing goes uncounted.
      const block = info.body as number;
      if (
        block !== 0 && b.getExpressionId(block) === b.BlockId &&
        isHook(b, block, logger)
      ) {
        if (counter < 0) {
          counter = (b as unknown as {
            _BinaryenFunctionAddVar(f: number, t: number): number;
          })._BinaryenFunctionAddVar(mod.getFunction(name), b.i32);
        }
        api.Block.setChildAt(block, 0, loopCounter(mod, counter));
      }
    }
    const childInLoop = inLoop || id === b.LoopId;
    for (const key of fields) {
      const child = info[key];
      if (typeof child === "number" && child !== 0) {
        stack.push([child, childInLoop]);
      } else if (Array.isArray(child)) {
        for (const c of child) {
          if (typeof c === "number" && c !== 0) stack.push([c, childInLoop]);
        }
      }
    }
  }
  // The entry hook bounds recursion and call chains. A function whose
  // every call sits inside a loop passes a loop-header hook before each
  // call, and one without calls runs straight-line code between its loop
  // hooks: either way the work between two hooks stays bounded by the
  // code's size, so the entry hook can go (recursive code pays one hook a
  // call instead of two).
  if (!callOutsideLoops) {
    for (const hook of entryHooks) api.Call.setTarget(hook, NO_HOOK);
  }
}

/**
 * Every imported function except `tick` becomes a defined function that
 * burns {@link HOST_CALL_FUEL} and calls the import, so a loop of host
 * calls reaches the clock as often as a loop of arithmetic.
 */
function meterImports(mod: Binaryen.Module): void {
  const b = binaryen;
  const imports: Binaryen.FunctionInfo[] = [];
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = b.getFunctionInfo(mod.getFunctionByIndex(i));
    if (info.module !== "" && info.name !== TICK) imports.push(info);
  }
  for (const info of imports) {
    const real = `${info.name}$import`;
    mod.removeFunction(info.name);
    mod.addFunctionImport(
      real,
      info.module!,
      info.base!,
      info.params,
      info.results,
    );
    const params = b.expandType(info.params);
    mod.addFunction(
      info.name,
      info.params,
      info.results,
      [],
      mod.block(null, [
        mod.call(BURN, [mod.i32.const(HOST_CALL_FUEL)], b.none),
        mod.call(real, params.map((t, i) => mod.local.get(i, t)), info.results),
      ], info.results),
    );
  }
}

function functionNames(mod: Binaryen.Module): string[] {
  const names: string[] = [];
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    names.push(binaryen.getFunctionInfo(mod.getFunctionByIndex(i)).name);
  }
  return names;
}

/** Extism functions the host answers itself, to count what they hold. */
const ROUTED_ENV = new Set(["alloc", "var_get", "var_set"]);

function rewriteImports(
  mod: Binaryen.Module,
  env: ReadonlyArray<readonly [string, string]>,
): void {
  const b = binaryen;
  const environ = environBytes(env);
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = b.getFunctionInfo(mod.getFunctionByIndex(i));
    const routed = (info.module === EXTISM_ENV && ROUTED_ENV.has(info.base!)) ||
      (info.module === WASI && info.base === "poll_oneoff");
    if (routed) {
      mod.removeFunction(info.name);
      mod.addFunctionImport(
        info.name,
        SANDBOX_MODULE,
        info.base!,
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
