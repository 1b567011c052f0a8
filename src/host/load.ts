/**
 * `loadPlugin`: read, sandbox and instantiate a plugin, wire it to its
 * namespace of a cache, and hand back a {@link SupPlugin}. Options are
 * resolved once (config.ts), modules compiled once (compile.ts), calls run
 * by one runner (call_runner.ts).
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createSupCache } from "../cache/cache.ts";
import { runCall } from "./call_runner.ts";
import { compileSandboxed } from "./compile.ts";
import { type LoadPluginOptions, resolveConfig } from "./config.ts";
import type { HostFunction, HostState } from "./context.ts";
import { describeThrown, PluginLoadError } from "./errors.ts";
import { pluginDirName } from "./files.ts";
import { instantiate } from "./instance.ts";
import { SupPlugin } from "./plugin.ts";
import { type PluginSource, resolveSource } from "./source.ts";

export {
  DEFAULT_MAX_MEMORY_BYTES,
  DEFAULT_TIMEOUT_MS,
  type LoadPluginOptions,
} from "./config.ts";

/**
 * Load a plugin: its namespace in `options.cache` is its name, its host
 * functions are sup's plus the binary ABI, and every call runs under
 * `timeoutMs` and `maxMemoryBytes`.
 *
 * @example
 * ```ts
 * import { createSupCache, loadPlugin } from "@sup/cache";
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
  const resolved = await resolveSource(source);
  const config = resolveConfig(resolved, options);
  const { name, timeoutMs, maxMemoryBytes, settings } = config;
  let tableBytes = 0;
  const compile = async (env: [string, string][], dataDir: string | null) => {
    try {
      const out = await compileSandboxed(
        resolved.bytes,
        env,
        maxMemoryBytes,
        dataDir,
      );
      tableBytes = out.tableBytes;
      return out.module;
    } catch (cause) {
      throw new PluginLoadError(name, (cause as Error).message, { cause });
    }
  };

  const ownsCache = config.cache === null;
  const cache = config.cache ?? await createSupCache();
  let instance;
  try {
    let module = await compile([], cache.dataDir);
    const filesDir = config.filesDir ??
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
      remote: cache.remote
        ? { cache: cache.namespace(name), store: cache.store(name) }
        : null,
      filesDir,
      logger: config.logger,
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
    // On Redis the cache host functions wait for the network.
    const suspends = canSuspend(module, settings.hostFunctions) ||
      state.remote !== null;
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
          value = config.env ? config.env[key] : Deno.env.get(key);
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
