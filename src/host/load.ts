/**
 * `loadPlugin`: read, sandbox and instantiate a plugin, wire it to its
 * namespace of a cache, and hand back a {@link SupPlugin}.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createSupCache, type SupCache } from "../cache/cache.ts";
import { checkOptions } from "../check_options.ts";
import type { HostFunction, HostState, Logger } from "./context.ts";
import { describeThrown, PluginLoadError } from "./errors.ts";
import { pluginDirName } from "./files.ts";
import { type InstanceSettings, instantiate } from "./instance.ts";
import { SupPlugin } from "./plugin.ts";
import { runCall } from "./call_runner.ts";
import { sandboxed, sandboxKey } from "./sandbox_store.ts";
import { capLimits, PAGE_BYTES, refuseUncappable } from "./wasm_sections.ts";
import { type PluginSource, resolveSource } from "./source.ts";

/** Default call timeout: generous for a chat command, short enough to notice a hang. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Default memory cap (linear memory, and Extism memory per call). */
export const DEFAULT_MAX_MEMORY_BYTES = 256 * 1_048_576;

/** Options of {@link loadPlugin}. */
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
  /** Per-call time limit in ms. Default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Memory cap in bytes, rounded down to 64 KiB pages. Default {@link DEFAULT_MAX_MEMORY_BYTES}. */
  maxMemoryBytes?: number;
  /** Turn WASI off (plugins importing it then fail to load). Default `true`. */
  wasi?: boolean;
  /**
   * Extra or replacing `extism:host/user` functions, by name, e.g. a real
   * `send_image` or `exec_command`. They receive Extism's call context and
   * the raw i64 arguments.
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

/** Compiled modules by content address and memory cap: a warm load compiles nothing. */
const compiled = new Map<
  string,
  { module: WebAssembly.Module; tableBytes: number }
>();

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

/**
 * Load a plugin: its namespace in `options.cache` is its name, its host
 * functions are sup's plus the binary ABI, and every call runs under
 * `timeoutMs` and `maxMemoryBytes`.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { loadPlugin } from "./mod.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * // The smallest valid module: no exports, so sup's fallbacks answer.
 * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
 * console.log(await plugin.version(), await plugin.topics()); // "unknown" [ "empty" ]
 * ```
 */
