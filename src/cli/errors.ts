/**
 * Errors only the command-line tool raises. They extend the library's
 * {@link SupCacheError} so the entry point reports every failure the same
 * way: a message that says what to do, and an exit code by kind.
 *
 * @module
 */
import { SupCacheError } from "../errors.ts";
import type { Keyspace } from "../cache/types.ts";

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
  /** `message` says what is wrong and what to type instead; `code` defaults to `"USAGE"`. */
  constructor(message: string, command: string | null = null, code = "USAGE") {
    super(code, message);
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
  readonly kind: Keyspace;
  /** The namespace that was searched. */
  readonly namespace: string;
  /** The key that is missing. */
  readonly key: string;
  /** The message names the keyspace and how to list what is there. */
  constructor(kind: Keyspace, namespace: string, key: string) {
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

export { InputFormatError } from "../transfer/errors.ts";

/**
 * A `--ttl` is a duration, but out of range: under 1 ms, not a whole number
 * of ms, or so long that the expiry would fall past the latest time a
 * JavaScript `Date` holds (+275760-09-13). A wrong command line: exit 2.
 *
 * @example
 * ```ts
 * import { TtlRangeError } from "./errors.ts";
 * const err = new TtlRangeError("9007199254740991ms", 9007199254740991, 6_875_000_000_000_000);
 * console.log(err.code, err.min); // "TTL_RANGE" 1
 * ```
 */
export class TtlRangeError extends UsageError {
  /** The smallest TTL, in ms. */
  readonly min = 1;
  /** The largest TTL now, in ms. */
  readonly max: number;
  /** `ms` is what `text` parsed to; `max` the largest TTL now. */
  constructor(text: string, ms: number, max: number) {
    super(
      `--ttl ${JSON.stringify(text)} is ${
        ms.toLocaleString("en-US")
      } ms, out of range: a TTL must be a whole number of milliseconds from 1 to ${
        max.toLocaleString("en-US")
      } (expiring by +275760-09-13, the latest time a JavaScript Date holds); use "never" for no expiry`,
      null,
      "TTL_RANGE",
    );
    this.max = max;
  }
}

/** Quote `s` for a shell only when it needs it, so hints can be pasted. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
