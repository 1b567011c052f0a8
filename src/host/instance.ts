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
import {
  charge,
  type HostFunction,
  type HostState,
  type Logger,
} from "./context.ts";
import { PluginTimeoutError } from "./errors.ts";
import { SANDBOX_MODULE } from "./sandbox.ts";
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

/** Deadline of the running call, shared with the sandbox's `tick`. */
export interface Clock {
  /** `performance.now()` value after which the plugin is stopped. */
  deadline: number;
  /** The limit, for the error message. */
  timeoutMs: number;
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
 * caller's extra functions (which win on a name clash) and the sandbox hooks.
 */
export async function instantiate(
  module: WebAssembly.Module,
  state: HostState,
  clock: Clock,
  settings: InstanceSettings,
): Promise<Plugin> {
  const { default: createPlugin } = await import(
    "npm:@extism/extism@2.0.0-rc13"
  );
  const sandbox: Record<string, HostFunction> = {
    tick: () => {
      if (performance.now() > clock.deadline) {
        throw new PluginTimeoutError(state.plugin, state.fn, clock.timeoutMs);
      }
    },
    alloc: (cx, size) => {
      charge(state, Number(size));
      return cx.alloc(size);
    },
  };
  return await createPlugin({ wasm: [{ module }] }, {
    useWasi: settings.wasi,
    runInWorker: false,
    functions: {
      "extism:host/user": {
        ...supHostFunctions(state),
        ...binaryHostFunctions(state),
        ...settings.hostFunctions,
      },
      [SANDBOX_MODULE]: sandbox,
    },
    config: settings.config,
    allowedPaths: settings.allowedPaths,
    allowedHosts: settings.allowedHosts,
    logger: settings.logger ? extismLogger(settings.logger) : undefined,
    logLevel: settings.logger ? "info" : "silent",
  });
}
