/**
 * One Extism instance of an instrumented plugin module, with the host
 * functions wired in. A plugin that trapped or timed out gets a new one
 * from the same compiled module, so nothing is recompiled.
 *
 * @module
 */
// Extism is imported on the first plugin load, not with mod.ts: its npm
// build reads environment variables at import, and cache-only scripts
// should need no --allow-env for that.
import type createPluginType from "npm:@extism/extism@2.0.0-rc13";
import type { Plugin } from "npm:@extism/extism@2.0.0-rc13";
import { binaryHostFunctions } from "./binary_abi.ts";
import { type LogLevel, USER_MODULE } from "./config.ts";
import type { HostFunction, HostState, Logger } from "./context.ts";
import { LINKED_SANDBOX_MODULE } from "./compile.ts";
import { FUEL_EXPORT, SANDBOX_MODULE } from "./sandbox.ts";
import { guard, sandboxImports, type Slot } from "./sandbox_imports.ts";
import { supHostFunctions } from "./sup_abi.ts";

/** What an instance needs besides the module. */
export interface InstanceSettings {
  wasi: boolean;
  config: Record<string, string>;
  allowedPaths: Record<string, string>;
  allowedHosts: string[];
  logger: Logger | null;
  logLevel: LogLevel;
  /** The caller's host functions by import module (see config.ts). */
  functions: Record<string, Record<string, HostFunction>>;
  /** Extism's own memory options (blocks' pages, HTTP body bytes). */
  memory: { maxPages?: number; maxHttpResponseBytes: number };
  allowHttpResponseHeaders: boolean;
}

/** A compiled linked module of a manifest, by the name others import it by. */
export interface LinkedCompiled {
  name: string;
  module: WebAssembly.Module;
  /** Its initial memory and its tables' bytes, counted at instantiation. */
  bytes: number;
}

/** A live instance and the handles the sandbox needs to stop and measure it. */
export interface Instance {
  plugin: Plugin;
  slot: Slot;
  memory: WebAssembly.Memory | null;
  fuel: WebAssembly.Global | null;
}

type ExtismLogger = NonNullable<
  NonNullable<Parameters<typeof createPluginType>[1]>["logger"]
>;

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

let extism: Promise<typeof import("npm:@extism/extism@2.0.0-rc13")> | null =
  null;

/**
 * Import Extism, once per process. `loadPlugin` starts this before it reads
 * and compiles the module, so the import's file reads overlap that work
 * (a few ms of a CLI call's start).
 *
 * @example
 * ```ts
 * import { importExtism } from "./instance.ts";
 * const { default: createPlugin } = await importExtism();
 * console.log(typeof createPlugin); // "function"
 * ```
 */
export function importExtism(): Promise<
  typeof import("npm:@extism/extism@2.0.0-rc13")
> {
  extism ??= import("npm:@extism/extism@2.0.0-rc13");
  return extism;
}

/** Extism also calls `trace`, which {@link Logger} may leave out. */
function extismLogger(logger: Logger): ExtismLogger {
  return {
    trace: (...a: unknown[]) => (logger.trace ?? logger.debug).apply(logger, a),
    debug: (...a: unknown[]) => logger.debug(...a),
    info: (...a: unknown[]) => logger.info(...a),
    warn: (...a: unknown[]) => logger.warn(...a),
    error: (...a: unknown[]) => logger.error(...a),
  } as unknown as ExtismLogger;
}

/**
 * Instantiate `module` (and the `linked` modules it imports from, which
 * Extism links by name) with sup's host functions, the binary ABI, the
 * caller's functions (which win on a name clash), each behind the
 * sandbox's guard, and the sandbox hooks. The caller sets
 * `state.deadline` first: start functions run here.
 */
export async function instantiate(
  module: WebAssembly.Module,
  state: HostState,
  settings: InstanceSettings,
  linked: ReadonlyArray<LinkedCompiled> = [],
): Promise<Instance> {
  const { default: createPlugin } = await importExtism();
  const slot: Slot = { dead: false };
  const functions: Record<string, Record<string, HostFunction>> = {};
  for (const [module, given] of Object.entries(settings.functions)) {
    functions[module] = { ...given };
  }
  functions[USER_MODULE] = {
    ...supHostFunctions(state),
    ...binaryHostFunctions(state),
    ...settings.functions[USER_MODULE],
  };
  for (const table of Object.values(functions)) {
    for (const name of Object.keys(table)) {
      table[name] = guard(state, slot, table[name]);
    }
  }
  state.memory = null;
  state.fuel = null;
  // Counted whether or not the entry imports from them: a bound, not a guess.
  state.linkedBytes = linked.reduce((n, l) => n + l.bytes, 0);
  const plugin = await createPlugin({
    wasm: [
      ...linked.map((l) => ({ name: l.name, module: l.module })),
      { name: "main", module },
    ],
    // Extism reads HTTP bodies itself, outside the blocks the sandbox
    // counts; at least no single body may pass the cap (config.ts bounds
    // maxHttpResponseBytes by maxMemoryBytes).
    memory: settings.memory,
  }, {
    useWasi: settings.wasi,
    runInWorker: false,
    functions: {
      ...functions,
      [SANDBOX_MODULE]: sandboxImports(state, slot),
      ...(linked.length > 0
        ? { [LINKED_SANDBOX_MODULE]: sandboxImports(state, slot, true) }
        : {}),
    },
    config: settings.config,
    allowedPaths: settings.allowedPaths,
    allowedHosts: settings.allowedHosts,
    allowHttpResponseHeaders: settings.allowHttpResponseHeaders,
    // Never Extism's default (console): a silent host stays silent.
    logger: extismLogger(settings.logger ?? SILENT),
    logLevel: settings.logger ? settings.logLevel : "silent",
  });
  const exports = (await plugin.getInstance()).exports;
  const memory = exports.memory instanceof WebAssembly.Memory
    ? exports.memory
    : null;
  const fuel = exports[FUEL_EXPORT] instanceof WebAssembly.Global
    ? exports[FUEL_EXPORT] as WebAssembly.Global
    : null;
  state.memory = memory;
  state.fuel = fuel;
  return { plugin, slot, memory, fuel };
}