export async function loadPlugin(
  source: PluginSource,
  options: LoadPluginOptions = {},
): Promise<SupPlugin> {
  checkOptions(options, OPTION_NAMES, "loadPlugin");
  const resolved = await resolveSource(source);
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
  let tableBytes = 0;
  const compile = async (env: [string, string][], dataDir: string | null) => {
    try {
      const id = `${sandboxKey(resolved.bytes, env)}/${maxMemoryBytes}`;
      let hit = compiled.get(id);
      if (hit === undefined) {
        refuseUncappable(resolved.bytes);
        const out = await sandboxed(resolved.bytes, env, dataDir);
        const capped = capLimits(out.wasm, maxMemoryBytes);
        hit = {
          module: await WebAssembly.compile(capped.wasm),
          tableBytes: capped.tableBytes,
        };
        compiled.set(id, hit);
      }
      tableBytes = hit.tableBytes;
      return hit.module;
    } catch (cause) {
      throw new PluginLoadError(name, (cause as Error).message, { cause });
    }
  };

  const ownsCache = options.cache === undefined;
  const cache = options.cache ?? await createSupCache();
  let instance;
  try {
    let module = await compile([], cache.dataDir);
    const filesDir = options.filesDir ??
      (cache.dataDir === null
        ? null
        : join(cache.dataDir, "plugins", pluginDirName(name)));
    if (filesDir !== null) {
      try {
        mkdirSync(filesDir, { recursive: true, mode: 0o700 });
      } catch (cause) {
        throw new PluginLoadError(
          name,
          `cannot create the plugin data directory ${filesDir}: ${
            (cause as Error).message
          }`,
          { cause },
        );
      }
    }
    const state: HostState = {
      plugin: name,
      cache: cache.namespace(name).sync,
      store: cache.store(name).sync,
      filesDir,
      logger: options.logger ?? silent,
      maxMemoryBytes,
      tableBytes,
      timeoutMs,
      deadline: Date.now() + timeoutMs,
      poison: null,
      memory: null,
      fuel: null,
      vars: new Map(),
      varBytes: 0,
      probing: false,
      fn: "(instantiation)",
      allocated: 0,
    };
    const settings: InstanceSettings = {
      wasi: options.wasi ?? true,
      config: { ...resolved.manifest.config, ...options.config },
      allowedPaths: options.allowedPaths ?? resolved.manifest.allowedPaths ??
        {},
      allowedHosts: options.allowedHosts ?? resolved.manifest.allowedHosts ??
        [],
      logger: options.logger ?? null,
      hostFunctions: options.hostFunctions ?? {},
    };
    const create = async (mod: WebAssembly.Module) => {
      state.deadline = Date.now() + timeoutMs;
      state.poison = null;
      state.fn = "(instantiation)";
      state.allocated = 0;
      try {
        return await instantiate(mod, state, settings);
      } catch (cause) {
        throw new PluginLoadError(
          name,
          describeThrown(state.poison ?? cause),
          { cause: state.poison ?? cause },
        );
      }
    };
    instance = await create(module);
    const suspends = canSuspend(module, settings.hostFunctions);
    const wantsEnv = WebAssembly.Module.exports(module).some((e) =>
      e.name === "get_required_env_vars" && e.kind === "function"
    );
    if (wantsEnv) {
      // Like sup's temporary plugin: host functions answer "not available"
      // while the plugin only names its variables.
      state.probing = true;
      state.fn = "get_required_env_vars";
      let names: unknown;
      try {
        const out = await runCall(
          state,
          instance,
          "get_required_env_vars",
          new Uint8Array(0),
          suspends,
        );
        if (!out.ok) throw out.error;
        names = out.output.length === 0
          ? []
          : JSON.parse(new TextDecoder().decode(out.output));
      } catch (cause) {
        await instance.plugin.close();
        throw new PluginLoadError(
          name,
          `get_required_env_vars failed or did not answer a JSON array of names: ${
            describeThrown(state.poison ?? cause)
          }`,
          { cause },
        );
      } finally {
        state.probing = false;
        state.fn = "(instantiation)";
      }
      if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) {
        await instance.plugin.close();
        throw new PluginLoadError(
          name,
          `get_required_env_vars answered ${
            JSON.stringify(names)
          }; expected a JSON array of variable names`,
        );
      }
      const env: [string, string][] = [];
      for (const key of names as string[]) {
        let value: string | undefined;
        try {
          value = options.env ? options.env[key] : Deno.env.get(key);
        } catch (cause) {
          await instance.plugin.close();
          throw new PluginLoadError(
            name,
            `the plugin needs $${key}, but reading it was refused; run with --allow-env=${key} or pass options.env`,
            { cause },
          );
        }
        if (value) env.push([key, value]);
      }
      if (env.length > 0) {
        // WASI runtimes read the environment once at start-up, so the
        // variables must be in the module before it is instantiated.
        await instance.plugin.close();
        module = await compile(env, cache.dataDir);
        instance = await create(module);
      }
    }
    return new SupPlugin({
      module,
      instance,
      state,
      settings,
      suspends,
      onClose: ownsCache ? () => cache.close() : () => Promise.resolve(),
    });
  } catch (err) {
    if (ownsCache) await cache.close();
    throw err;
  }
}

/**
 * Whether a call can wait on a promise: the module imports Extism's
 * `http_request` (which Extism runs asynchronously) or one of the caller's
 * host functions is async.
 */
function canSuspend(
  module: WebAssembly.Module,
  hostFunctions: Record<string, HostFunction>,
): boolean {
  const http = WebAssembly.Module.imports(module).some((i) =>
    i.name === "http_request"
  );
  return http ||
    Object.values(hostFunctions).some((f) =>
      f.constructor.name === "AsyncFunction"
    );
}
