/**
 * Errors only the command-line tool raises. They extend the library's
 * {@link SupCacheError} so the entry point reports every failure the same
 * way: a message that says what to do, and an exit code by kind.
 *
 * @module
 */
import { SupCacheError } from "../errors.ts";

/**
 * The command line itself is wrong: an unknown command or option, a missing
 * argument, a value that does not parse. Exit code 2, as most Unix tools.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * const err = new UsageError("get needs <namespace> <key>", "get");
 * console.log(err.code, err.command); // "USAGE" "get"
 * ```
 */
export class UsageError extends SupCacheError {
  /** The command whose `--help` explains the right usage, if known. */
  readonly command: string | null;
  /** `message` says what is wrong and what to type instead. */
  constructor(message: string, command: string | null = null) {
    super("USAGE", message);
    this.command = command;
  }
}

/**
 * A key the user asked for is not there (never written, deleted, or
 * expired). Kept apart from real failures so scripts can tell a miss from a
 * broken database by the error code.
 *
 * @example
 * ```ts
 * import { KeyNotFoundError } from "./errors.ts";
 * const err = new KeyNotFoundError("cache", "counter", "visits");
 * console.log(err.code, err.message.includes("sup-cache keys counter")); // "NOT_FOUND" true
 * ```
 */
export class KeyNotFoundError extends SupCacheError {
  /** `"cache"` or `"store"`. */
  readonly kind: "cache" | "store";
  /** The namespace that was searched. */
  readonly namespace: string;
  /** The key that is missing. */
  readonly key: string;
  /** The message names the keyspace and how to list what is there. */
  constructor(kind: "cache" | "store", namespace: string, key: string) {
    const store = kind === "store" ? " --store" : "";
    super(
      "NOT_FOUND",
      `no live key ${JSON.stringify(key)} in ${kind} namespace ${
        JSON.stringify(namespace)
      } (never written, deleted, or expired); list what is there with: sup-cache keys ${
        shellQuote(namespace)
      }${store}`,
    );
    this.kind = kind;
    this.namespace = namespace;
    this.key = key;
  }
}

/**
 * An input file (an export to import, or a sup database) is malformed. The
 * message names the file and, for JSON Lines, the line. Nothing was written.
 *
 * @example
 * ```ts
 * import { InputFormatError } from "./errors.ts";
 * const err = new InputFormatError("backup.jsonl", "line 3: not JSON");
 * console.log(err.file, err.code); // "backup.jsonl" "INPUT_FORMAT"
 * ```
 */
export class InputFormatError extends SupCacheError {
  /** The file that could not be read as expected. */
  readonly file: string;
  /** `message` is prefixed with `file`. */
  constructor(file: string, message: string, options?: ErrorOptions) {
    super("INPUT_FORMAT", `${file}: ${message}`, options);
    this.file = file;
  }
}

/** Quote `s` for a shell only when it needs it, so hints can be pasted. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
