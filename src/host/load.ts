/**
 * `loadPlugin`: read, sandbox and instantiate a plugin, wire it to its
 * namespace of a cache, and hand back a {@link Plugin}. Options are
 * resolved once (config.ts), modules compiled once (compile.ts), calls run
 * by one runner (call_runner.ts).
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createSupCache } from "../cache/cache.ts";
import { runCall } from "./call_runner.ts";
import { compileSandboxed, LINKED_SANDBOX_MODULE } from "./compile.ts";
import {
  type LoadPluginOptions,
  resolveConfig,
  USER_MODULE,
} from "./config.ts";
import type { HostFunction, HostState } from "./context.ts";
import { describeThrown, PluginLoadError } from "./errors.ts";
import { pluginDirName } from "./files.ts";
import { importExtism, instantiate, type LinkedCompiled } from "./instance.ts";
import { SANDBOX_MODULE } from "./sandbox.ts";
import { binaryHostFunctions } from "./binary_abi.ts";
import { supHostFunctions } from "./sup_abi.ts";
import { Plugin } from "./plugin.ts";
import { type PluginSource, resolveSource } from "./source.ts";

export {
  DEFAULT_MAX_MEMORY_BYTES,
  DEFAULT_TIMEOUT_MS,
  type HostFunctions,
  type LoadPluginOptions,
  type LogLevel,
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
): Promise<Plugin> {
  // Awaited in instantiate(); a failure to import shows there.
  importExtism().catch(() => {});
  const resolved = await resolveSource(source);
  const config = resolveConfig(resolved, options);
  const { name, timeoutMs, maxMemoryBytes, settings } = config;
  let tableBytes = 0;
  let linked: LinkedCompiled[] = [];
  const compile = async (env: [string, string][], dataDir: string | null) => {
    let current = "main";
    try {
      const out = await compileSandboxed(
        resolved.bytes,
        env,
        maxMemoryBytes,
        dataDir,
      );
      tableBytes = out.tableBytes;
      linked = [];
      for (const l of resolved.linked ?? []) {
        current = l.name;
        refuseModuleName(l.name, settings.functions);
        const c = await compileSandboxed(
          l.bytes,
          env,
          maxMemoryBytes,
          dataDir,
          true,
        );
        linked.push({
          name: l.name,
          module: c.module,
          bytes: c.memoryBytes + c.tableBytes,
        });
      }
      const total = linked.reduce((n, l) => n + l.bytes, 0) + tableBytes +
        out.memoryBytes;
      if (linked.length > 0 && total > maxMemoryBytes) {
        throw new Error(
          `its modules start with ${
            total.toLocaleString("en-US")
          } bytes of memory and tables together, more than maxMemoryBytes (${
            maxMemoryBytes.toLocaleString("en-US")
          })`,
        );
      }
      checkImports(out.module, linked, settings.functions, settings.wasi);
      for (const l of linked) {
        checkImports(l.module, linked, settings.functions, settings.wasi);
      }
      return out.module;
    } catch (cause) {
      if (cause instanceof PluginLoadError) throw cause;
      const where = resolved.linked?.length ? `module "${current}": ` : "";
      throw new PluginLoadError(name, where + (cause as Error).message, {
        cause,
      });
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
      maxVarBytes: config.maxVarBytes,
      varValueBytes: 0,
      linkedBytes: 0,
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
        return await instantiate(mod, state, settings, linked);
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
    const suspends = state.remote !== null ||
      [module, ...linked.map((l) => l.module)].some((m) =>
        canSuspend(m, settings.functions)
      );
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
        names = out.output === null || out.output.length === 0
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
    return new Plugin({
      module,
      linked,
      original: resolved.bytes,
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
  functions: Record<string, Record<string, HostFunction>>,
): boolean {
  const http = WebAssembly.Module.imports(module).some((i) =>
    i.name === "http_request"
  );
  return http ||
    Object.values(functions).some((table) =>
      Object.values(table).some((f) => f.constructor.name === "AsyncFunction")
    );
}

/**
 * Refuse a linked module named like a module the host provides: Extism
 * resolves imports by module name before host functions, so a module named
 * `sup:host/sandbox` would answer the sandbox's own `tick` and `grow`.
 */
function refuseModuleName(
  name: string,
  functions: Record<string, Record<string, HostFunction>>,
): void {
  if (
    HOST_MODULES.has(name) || name.startsWith("sup:host/") ||
    name.startsWith("extism:") || name === "wasi_snapshot_preview1" ||
    Object.hasOwn(functions, name)
  ) {
    throw new Error(
      `the name "${name}" is an import module the host provides; give the module another name`,
    );
  }
}

/** sup's functions and the binary ABI, which `extism:host/user` always has. */
const SUP_USER_NAMES = new Set(
  Object.keys({
    ...supHostFunctions({} as HostState),
    ...binaryHostFunctions({} as HostState),
  }),
);

/** Import modules the host answers whatever the plugin asks of them. */
const HOST_MODULES = new Set([
  SANDBOX_MODULE,
  LINKED_SANDBOX_MODULE,
  "extism:host/env",
]);

/**
 * Refuse, naming the import, a module that imports a function nothing
 * provides (Extism's own message would not say how to provide it).
 * `extism:host/user` holds sup's functions too, so only names missing
 * from both count; Extism's kernel (`extism:host/env`) is Extism's to
 * check.
 */
function checkImports(
  module: WebAssembly.Module,
  linked: ReadonlyArray<LinkedCompiled>,
  functions: Record<string, Record<string, HostFunction>>,
  wasi: boolean,
): void {
  // A library may import back from the entry, which Extism names "main".
  const names = new Set(linked.map((l) => l.name));
  if (linked.length > 0) names.add("main");
  for (const i of WebAssembly.Module.imports(module)) {
    if (HOST_MODULES.has(i.module) || names.has(i.module)) continue;
    if (i.module === "wasi_snapshot_preview1") {
      if (wasi) continue;
      throw new Error(
        `it imports WASI ("wasi_snapshot_preview1" "${i.name}") and loadPlugin's wasi option is false`,
      );
    }
    if (i.kind !== "function") {
      throw new Error(
        `it imports ${i.kind} "${i.module}" "${i.name}"; only functions can come from the host`,
      );
    }
    if (i.module === USER_MODULE && SUP_USER_NAMES.has(i.name)) continue;
    if (functions[i.module]?.[i.name] !== undefined) continue;
    throw new Error(
      `it imports function "${i.name}" from "${i.module}", which nothing provides; pass it in loadPlugin's hostFunctions option: { hostFunctions: { ${
        JSON.stringify(i.module)
      }: { ${JSON.stringify(i.name)}: (cx, ...args) => ... } } }`,
    );
  }
}
