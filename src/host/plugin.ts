/**
 * `SupPlugin`: a loaded plugin. Calls run one at a time on the main thread
 * (host functions reach SQLite synchronously), each under a deadline and a
 * memory cap. After a trap, timeout or memory error the next call gets a
 * fresh instance, so a bad call never poisons the next one.
 *
 * @module
 */
import type { Plugin } from "npm:@extism/extism@2.0.0-rc13";
import { actFor } from "../cache/namespace.ts";
import { ClosedError } from "../errors.ts";
import type { HostState } from "./context.ts";
import { PluginError } from "./errors.ts";
import { type Clock, type InstanceSettings, instantiate } from "./instance.ts";
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
  instance: Plugin;
  state: HostState;
  clock: Clock;
  settings: InstanceSettings;
  onClose: () => Promise<void>;
}

const encoder = new TextEncoder();

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
export class SupPlugin implements AsyncDisposable {
  /** The plugin's name; also its cache namespace and data directory name. */
  readonly namespace: string;
  /** Where `read_file`/`list_directory` look, or `null`. */
  readonly filesDir: string | null;
  readonly #parts: PluginParts;
  readonly #exports: Set<string>;
  #instance: Plugin | null;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

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
   * Call an exported function. Rejects with `PluginError` (trap, missing
   * export, error reported by the plugin), `PluginTimeoutError` or
   * `PluginMemoryError`; the plugin stays usable afterwards.
   */
  call(fn: string, input?: PluginInput): Promise<PluginResult> {
    if (this.#closed) {
      return Promise.reject(new ClosedError(`plugin "${this.namespace}"`));
    }
    const run = () => this.#call(fn, input);
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  async #call(fn: string, input: PluginInput): Promise<PluginResult> {
    if (this.#closed) throw new ClosedError(`plugin "${this.namespace}"`);
    if (!this.#exports.has(fn)) {
      throw new PluginError(
        this.namespace,
        fn,
        "the plugin exports no such function",
      );
    }
    const bytes = input === undefined
      ? new Uint8Array(0)
      : typeof input === "string"
      ? encoder.encode(input)
      : input instanceof Uint8Array
      ? input
      : encoder.encode(JSON.stringify(input));
    const { state, clock } = this.#parts;
    if (this.#instance === null) {
      clock.deadline = performance.now() + clock.timeoutMs;
      state.fn = "(instantiation)";
      this.#instance = await instantiate(
        this.#parts.module,
        state,
        clock,
        this.#parts.settings,
      );
    }
    const instance = this.#instance;
    state.fn = fn;
    state.allocated = 0;
    clock.deadline = performance.now() + clock.timeoutMs;
    try {
      const out = await instance.call(fn, bytes);
      return new PluginResult(out ? out.bytes().slice() : new Uint8Array(0));
    } catch (err) {
      const message = describeThrown(err);
      const reported = message.match(/^Plugin-originated error: ([\s\S]*)$/);
      if (reported) {
        throw new PluginError(
          this.namespace,
          fn,
          `the plugin reported an error: ${reported[1]}`,
        );
      }
      // The instance's memory may be half-updated; start the next call fresh.
      this.#instance = null;
      await instance.close().catch((closeErr) => {
        state.logger.error(
          `plugin "${this.namespace}": closing the instance after a failed call failed: ${closeErr}`,
        );
      });
      if (err instanceof PluginError) throw err;
      throw new PluginError(
        this.namespace,
        fn,
        err instanceof Error ? `the plugin trapped: ${message}` : message,
        {
          cause: err,
        },
      );
    }
  }

  async #optional(fn: string): Promise<PluginResult | null> {
    return this.functionExists(fn) ? await this.call(fn) : null;
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
      out = await this.call("handle_message", input);
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
    await this.#tail;
    const instance = this.#instance;
    this.#instance = null;
    try {
      await instance?.close();
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
 * Words for whatever a call threw. WASI's `proc_exit` throws a plain object
 * with the exit code, not an Error; say that instead of "[object Object]".
 */
function describeThrown(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "object" && err !== null && "code" in err) {
    const kind = err.constructor?.name === "WASIProcExit"
      ? "called WASI proc_exit"
      : `threw ${err.constructor?.name ?? "an object"} with code`;
    return `the plugin ${kind}(${String(err.code)}), ending the call`;
  }
  return `the plugin threw ${String(err)}`;
}
