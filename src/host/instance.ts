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
import type { HostFunction, HostState, Logger } from "./context.ts";
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
  hostFunctions: Record<string, HostFunction>;
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

/** Extism also calls `trace`, which {@link Logger} leaves out. */
function extismLogger(logger: Logger): ExtismLogger {
  return {
    trace: (...a: unknown[]) => logger.debug(...a),
    debug: (...a: unknown[]) => logger.debug(...a),
    info: (...a: unknown[]) => logger.info(...a),
    warn: (...a: unknown[]) => logger.warn(...a),
    error: (...a: unknown[]) => logger.error(...a),
  } as unknown as ExtismLogger;
}

/**
 * Instantiate `module` with sup's host functions, the binary ABI, the
 * caller's extra functions (which win on a name clash), each behind the
 * sandbox's guard, and the sandbox hooks. The caller sets
 * `state.deadline` first: start functions run here.
 */
export async function instantiate(
  module: WebAssembly.Module,
  state: HostState,
  settings: InstanceSettings,
): Promise<Instance> {
  const { default: createPlugin } = await import(
    "npm:@extism/extism@2.0.0-rc13"
  );
  const slot: Slot = { dead: false };
  const user: Record<string, HostFunction> = {
    ...supHostFunctions(state),
    ...binaryHostFunctions(state),
    ...settings.hostFunctions,
  };
  for (const name of Object.keys(user)) {
    user[name] = guard(state, slot, user[name]);
  }
  state.memory = null;
  state.fuel = null;
  const plugin = await createPlugin({
    wasm: [{ module }],
    // Extism reads HTTP bodies itself, outside the blocks the sandbox
    // counts; at least no single body may pass the cap.
    memory: { maxHttpResponseBytes: state.maxMemoryBytes },
  }, {
    useWasi: settings.wasi,
    runInWorker: false,
    functions: {
      "extism:host/user": user,
      [SANDBOX_MODULE]: sandboxImports(state, slot),
    },
    config: settings.config,
    allowedPaths: settings.allowedPaths,
    allowedHosts: settings.allowedHosts,
    logger: settings.logger ? extismLogger(settings.logger) : undefined,
    logLevel: settings.logger ? "info" : "silent",
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
