/**
 * `Plugin`: a loaded plugin (the JS SDK's name; `SupPlugin` is its former
 * name, kept as a deprecated alias, and in the PDK the base class plugin
 * authors extend). Calls run one at a time on the main thread
 * (host functions reach SQLite synchronously), each under a deadline and a
 * memory cap. After a trap, timeout or memory error the next call gets a
 * fresh instance, so a bad call never poisons the next one.
 *
 * @module
 */
import { actFor } from "../cache/namespace.ts";
import { ClosedError } from "../errors.ts";
import { beginCall, classify, type Outcome, runCall } from "./call_runner.ts";
import type { HostState } from "./context.ts";
import { describeThrown, PluginError } from "./errors.ts";
import {
  type Instance,
  type InstanceSettings,
  instantiate,
  type LinkedCompiled,
} from "./instance.ts";
import { PluginResult } from "./result.ts";

/** Input of `call`: text, bytes, or anything `JSON.stringify` accepts. */
export type PluginInput = string | Uint8Array | unknown;

/** Message metadata, as sup passes it (camelCase here, snake_case to the plugin). */
export interface MessageInfo {
  /** Message id. Default `""`. */
  id?: string;
  /** Unix seconds. Default: now. */
  timestamp?: number;
  /** Sender's display name. Default `""`. */
  pushName?: string;
  /** Sent in a group chat. Default `false`. */
  isGroup?: boolean;
  /** Sent by the bot's own account. Default `false`. */
  isFromMe?: boolean;
  /** Sent in the bot owner's self chat. Default `false`. */
  isSelf?: boolean;
}

/** Input of `handleMessage`. */
export interface IncomingMessage {
  /** The text after the command (what sup passes as `message`). */
  message: string;
  /** The chat the message came from (sup passes the chat JID). */
  sender: string;
  /** Optional metadata. */
  info?: MessageInfo;
}

/** What a plugin answers to a message. */
export interface MessageReply {
  /** `false` when the plugin reported a failure. */
  success: boolean;
  /** The text to send back, if any. */
  reply?: string;
  /** The plugin's failure message, if any. */
  error?: string;
}

/** A plugin's help, with sup's defaults filled in. */
export interface PluginHelp {
  /** Display name; the plugin name when the plugin leaves it empty. */
  name: string;
  /** One-line description. */
  description: string;
  /** How to invoke it, e.g. `.sup counter inc`. */
  usage: string;
  /** Example invocations. */
  examples: string[];
  /** Category; `"plugin"` when the plugin leaves it empty. */
  category: string;
}

/** Internal wiring handed over by `loadPlugin`. */
export interface PluginParts {
  module: WebAssembly.Module;
  /** The other modules of a manifest, linked by name. */
  linked: ReadonlyArray<LinkedCompiled>;
  /** The entry module's bytes as the caller gave them (for getExports/getImports). */
  original: Uint8Array;
  instance: Instance;
  state: HostState;
  settings: InstanceSettings;
  /** Whether calls can wait on promises (see call_runner.ts). */
  suspends: boolean;
  onClose: () => Promise<void>;
}

const encoder = new TextEncoder();
/** What sup's conveniences read when a call set no output (as sup's Go host). */
const NO_OUTPUT = new PluginResult(new Uint8Array(0));

function toBytes(input: PluginInput): Uint8Array {
  return input === undefined
    ? new Uint8Array(0)
    : typeof input === "string"
    ? encoder.encode(input)
    : input instanceof Uint8Array
    ? input
    : encoder.encode(JSON.stringify(input));
}

/**
 * A loaded plugin; create it with `loadPlugin`.
 *
 * @example
 * ```ts
 * import { createSupCache, loadPlugin } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
 * console.log(plugin.namespace, plugin.functionExists("handle_message")); // "empty" false
 * console.log((await plugin.help()).description); // "WASM plugin (help not available)"
 * ```
 */
