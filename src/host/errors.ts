/**
 * Errors of the plugin host. Each names the plugin (its namespace) and, for
 * calls, the exported function, so a log line alone says which plugin to
 * look at.
 *
 * @module
 */
import { SupCacheError } from "../errors.ts";

/**
 * A plugin call failed: the plugin trapped, reported an error through
 * Extism's `error_set`, has no such export, or returned output the host
 * could not understand. The plugin stays usable: after a trap the next call
 * runs on a fresh instance (its cache entries are untouched).
 *
 * @example
 * ```ts
 * import { PluginError } from "@sup/cache";
 * const err = new PluginError("counter", "handle_message", "plugin trapped: unreachable");
 * console.log(err.plugin, err.fn); // "counter" "handle_message"
 * ```
 */
export class PluginError extends SupCacheError {
  /** The plugin's name (its cache namespace). */
  readonly plugin: string;
  /** The exported function that was called. */
  readonly fn: string;
  /** `code` overrides `"PLUGIN"` for the subclasses. */
  constructor(
    plugin: string,
    fn: string,
    message: string,
    options?: ErrorOptions & { code?: string },
  ) {
    super(
      options?.code ?? "PLUGIN",
      `plugin "${plugin}", function "${fn}": ${message}`,
      options,
    );
    this.plugin = plugin;
    this.fn = fn;
  }
}

/**
 * A plugin call ran longer than `timeoutMs` and was stopped. The host
 * interrupts the plugin at its next loop iteration or function entry, so even
 * `loop { }` ends; the next call runs on a fresh instance.
 *
 * @example
 * ```ts
 * import { PluginTimeoutError } from "@sup/cache";
 * const err = new PluginTimeoutError("spin", "run", 100);
 * console.log(err.timeoutMs, err.message.includes("100 ms")); // 100 true
 * ```
 */
export class PluginTimeoutError extends PluginError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;
  /** Name the plugin, the function and the limit that was passed. */
  constructor(plugin: string, fn: string, timeoutMs: number) {
    super(
      plugin,
      fn,
      `call did not finish within ${timeoutMs} ms and was stopped; raise loadPlugin's timeoutMs if this plugin legitimately needs longer`,
      { code: "PLUGIN_TIMEOUT" },
    );
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A plugin would make the host hold more than `maxMemoryBytes`: its linear
 * memory, tables, the Extism blocks of the running call and its Extism vars
 * count together against that one cap.
 *
 * @example
 * ```ts
 * import { PluginMemoryError } from "@sup/cache";
 * const err = new PluginMemoryError("greedy", "run", 2_000_000, 1_048_576);
 * console.log(err.limit); // 1048576
 * ```
 */
export class PluginMemoryError extends PluginError {
  /** The configured cap in bytes. */
  readonly limit: number;
  /**
   * Name the plugin, the function, the bytes asked for and the cap;
   * `what` names a narrower limit than the one cap (e.g. Extism's
   * `memory.maxVarBytes`).
   */
  constructor(
    plugin: string,
    fn: string,
    requested: number,
    limit: number,
    what?: string,
  ) {
    super(
      plugin,
      fn,
      what === undefined
        ? `would make the host hold ${
          requested.toLocaleString("en-US")
        } bytes (linear memory, tables, Extism blocks and vars together); the limit is ${
          limit.toLocaleString("en-US")
        } bytes (loadPlugin's maxMemoryBytes)`
        : `would hold ${
          requested.toLocaleString("en-US")
        } bytes in ${what}; the limit is ${
          limit.toLocaleString("en-US")
        } bytes`,
      { code: "PLUGIN_MEMORY" },
    );
    this.limit = limit;
  }
}

/**
 * A plugin could not be loaded: the file is missing or unreadable, it is not
 * WebAssembly, it imports something the host does not provide, or its
 * `get_required_env_vars` answer was unusable.
 *
 * @example
 * ```ts
 * import { PluginLoadError } from "@sup/cache";
 * const err = new PluginLoadError("junk", "not a WebAssembly module");
 * console.log(err.message); // cannot load plugin "junk": not a WebAssembly module
 * ```
 */
export class PluginLoadError extends SupCacheError {
  /** The plugin name, or the source when no name could be derived yet. */
  readonly plugin: string;
  /** Name the plugin and say what is wrong with it. */
  constructor(plugin: string, message: string, options?: ErrorOptions) {
    super("PLUGIN_LOAD", `cannot load plugin "${plugin}": ${message}`, options);
    this.plugin = plugin;
  }
}

/**
 * Words for whatever a plugin threw. WASI's `proc_exit` throws a plain
 * object with the exit code, not an Error; say that instead of
 * "[object Object]" or "undefined".
 *
 * @example
 * ```ts
 * import { describeThrown } from "./errors.ts";
 * console.log(describeThrown(new Error("boom"))); // "boom"
 * ```
 */
export function describeThrown(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  if (typeof err === "object" && err !== null && "code" in err) {
    const kind = err.constructor?.name === "WASIProcExit"
      ? "called WASI proc_exit"
      : `threw ${err.constructor?.name ?? "an object"} with code`;
    return `the plugin ${kind}(${String(err.code)}), ending the call`;
  }
  if (err instanceof Error) return `the plugin threw ${err.name}`;
  return `the plugin threw ${String(err)}`;
}
