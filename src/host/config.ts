/**
 * Turns `loadPlugin`'s options and the resolved source into one plugin
 * configuration: validated limits, defaults filled in, the instance
 * settings. Everything after this reads the config, never the options.
 *
 * @module
 */
import type { SupCache } from "../cache/cache.ts";
import { checkOptions } from "../check_options.ts";
import type { HostFunction, Logger } from "./context.ts";
import { PluginLoadError } from "./errors.ts";
import type { InstanceSettings } from "./instance.ts";
import type { ResolvedSource } from "./source.ts";
import { PAGE_BYTES } from "./wasm_sections.ts";

/** Default call timeout: generous for a chat command, short enough to notice a hang. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Default of the one memory cap (linear memory, tables, Extism blocks and vars). */
export const DEFAULT_MAX_MEMORY_BYTES = 256 * 1_048_576;

/** Options of `loadPlugin`. Unknown names are errors. */
export interface LoadPluginOptions {
  /**
   * The cache whose namespace the plugin uses. When absent, one is created
   * on the default data directory and closed with the plugin.
   */
  cache?: SupCache;
  /** Plugin name and namespace. Default: the file name without `.wasm`. */
  name?: string;
  /** Extism config the plugin reads with `config_get`. */
  config?: Record<string, string>;
  /**
   * Where the values of the variables named by the plugin's
   * `get_required_env_vars` come from. Default: the process environment
   * (`Deno.env`, needing `--allow-env` for exactly those names). Only the
   * named variables with non-empty values reach the plugin, as in sup.
   */
  env?: Record<string, string>;
  /** Hosts the plugin may reach with Extism's `http_request`. Default none. */
  allowedHosts?: string[];
  /** WASI preopens, guest path to host path. Default none. */
  allowedPaths?: Record<string, string>;
  /** Directory `read_file`/`list_directory` see. Default `<cache.dataDir>/plugins/<name>`. */
  filesDir?: string;
  /**
   * Per-call time limit in ms, held whatever the plugin does (loops,
   * sleeps, caught exceptions, slow or async host calls). Default
   * {@link DEFAULT_TIMEOUT_MS}.
   */
  timeoutMs?: number;
  /**
   * The one memory cap in bytes: the plugin's linear memory, its tables,
   * the Extism blocks of a call and its Extism vars together. Default
   * {@link DEFAULT_MAX_MEMORY_BYTES}.
   */
  maxMemoryBytes?: number;
  /** Turn WASI off (plugins importing it then fail to load). Default `true`. */
  wasi?: boolean;
  /**
   * Extra or replacing `extism:host/user` functions, by name, e.g. a real
   * `send_image` or `exec_command`. They receive Extism's call context and
   * the raw i64 arguments, and may be async (the call's deadline still
   * holds; a synchronous one that blocks cannot be interrupted).
   */
  hostFunctions?: Record<string, HostFunction>;
  /** Receives plugin log lines and refused requests. Default: silent. */
  logger?: Logger;
}

const OPTION_NAMES: ReadonlyArray<keyof LoadPluginOptions> = [
  "cache",
  "name",
  "config",
  "env",
  "allowedHosts",
  "allowedPaths",
  "filesDir",
  "timeoutMs",
  "maxMemoryBytes",
  "wasi",
  "hostFunctions",
  "logger",
];

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function positive(
  plugin: string,
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new PluginLoadError(
      plugin,
      `${name} must be a positive number, got ${value}`,
    );
  }
  return value;
}

/** A plugin's resolved configuration. */
export interface PluginConfig {
  /** Plugin name and namespace. */
  name: string;
  /** Per-call limit in ms. */
  timeoutMs: number;
  /** The one memory cap in bytes. */
  maxMemoryBytes: number;
  /** The caller's cache, or `null` to open the default one. */
  cache: SupCache | null;
  /** Explicit `read_file`/`list_directory` directory, or `null` for the default. */
  filesDir: string | null;
  /** Where required variables come from: the caller's map, or `null` for Deno.env. */
  env: Record<string, string> | null;
  /** The logger (silent by default). */
  logger: Logger;
  /** What every instance is created with. */
  settings: InstanceSettings;
}

/**
 * Check `options` (unknown names are errors) and resolve them against the
 * source into a {@link PluginConfig}.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const config = resolveConfig(
 *   { bytes: new Uint8Array(), name: "demo", manifest: {} },
 *   { timeoutMs: 500 },
 * );
 * console.log(config.name, config.timeoutMs); // "demo" 500
 * ```
 */
export function resolveConfig(
  resolved: ResolvedSource,
  options: LoadPluginOptions = {},
): PluginConfig {
  checkOptions(options, OPTION_NAMES, "loadPlugin");
  const name = options.name ?? resolved.name;
  if (name === null || name === "") {
    throw new PluginLoadError(
      "?",
      "the source has no file name to take the plugin name from; pass options.name",
    );
  }
  const timeoutMs = positive(
    name,
    "timeoutMs",
    options.timeoutMs,
    DEFAULT_TIMEOUT_MS,
  );
  const maxMemoryBytes = positive(
    name,
    "maxMemoryBytes",
    options.maxMemoryBytes,
    DEFAULT_MAX_MEMORY_BYTES,
  );
  if (maxMemoryBytes < PAGE_BYTES) {
    throw new PluginLoadError(
      name,
      `maxMemoryBytes must be at least ${PAGE_BYTES} (one page)`,
    );
  }
  return {
    name,
    timeoutMs,
    maxMemoryBytes,
    cache: options.cache ?? null,
    filesDir: options.filesDir ?? null,
    env: options.env ?? null,
    logger: options.logger ?? silent,
    settings: {
      wasi: options.wasi ?? true,
      config: { ...resolved.manifest.config, ...options.config },
      allowedPaths: options.allowedPaths ?? resolved.manifest.allowedPaths ??
        {},
      allowedHosts: options.allowedHosts ?? resolved.manifest.allowedHosts ??
        [],
      logger: options.logger ?? null,
      hostFunctions: options.hostFunctions ?? {},
    },
  };
}
