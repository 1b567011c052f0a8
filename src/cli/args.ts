/**
 * Command-line parsing on `node:util`'s `parseArgs`: one table of every
 * option, then a check that each option given belongs to the command, so a
 * typo is an error that names the command's `--help` instead of being
 * ignored.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";

/** Every option any command takes, with its type for `parseArgs`. */
export const OPTIONS = {
  "data-dir": { type: "string" },
  redis: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  store: { type: "boolean" },
  prefix: { type: "string" },
  limit: { type: "string" },
  ttl: { type: "string" },
  output: { type: "string", short: "o" },
  namespace: { type: "string", multiple: true },
  kind: { type: "string" },
  overwrite: { type: "boolean" },
  all: { type: "boolean" },
  sender: { type: "string" },
  name: { type: "string" },
  force: { type: "boolean" },
  "dry-run": { type: "boolean" },
  version: { type: "boolean", short: "V" },
} as const;

/** The name of an option, as typed after `--`. */
export type OptionName = keyof typeof OPTIONS;

/** Options every command accepts. */
export const GLOBAL_OPTIONS: readonly OptionName[] = [
  "data-dir",
  "redis",
  "json",
  "help",
  "version",
];

/** Parsed option values, by option name; see each command's `--help`. */
export interface Values {
  /** `--data-dir DIR`: the data directory. */
  "data-dir"?: string;
  /** `--redis URL[,URL...]`: Redis (one URL) or Redis Cluster (several) instead of SQLite. */
  redis?: string;
  /** `--json`: machine-readable output. */
  json?: boolean;
  /** `-h`, `--help`: show help instead of running. */
  help?: boolean;
  /** `--store`: the never-expiring keyspace. */
  store?: boolean;
  /** `--prefix P`: only keys starting with P. */
  prefix?: string;
  /** `--limit N`: at most N results. */
  limit?: string;
  /** `--ttl D`: time to live with a unit, or `never`. */
  ttl?: string;
  /** `-o`, `--output FILE`: where an export goes. */
  output?: string;
  /** `--namespace N` (repeatable): which namespaces to export. */
  namespace?: string[];
  /** `--kind K`: `cache` or `store`. */
  kind?: string;
  /** `--overwrite`: replace existing keys on import. */
  overwrite?: boolean;
  /** `--all`: every key of a namespace. */
  all?: boolean;
  /** `--sender JID`: the chat a message comes from. */
  sender?: string;
  /** `--name N`: a plugin's namespace. */
  name?: string;
  /** `--force`: replace an existing output file (never a database). */
  force?: boolean;
  /** `--dry-run`: list what would change, change nothing. */
  "dry-run"?: boolean;
  /** `-V`, `--version`: print the version instead of running. */
  version?: boolean;
}

/** A parsed command line: the command word, its arguments, its options. */
export interface Parsed {
  /** The first positional argument, or `null` when there is none. */
  command: string | null;
  /** The positional arguments after the command. */
  args: string[];
  /** Option values by name. */
  values: Values;
}

/**
 * Split `argv` into command, arguments and options. Options may come
 * anywhere; `--` ends options so a value may start with `-`.
 *
 * @example
 * ```ts
 * import { parse } from "./args.ts";
 * const { command, args, values } = parse(["keys", "counter", "--prefix", "user:"]);
 * console.log(command, args, values.prefix); // "keys" ["counter"] "user:"
 * ```
 */
export function parse(argv: string[]): Parsed {
  let result;
  try {
    result = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const option = /'([^']+)'/.exec((err as Error).message)?.[1];
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) {
      throw new UsageError(
        `unknown option ${option}; see sup-cache <command> --help for the options (a value that starts with - goes after --, as in: sup-cache set ns key -- -5)`,
      );
    }
    // parseArgs explains the other problems well; it only lacks where to look next.
    throw new UsageError(`${(err as Error).message}; see sup-cache --help`);
  }
  const [command = null, ...args] = result.positionals;
  return { command, args, values: result.values as Values };
}

/**
 * Throw a {@link UsageError} when `values` holds an option `command` does
 * not take (beyond {@link GLOBAL_OPTIONS}).
 */
export function checkOptions(
  command: string,
  values: Values,
  allowed: readonly OptionName[],
): void {
  for (const name of Object.keys(values) as OptionName[]) {
    if (!GLOBAL_OPTIONS.includes(name) && !allowed.includes(name)) {
      throw new UsageError(
        `${command} does not take --${name}; see sup-cache ${command} --help`,
        command,
      );
    }
  }
}

/**
 * Check the number of positional arguments, naming what is missing or extra.
 */
export function checkArgs(
  command: string,
  args: string[],
  names: readonly string[],
  optional = 0,
): void {
  const min = names.length - optional;
  if (args.length < min) {
    throw new UsageError(
      `${command} needs ${
        names.slice(args.length, min).join(" ")
      }; usage: sup-cache ${command} ${
        names.join(" ")
      } (see sup-cache ${command} --help)`,
      command,
    );
  }
  if (args.length > names.length) {
    throw new UsageError(
      `${command} takes at most ${names.length} argument${
        names.length === 1 ? "" : "s"
      } (${names.join(" ")}), got ${args.length}: ${
        JSON.stringify(args.slice(names.length))
      } is extra; quote values that contain spaces`,
      command,
    );
  }
}

/** Parse `--limit` as a positive whole number. */
export function parseLimit(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `--limit ${JSON.stringify(text)} is not a positive whole number`,
    );
  }
  return n;
}
