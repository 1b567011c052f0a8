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
import { SANDBOX_MODULE } from "./sandbox.ts";
import type { ManifestMemory, ResolvedSource } from "./source.ts";
import { PAGE_BYTES } from "./wasm_sections.ts";

/** The import module sup's host functions and bare `hostFunctions` entries live in. */
export const USER_MODULE = "extism:host/user";

/** Log levels, as Extism's JS SDK names them; lines below the level are dropped. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";

const LOG_LEVELS: ReadonlyArray<LogLevel> = [
  "trace",
  "debug",
  "info",
  "warn",
  "error",
  "silent",
];

/**
 * Host functions for `loadPlugin`: Extism's JS SDK shape (import module,
 * then function name: `{ user: { greet: fn } }`), and, as a shorthand,
 * bare functions, which go to `extism:host/user`.
 */
export type HostFunctions = Record<
  string,
  HostFunction | Record<string, HostFunction>
>;

/**
 * Import modules a plugin's own host functions may not replace: the
 * sandbox's hooks, Extism's kernel and WASI are where the deadline and
 * the memory cap are enforced.
 */
const RESERVED_MODULES = new Set([
  SANDBOX_MODULE,
  "extism:host/env",
  "wasi_snapshot_preview1",
]);

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
   * Host functions, in Extism's JS SDK shape `{ [importModule]: { [name]:
   * fn } }` (e.g. `{ user: { greet } }` for a plugin importing `"user"
   * "greet"`); a bare function at the top level is shorthand for
   * `extism:host/user`, where it adds to or replaces sup's functions (a
   * real `send_image` or `exec_command`). They receive Extism's call
   * context and the raw arguments, and may be async (the call's deadline
   * still holds; a synchronous one that blocks cannot be interrupted).
   */
  hostFunctions?: HostFunctions;
  /** Receives plugin log lines and refused requests. Default: silent. */
  logger?: Logger;
  /**
   * The lowest level of plugin log lines passed to `logger` (Extism's
   * `logLevel`). Default `"info"` with a logger, `"silent"` without.
   * `"trace"` lines go to `logger.trace` when it has one, else `debug`.
   */
  logLevel?: LogLevel;
  /**
   * Extism's memory options, as in the JS SDK (a manifest's `memory` is
   * used when absent): `maxPages` bounds the Extism blocks of a call,
   * `maxVarBytes` the plugin's vars, `maxHttpResponseBytes` one HTTP body.
   * All of them also stay under `maxMemoryBytes`.
   */
  memory?: ManifestMemory;
  /** Let plugins read HTTP response headers (`http_headers`). Default `false`. */
  allowHttpResponseHeaders?: boolean;
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
  "logLevel",
  "memory",
  "allowHttpResponseHeaders",
];

const MEMORY_NAMES = ["maxPages", "maxVarBytes", "maxHttpResponseBytes"];

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
  /** Bytes the plugin's vars may hold (Extism's `maxVarBytes`), `Infinity` for no bound besides the cap. */
  maxVarBytes: number;
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
  const manifest = resolved.manifest;
  // Like the SDK: an option wins over the manifest. A manifest's `null`
  // (the SDK's "no timeout") still gets the default: every call has a deadline.
  const timeoutMs = positive(
    name,
    "timeoutMs",
    options.timeoutMs ?? manifest.timeoutMs ?? undefined,
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
  const memory = options.memory ?? manifest.memory ?? {};
  if (typeof memory !== "object" || memory === null) {
    throw new PluginLoadError(name, "memory must be an object");
  }
  checkOptions(memory, MEMORY_NAMES, "loadPlugin's memory");
  const maxPages = memory.maxPages === undefined
    ? undefined
    : positive(name, "memory.maxPages", memory.maxPages, 0);
  const maxVarBytes = memory.maxVarBytes === undefined
    ? Infinity
    : positive(name, "memory.maxVarBytes", memory.maxVarBytes, 0);
  const maxHttpResponseBytes = Math.min(
    maxMemoryBytes,
    positive(
      name,
      "memory.maxHttpResponseBytes",
      memory.maxHttpResponseBytes,
      maxMemoryBytes,
    ),
  );
  const logLevel = options.logLevel ?? (options.logger ? "info" : "silent");
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new PluginLoadError(
      name,
      `logLevel must be one of ${LOG_LEVELS.join(", ")}; got ${
        JSON.stringify(logLevel)
      }`,
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
    maxVarBytes,
    settings: {
      wasi: options.wasi ?? true,
      config: { ...manifest.config, ...options.config },
      allowedPaths: options.allowedPaths ?? manifest.allowedPaths ?? {},
      allowedHosts: options.allowedHosts ?? manifest.allowedHosts ?? [],
      logger: options.logger ?? null,
      logLevel,
      functions: hostFunctionsByModule(name, options.hostFunctions ?? {}),
      memory: { maxPages, maxHttpResponseBytes },
      allowHttpResponseHeaders: options.allowHttpResponseHeaders ?? false,
    },
  };
}

/**
 * Sort `hostFunctions` into import modules: bare functions go to
 * {@link USER_MODULE}; modules the sandbox relies on are refused.
 */
function hostFunctionsByModule(
  plugin: string,
  given: HostFunctions,
): Record<string, Record<string, HostFunction>> {
  if (typeof given !== "object" || given === null) {
    throw new PluginLoadError(plugin, "hostFunctions must be an object");
  }
  const out: Record<string, Record<string, HostFunction>> = {};
  for (const [key, value] of Object.entries(given)) {
    if (typeof value === "function") {
      (out[USER_MODULE] ??= {})[key] = value;
      continue;
    }
    if (RESERVED_MODULES.has(key) || key.startsWith("sup:host/")) {
      throw new PluginLoadError(
        plugin,
        `hostFunctions may not supply "${key}": the sandbox's deadline and memory cap depend on that module`,
      );
    }
    if (typeof value !== "object" || value === null) {
      throw new PluginLoadError(
        plugin,
        `hostFunctions.${key} must be a function (an extism:host/user function) or an object of functions (an import module)`,
      );
    }
    for (const [fn, f] of Object.entries(value)) {
      if (typeof f !== "function") {
        throw new PluginLoadError(
          plugin,
          `hostFunctions["${key}"]["${fn}"] must be a function`,
        );
      }
      (out[key] ??= {})[fn] = f;
    }
  }
  return out;
}
