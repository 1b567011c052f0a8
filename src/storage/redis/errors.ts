/**
 * Errors of the Redis backend. Both are {@link StorageError}s, so code that
 * handles "the storage failed" for SQLite handles Redis too; the subclass
 * says which failure it was.
 *
 * @module
 */
import { StorageError } from "../../errors.ts";

/**
 * Redis did not answer in time: it is down, unreachable, or too slow. `path`
 * is the server (or cluster) without credentials. A write that failed this
 * way may or may not have been applied (the request may have reached the
 * server before the deadline passed); a read changed nothing. The client
 * keeps reconnecting in the background, so the next call works once the
 * server is back.
 *
 * @example
 * ```ts
 * import { RedisUnavailableError } from "./errors.ts";
 * import { StorageError } from "../../errors.ts";
 * const err = new RedisUnavailableError("redis://127.0.0.1:6379", "get", 2_000);
 * console.log(err instanceof StorageError, err.timeoutMs); // true 2000
 * ```
 */
export class RedisUnavailableError extends StorageError {
  /** The deadline that passed, in ms. */
  readonly timeoutMs: number;
  /** Made by the Redis backend; exported for `instanceof` checks and tests. */
  constructor(
    path: string,
    operation: string,
    timeoutMs: number,
    options?: ErrorOptions,
  ) {
    const why = options?.cause instanceof Error
      ? ` (${options.cause.message})`
      : "";
    super(
      path,
      `Redis at ${path} did not answer ${operation} within ${
        timeoutMs.toLocaleString("en-US")
      } ms${why}; check that the server runs and is reachable, or raise redis.${
        operation === "connect"
          ? "connectTimeoutMs"
          : "commandTimeoutMs (a write that timed out may or may not have landed)"
      }`,
      options,
    );
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Redis answered with an error (out of memory, a wrong password, a read-only
 * replica, a script refused). `reply` is Redis's own message. Nothing was
 * written: the backend's scripts check everything before their first write.
 *
 * @example
 * ```ts
 * import { RedisReplyError } from "./errors.ts";
 * const err = new RedisReplyError("redis://127.0.0.1:6379", "set", "OOM command not allowed");
 * console.log(err.reply); // "OOM command not allowed"
 * ```
 */
export class RedisReplyError extends StorageError {
  /** Redis's error text. */
  readonly reply: string;
  /** Made by the Redis backend; exported for `instanceof` checks and tests. */
  constructor(
    path: string,
    operation: string,
    reply: string,
    options?: ErrorOptions,
  ) {
    super(
      path,
      `Redis at ${path} refused ${operation}: ${reply}${hint(reply)}`,
      options,
    );
    this.reply = reply;
  }
}

function hint(reply: string): string {
  if (/^OOM/.test(reply)) {
    return "; the server reached maxmemory: raise it, or set a noeviction-safe policy and purge expired entries";
  }
  if (/^(NOAUTH|WRONGPASS)/.test(reply)) {
    return "; put the user and password in the URL (redis://user:password@host:6379)";
  }
  if (/^READONLY/.test(reply)) {
    return "; the URL points at a replica: use the primary";
  }
  if (/^NOPERM/.test(reply)) {
    return "; the ACL user needs read, write and EVALSHA/EVAL permission on the key prefix";
  }
  return "";
}
