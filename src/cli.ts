/**
 * The `sup-cache` command-line tool: see what plugins cached, fix it, move
 * it, and run plugins. Run it with `deno task sup <command>` or install it
 * (see the README for the permission flags and why each is needed).
 *
 * Every command takes `--data-dir`, `--json` and `--help`. Results go to
 * stdout; errors go to stderr with a message that says what to do, and a
 * non-zero exit code: 1 when the command could not do its work (a missing
 * key or database, a refused file, a plugin failure), 2 for a wrong command
 * line. See docs/cli.md.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const dataDir = await Deno.makeTempDir();
 * await main(["set", "counter", "visits", "41", "--data-dir", dataDir]);
 * const code = await main(["get", "counter", "visits", "--data-dir", dataDir]);
 * console.log(code); // 0
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 *
 * @module
 */
import { SupCacheError } from "./errors.ts";
import { checkOptions, parse, type Values } from "./cli/args.ts";
import { CACHE_COMMANDS } from "./cli/cache_commands.ts";
import type { Command } from "./cli/command.ts";
import { PLUGIN_COMMANDS } from "./cli/plugin_commands.ts";
import { TRANSFER_COMMANDS } from "./cli/transfer_commands.ts";
import type { Context } from "./cli/context.ts";
import { UsageError } from "./cli/errors.ts";
import { Output } from "./cli/output.ts";
import { VERSION } from "./cli/version.ts";

export { Output, type Sink } from "./cli/output.ts";

/** Every command, in the order the help lists them. */
const COMMANDS: Command[] = [
  ...PLUGIN_COMMANDS,
  ...CACHE_COMMANDS,
  ...TRANSFER_COMMANDS,
];

// Help and tables are imported when they are printed: wrap-ansi and
// string-width build an Intl.Segmenter and Unicode-property regexes at
// import, about 25 ms that `message`, `get` and `set` would pay at every
// start for output they never print.
function help(): Promise<typeof import("./cli/help.ts")> {
  return import("./cli/help.ts");
}

function find(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

/**
 * Exit codes. 1: the command line was right but the work failed (a missing
 * key or database, a refused output, a file that is not an export, a
 * plugin failure); 2: the command line itself is wrong, as for most Unix
 * tools, so a script can tell "fix the call" from "fix the data".
 */
export const EXIT_FAILURE = 1;
/** See {@link EXIT_FAILURE}. */
export const EXIT_USAGE = 2;

/**
 * Run the tool with `argv` (the arguments after the program name) and
 * resolve to the exit code. Errors are reported on `out.stderr`, not thrown.
 */
export async function main(
  argv: string[],
  out: Output = new Output(),
): Promise<number> {
  let values: Values = {};
  let command: Command | undefined;
  try {
    const parsed = parse(argv);
    values = parsed.values;
    if (parsed.command === "help") {
      const topic = parsed.args[0];
      const about = topic === undefined ? undefined : find(topic);
      if (topic !== undefined && !about) throw unknown(topic);
      const { commandHelp, mainHelp } = await help();
      await out.line(about ? commandHelp(about) : mainHelp(COMMANDS));
      return 0;
    }
    if (values.version && !values.help) {
      await out.line(
        values.json
          ? JSON.stringify({ version: VERSION })
          : `sup-cache ${VERSION}`,
      );
      return 0;
    }
    if (parsed.command === null) {
      if (values.help) {
        await out.line((await help()).mainHelp(COMMANDS));
        return 0;
      }
      throw new UsageError(
        "no command given; run sup-cache --help for the list",
      );
    }
    command = find(parsed.command);
    if (!command) throw unknown(parsed.command);
    if (values.help) {
      await out.line((await help()).commandHelp(command));
      return 0;
    }
    checkOptions(
      parsed.command,
      values,
      command.options.map(([name]) => name),
    );
    const ctx: Context = {
      command: parsed.command,
      args: parsed.args,
      values,
      out,
    };
    return await command.run(ctx);
  } catch (err) {
    await report(err, values.json === true, command?.name ?? null, out);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

function unknown(name: string): UsageError {
  return new UsageError(
    `unknown command ${JSON.stringify(name)}; the commands are: ${
      COMMANDS.map((c) => c.name).join(", ")
    } (see sup-cache --help)`,
  );
}

/** An error as code and message, with advice for the platform's own errors. */
function describe(err: unknown): { code: string; message: string } {
  if (err instanceof SupCacheError) {
    return { code: err.code, message: err.message };
  }
  if (err instanceof Deno.errors.NotCapable) {
    return {
      code: "PERMISSION",
      message:
        `${err.message}; run with the permission flags in the README (deno task sup sets them), or add the one named above`,
    };
  }
  if (err instanceof Deno.errors.NotFound) {
    return {
      code: "NOT_FOUND",
      message: `${err.message}; check the path`,
    };
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return {
      code: "PERMISSION",
      message:
        `${err.message}; the operating system refused access: check the file's owner and mode`,
    };
  }
  // Anything else is a bug in sup-cache: keep the stack for the report.
  return {
    code: "INTERNAL",
    message: `internal error, please report it with this output: ${
      err instanceof Error ? err.stack ?? err.message : String(err)
    }`,
  };
}

async function report(
  err: unknown,
  json: boolean,
  command: string | null,
  out: Output,
): Promise<void> {
  const { code, message } = describe(err);
  if (json) {
    await out.jsonNote({ error: { code, message } });
    return;
  }
  await out.note(`sup-cache${command ? ` ${command}` : ""}: ${message}`);
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
