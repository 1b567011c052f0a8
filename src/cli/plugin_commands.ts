/**
 * The plugin commands, `call` and `message`: load a plugin with its cache
 * namespace in the data directory, run one export, print what it answered.
 * The host is imported only when one of them runs, so the cache commands
 * never load Extism (or need the environment variables it reads).
 *
 * @module
 */
import { checkArgs } from "./args.ts";
import { type Command, printValue } from "./command.ts";
import { type Context, openCache, userPath } from "./context.ts";
import { UsageError } from "./errors.ts";
import { escapeInline } from "./escape.ts";
import { readStdin } from "./output.ts";

/** The chat `message` claims to come from unless `--sender` says otherwise. */
export const DEFAULT_SENDER = "sup-cache-cli";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Load the plugin at `path` on the data directory's cache, run `fn`. */
async function withPlugin<T>(
  ctx: Context,
  path: string,
  fn: (plugin: import("../../mod.ts").SupPlugin) => Promise<T>,
): Promise<T> {
  if (!path.endsWith(".wasm") && ctx.values.name === undefined) {
    throw new UsageError(
      `${
        JSON.stringify(path)
      } does not end in .wasm, so it names no plugin; pass --name for its namespace, or check the argument order: sup-cache ${ctx.command} ${
        ctx.command === "call"
          ? "<plugin.wasm> <function>"
          : "<plugin.wasm> <text>"
      }`,
      ctx.command,
    );
  }
  path = userPath(path);
  await Deno.stat(path);
  const { loadPlugin } = await import("../../mod.ts");
  await using cache = await openCache(ctx, { create: true });
  // Plugin log lines and refused requests go to stderr: the host answers
  // sup's bare failure codes to the plugin, and this is where the reason
  // surfaces for the operator.
  // One line each: a plugin must not print lines that look like ours.
  const log = (level: string) => (...args: unknown[]) =>
    ctx.out.note(
      `plugin ${level}: ${escapeInline(args.map(String).join(" "))}`,
    );
  await using plugin = await loadPlugin(path, {
    cache,
    name: ctx.values.name,
    logger: {
      debug() {},
      info: log("info"),
      warn: log("warning"),
      error: log("error"),
    },
  });
  return await fn(plugin);
}

const call: Command = {
  name: "call",
  summary: "call a plugin's exported function",
  usage: "<plugin.wasm> <function> [input|-]",
  description:
    "Loads the plugin with its cache namespace (the file name without .wasm, or --name) in the data directory and calls one export with the input (text; - reads bytes from stdin; none sends empty input). Prints the output: raw bytes when piped, text on a terminal; --json gives it as base64 and text.",
  options: [
    ["name", "--name N", "the plugin's namespace, instead of its file name"],
  ],
  examples: [
    "sup-cache call plugins/counter/counter.wasm get_help",
    `sup-cache call counter.wasm handle_message '{"message":"inc","sender":"me","info":{}}'`,
    "sup-cache call thumbnailer.wasm render - < photo.jpg > thumb.jpg",
  ],
  async run(ctx) {
    checkArgs(
      ctx.command,
      ctx.args,
      ["<plugin.wasm>", "<function>", "[input|-]"],
      1,
    );
    const [path, fn, arg] = ctx.args;
    const input = arg === undefined
      ? undefined
      : arg === "-"
      ? await readStdin()
      : arg;
    return await withPlugin(ctx, path, async (plugin) => {
      // No output (null) prints as empty output.
      const output = (await plugin.call(fn, input))?.bytes() ??
        new Uint8Array(0);
      if (ctx.values.json) {
        let text: string | null = null;
        try {
          text = decoder.decode(output);
        } catch {
          // not UTF-8: the base64 form carries it
        }
        await ctx.out.json({
          plugin: plugin.namespace,
          function: fn,
          output: output.toBase64(),
          text,
        });
      } else {
        await printValue(ctx, output, `the output of ${fn}`);
      }
      return 0;
    });
  },
};

const message: Command = {
  name: "message",
  summary: "send a chat message to a plugin (sup's handle_message)",
  usage: "<plugin.wasm> <text>",
  description:
    `Sends the text to the plugin's handle_message the way sup does (text after ".sup <plugin>", the sender's chat JID, message info) and prints its reply. A plugin that answers success: false exits with code 1 and its error on stderr. --json prints the reply object as the plugin gave it.`,
  options: [
    [
      "sender",
      "--sender JID",
      `the chat the message comes from (default ${DEFAULT_SENDER})`,
    ],
    ["name", "--name N", "the plugin's namespace, instead of its file name"],
  ],
  examples: [
    "sup-cache message plugins/counter/counter.wasm inc",
    "sup-cache message counter.wasm 'reset beans' --sender 34600000000@s.whatsapp.net",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, ["<plugin.wasm>", "<text>"]);
    const [path, text] = ctx.args;
    return await withPlugin(ctx, path, async (plugin) => {
      const reply = await plugin.handleMessage({
        message: text,
        sender: ctx.values.sender ?? DEFAULT_SENDER,
      });
      if (ctx.values.json) await ctx.out.json(reply);
      else if (reply.success && reply.reply !== undefined) {
        await ctx.out.line(reply.reply);
      }
      if (reply.success) return 0;
      if (!ctx.values.json) {
        await ctx.out.note(
          `sup-cache message: plugin "${plugin.namespace}" answered failure: ${
            reply.error ?? "(no error message)"
          }`,
        );
      }
      return 1;
    });
  },
};

/** The plugin commands, in the order `--help` lists them. */
export const PLUGIN_COMMANDS: Command[] = [call, message];