export class Plugin implements AsyncDisposable {
  /** The plugin's name; also its cache namespace and data directory name. */
  readonly namespace: string;
  /** Where `read_file`/`list_directory` look, or `null`. */
  readonly filesDir: string | null;
  readonly #parts: PluginParts;
  readonly #exports: Set<string>;
  #instance: Instance | null;
  /** The last call's result; queued calls chain on it, close() waits for it. */
  #last: Promise<unknown> = Promise.resolve();
  /** Calls started and not yet settled. */
  #pending = 0;
  #closed = false;
  /** The original module, compiled only to describe it (getExports/getImports). */
  #described: Promise<WebAssembly.Module> | null = null;

  /** Use `loadPlugin`. */
  constructor(parts: PluginParts) {
    this.#parts = parts;
    this.namespace = parts.state.plugin;
    this.filesDir = parts.state.filesDir;
    this.#instance = parts.instance;
    this.#exports = new Set(
      WebAssembly.Module.exports(parts.module)
        .filter((e) => e.kind === "function")
        .map((e) => e.name),
    );
  }

  /** Whether the module exports a function named `fn`. */
  functionExists(fn: string): boolean {
    return this.#exports.has(fn);
  }

  /**
   * Whether a call is running or queued (the JS SDK's `isActive`).
   *
   * @example
   * ```ts
   * import { createSupCache, loadPlugin } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
   * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
   * console.log(plugin.isActive()); // false
   * ```
   */
  isActive(): boolean {
    return this.#pending > 0;
  }

  /**
   * Start the next call on a fresh instance (new linear memory and
   * globals); Extism vars are kept, as the JS SDK keeps them. Answers
   * `false`, doing nothing, while a call is active, as the SDK does.
   *
   * @example
   * ```ts
   * import { createSupCache, loadPlugin } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
   * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
   * console.log(await plugin.reset()); // true
   * ```
   */
  async reset(): Promise<boolean> {
    if (this.#closed) throw new ClosedError(`plugin "${this.namespace}"`);
    if (this.isActive()) return false;
    const instance = this.#instance;
    this.#instance = null;
    if (instance !== null) {
      instance.slot.dead = true;
      await this.#closeInstance(instance);
    }
    return true;
  }

  /**
   * The entry module's exports as the plugin declares them (the sandbox's
   * own additions left out), like the JS SDK's `getExports`.
   *
   * @example
   * ```ts
   * import { createSupCache, loadPlugin } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
   * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
   * console.log(await plugin.getExports()); // []
   * ```
   */
  async getExports(): Promise<WebAssembly.ModuleExportDescriptor[]> {
    return WebAssembly.Module.exports(await this.#describe());
  }

  /**
   * The entry module's imports as the plugin declares them, like the JS
   * SDK's `getImports`.
   *
   * @example
   * ```ts
   * import { createSupCache, loadPlugin } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
   * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
   * console.log(await plugin.getImports()); // []
   * ```
   */
  async getImports(): Promise<WebAssembly.ModuleImportDescriptor[]> {
    return WebAssembly.Module.imports(await this.#describe());
  }

  #describe(): Promise<WebAssembly.Module> {
    // Compiled, never instantiated: only its descriptors are read.
    this.#described ??= WebAssembly.compile(
      new Uint8Array(this.#parts.original),
    );
    return this.#described;
  }

  /**
   * Call an exported function. Answers `null` when the plugin set no
   * output, as the JS SDK does. Rejects with `PluginError` (trap, missing
   * export, error reported by the plugin), `PluginTimeoutError` or
   * `PluginMemoryError`; the plugin stays usable afterwards.
   */
  call(fn: string, input?: PluginInput): Promise<PluginResult | null> {
    if (this.#closed) {
      return Promise.reject(new ClosedError(`plugin "${this.namespace}"`));
    }
    const instance = this.#instance;
    if (
      this.#pending === 0 && instance !== null && !this.#parts.suspends &&
      this.#exports.has(fn)
    ) {
      return this.#fast(fn, input, instance);
    }
    this.#pending++;
    const run = () => this.#call(fn, input);
    const result = this.#last.then(run, run);
    this.#last = result;
    const settle = () => {
      this.#pending--;
    };
    result.then(settle, settle);
    return result;
  }

  /**
   * The common case, an idle plugin with a live instance and no async
   * host functions, without the queue's extra promises: a trivial call
   * costs little more than Extism's own.
   */
  #fast(
    fn: string,
    input: PluginInput,
    instance: Instance,
  ): Promise<PluginResult | null> {
    let started: Promise<{ bytes(): Uint8Array } | null>;
    try {
      const bytes = toBytes(input);
      beginCall(this.#parts.state, fn, instance);
      started = instance.plugin.call(fn, bytes);
    } catch (err) {
      started = Promise.reject(err);
    }
    // One fast call at a time (#pending is 0 to get here), so its details
    // live on the object and the handlers are allocated once.
    this.#pending = 1;
    this.#fastFn = fn;
    this.#fastInstance = instance;
    const result = started.then(this.#fastDone, this.#fastFailed);
    this.#last = result;
    return result;
  }

  #fastFn = "";
  #fastInstance: Instance | null = null;
  readonly #fastDone = (
    out: { bytes(): Uint8Array } | null,
  ): PluginResult | null | Promise<never> => {
    this.#pending = 0;
    const state = this.#parts.state;
    if (state.poison !== null) {
      return this.#failed(this.#fastFn, this.#fastInstance!, {
        ok: false,
        error: state.poison,
        reported: false,
        closesLater: false,
      });
    }
    return out === null ? null : new PluginResult(out.bytes().slice());
  };
  readonly #fastFailed = (err: unknown): Promise<never> => {
    this.#pending = 0;
    return this.#failed(
      this.#fastFn,
      this.#fastInstance!,
      classify(this.#parts.state, err),
    );
  };

  async #call(fn: string, input: PluginInput): Promise<PluginResult | null> {
    if (this.#closed) throw new ClosedError(`plugin "${this.namespace}"`);
    if (!this.#exports.has(fn)) {
      throw new PluginError(
        this.namespace,
        fn,
        "the plugin exports no such function",
      );
    }
    const bytes = toBytes(input);
    const { state } = this.#parts;
    if (this.#instance === null) {
      state.deadline = Date.now() + state.timeoutMs;
      state.poison = null;
      state.allocated = 0;
      state.fn = "(instantiation)";
      try {
        this.#instance = await instantiate(
          this.#parts.module,
          state,
          this.#parts.settings,
          this.#parts.linked,
        );
      } catch (err) {
        throw new PluginError(
          this.namespace,
          fn,
          describeThrown(state.poison ?? err),
          {
            cause: err,
          },
        );
      }
    }
    const instance = this.#instance;
    const out = await runCall(state, instance, fn, bytes, this.#parts.suspends);
    if (out.ok) {
      return out.output === null ? null : new PluginResult(out.output);
    }
    return await this.#failed(fn, instance, out);
  }

  /** Turn a failed call into its typed error; a broken instance is dropped. */
  async #failed(
    fn: string,
    instance: Instance,
    out: Exclude<Outcome, { ok: true }>,
  ): Promise<never> {
    if (out.reported) {
      const message = describeThrown(out.error);
      throw new PluginError(
        this.namespace,
        fn,
        `the plugin reported an error: ${
          message.slice("Plugin-originated error: ".length)
        }`,
      );
    }
    // The instance's memory may be half-updated; start the next call fresh.
    if (this.#instance === instance) this.#instance = null;
    instance.slot.dead = true;
    if (!out.closesLater) await this.#closeInstance(instance);
    const err = out.error;
    if (err instanceof PluginError) throw err;
    throw new PluginError(
      this.namespace,
      fn,
      err instanceof Error && err.message
        ? `the plugin trapped: ${err.message}`
        : describeThrown(err),
      { cause: err },
    );
  }

  async #closeInstance(instance: Instance): Promise<void> {
    await instance.plugin.close().catch((closeErr) => {
      this.#parts.state.logger.error(
        `plugin "${this.namespace}": closing the instance after a failed call failed: ${closeErr}`,
      );
    });
  }

  async #optional(fn: string): Promise<PluginResult | null> {
    return this.functionExists(fn) ? await this.#sup(fn) : null;
  }

  /** A call for sup's conveniences, where no output reads as empty output. */
  async #sup(fn: string, input?: PluginInput): Promise<PluginResult> {
    return (await this.call(fn, input)) ?? NO_OUTPUT;
  }

  #parse<T>(
    fn: string,
    result: PluginResult,
    check: (v: unknown) => v is T,
    shape: string,
  ): T {
    let value: unknown;
    try {
      value = result.json();
    } catch {
      throw new PluginError(
        this.namespace,
        fn,
        `returned ${
          JSON.stringify(result.text().slice(0, 200))
        }, which is not JSON (expected ${shape})`,
      );
    }
    if (!check(value)) {
      throw new PluginError(
        this.namespace,
        fn,
        `returned JSON that is not ${shape}`,
      );
    }
    return value;
  }

  /**
   * Send a chat message to `handle_message`, the way sup does.
   */
  async handleMessage(msg: IncomingMessage): Promise<MessageReply> {
    const info = msg.info ?? {};
    const input = {
      message: msg.message,
      sender: msg.sender,
      info: {
        id: info.id ?? "",
        timestamp: info.timestamp ?? Math.floor(Date.now() / 1000),
        push_name: info.pushName ?? "",
        is_group: info.isGroup ?? false,
        is_from_me: info.isFromMe ?? false,
        is_self: info.isSelf ?? false,
        auto_reply_allowed: false,
      },
    };
    // Writes made while handling the message are recorded as the sender's,
    // so SupCache.forget(sender) finds them.
    const { state } = this.#parts;
    const done = actFor([state.cache, state.store], msg.sender);
    let out;
    try {
      out = await this.#sup("handle_message", input);
    } finally {
      done();
    }
    const value = this.#parse(
      "handle_message",
      out,
      (v): v is Record<string, unknown> =>
        typeof v === "object" && v !== null && !Array.isArray(v),
      'an object like {"success":true,"reply":"..."}',
    );
    const reply: MessageReply = { success: value.success === true };
    if (typeof value.reply === "string" && value.reply !== "") {
      reply.reply = value.reply;
    }
    if (typeof value.error === "string" && value.error !== "") {
      reply.error = value.error;
    }
    return reply;
  }

  /** `get_help`, or sup's default help when the plugin has none. */
  async help(): Promise<PluginHelp> {
    const out = await this.#optional("get_help");
    const name = this.namespace;
    if (out === null) {
      return {
        name,
        description: "WASM plugin (help not available)",
        usage: `.sup ${name}`,
        examples: [`.sup ${name}`],
        category: "plugin",
      };
    }
    const v = this.#parse(
      "get_help",
      out,
      (v): v is Record<string, unknown> =>
        typeof v === "object" && v !== null && !Array.isArray(v),
      "an object with name, description, usage, examples and category",
    );
    const str = (x: unknown) => (typeof x === "string" ? x : "");
    return {
      name: str(v.name) || name,
      description: str(v.description),
      usage: str(v.usage),
      examples: Array.isArray(v.examples)
        ? v.examples.filter((e) => typeof e === "string")
        : [],
      category: str(v.category) || "plugin",
    };
  }

  /** `get_name`, or the plugin name when the plugin has none. */
  async name(): Promise<string> {
    return (await this.#optional("get_name"))?.text() ?? this.namespace;
  }

  /** `get_version`, or `"unknown"` when the plugin has none. */
  async version(): Promise<string> {
    return (await this.#optional("get_version"))?.text() ?? "unknown";
  }

  /** `get_topics`, or `[name]` when the plugin has none. */
  async topics(): Promise<string[]> {
    const out = await this.#optional("get_topics");
    if (out === null) return [this.namespace];
    return this.#parse(
      "get_topics",
      out,
      (v): v is string[] =>
        Array.isArray(v) && v.every((t) => typeof t === "string"),
      "an array of strings",
    );
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Wait for running calls, release the instance, and close the cache if
   * `loadPlugin` created it. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#last.catch(() => {});
    const instance = this.#instance;
    this.#instance = null;
    try {
      await instance?.plugin.close();
    } finally {
      await this.#parts.onClose();
    }
  }

  /** `await using plugin = await loadPlugin(...)` closes it at scope end. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The former name of {@link Plugin}.
 *
 * @deprecated Use `Plugin`. In the PDK, `SupPlugin` is the base class plugin
 * authors extend; the host's loaded plugin no longer shares that name.
 */
export const SupPlugin: typeof Plugin = Plugin;
/** @deprecated Use `Plugin`. */
export type SupPlugin = Plugin;
