/**
 * The plugin host: {@link loadPlugin} and what it returns and throws.
 * `mod.ts` at the top re-exports all of this.
 *
 * @module
 */
export {
  DEFAULT_MAX_MEMORY_BYTES,
  DEFAULT_TIMEOUT_MS,
  type HostFunctions,
  loadPlugin,
  type LoadPluginOptions,
  type LogLevel,
} from "./load.ts";
export {
  type IncomingMessage,
  type MessageInfo,
  type MessageReply,
  Plugin,
  type PluginHelp,
  type PluginInput,
  SupPlugin,
} from "./plugin.ts";
export { PluginResult } from "./result.ts";
export type {
  ManifestMemory,
  PluginManifest,
  PluginManifestWasm,
  PluginSource,
} from "./source.ts";
export type { HostCallContext, HostFunction, Logger } from "./context.ts";
export {
  PluginError,
  PluginLoadError,
  PluginMemoryError,
  PluginTimeoutError,
} from "./errors.ts";
export { ERROR, MISS, OK } from "./binary_abi.ts";
