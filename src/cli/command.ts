/**
 * What a command is (its help and its run function), and how a command
 * prints a value: shared by the cache, transfer and plugin commands.
 *
 * @module
 */
import type { OptionName } from "./args.ts";
import type { Context } from "./context.ts";
import { UsageError } from "./errors.ts";
import { formatCount } from "./format.ts";

/** One command: its help and what it runs. */
export interface Command {
  /** The command word. */
  name: string;
  /** Other words for it. */
  aliases?: string[];
  /** One line for the command list. */
  summary: string;
  /** Arguments, as in `keys <namespace>`. */
  usage: string;
  /** What it does, in a few lines. */
  description: string;
  /** Options beyond --data-dir, --json and --help: name, how to write it, what it does. */
  options: [OptionName, string, string][];
  /** Example command lines. */
  examples: string[];
  /** Run it; resolves to the exit code. */
  run(ctx: Context): Promise<number>;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** `bytes` as text when they are UTF-8, else `null`. */
export function utf8(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Print a value for a person or a pipe: raw bytes when piped (so binary
 * values survive `> file`), text when on a terminal, and a refusal instead
 * of binary noise on a terminal.
 */
export async function printValue(
  ctx: Context,
  value: Uint8Array,
  what: string,
): Promise<void> {
  if (!ctx.out.stdout.isTerminal()) return await ctx.out.bytes(value);
  const shown = utf8(value);
  if (shown === null) {
    throw new UsageError(
      `${what} is ${
        formatCount(value.length)
      } bytes of binary data, not text; add --json to see it as base64, or redirect stdout to a file`,
      ctx.command,
    );
  }
  await ctx.out.line(shown);
}
