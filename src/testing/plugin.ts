/**
 * A plugin under test, spoken to as chat senders.
 *
 * @module
 */
import type { SupCache } from "../cache/cache.ts";
import { loadPlugin, type LoadPluginOptions } from "../host/load.ts";
import type { MessageInfo, MessageReply, SupPlugin } from "../host/plugin.ts";
import type { PluginSource } from "../host/source.ts";

/** One chat sender talking to a {@link TestPlugin}. */
export interface TestSender {
  /** The sender id the plugin sees (sup passes the chat JID). */
  readonly id: string;
  /** Send `message` as this sender; resolves to the plugin's reply. */
  send(message: string, info?: MessageInfo): Promise<MessageReply>;
}

/** A loaded plugin plus helpers; `await using` closes it. */
export interface TestPlugin extends AsyncDisposable {
  /** The plugin itself, for `call`, `help` and the rest. */
  readonly plugin: SupPlugin;
  /** The sender `id`. */
  as(id: string): TestSender;
  /** Send `message` as `sender`, the way sup does; resolves to the reply. */
  send(
    sender: string,
    message: string,
    info?: MessageInfo,
  ): Promise<MessageReply>;
}

/**
 * Load `source` (path, URL, bytes or manifest) into `options.cache` and
 * talk to it as senders. Use a cache from `createTestCache` to control the
 * plugin's time: TTLs a plugin sets through the host run on that clock.
 *
 * @example
 * ```ts
 * import { createTestCache, loadTestPlugin } from "@sup/cache/testing";
 * await using t = await createTestCache();
 * // The smallest valid module; a real test loads the plugin's .wasm file.
 * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * await using bot = await loadTestPlugin(wasm, { cache: t.cache, name: "empty" });
 * const ada = bot.as("ada");
 * console.log(ada.id); // "ada"
 * ```
 */
export async function loadTestPlugin(
  source: PluginSource,
  options: LoadPluginOptions & { cache: SupCache },
): Promise<TestPlugin> {
  const plugin = await loadPlugin(source, options);
  const send = (sender: string, message: string, info?: MessageInfo) =>
    plugin.handleMessage({ message, sender, info });
  return {
    plugin,
    send,
    as: (id) => ({ id, send: (message, info) => send(id, message, info) }),
    [Symbol.asyncDispose]: () => plugin.close(),
  };
}
