/**
 * Every error sup-cache throws on purpose is a {@link SupCacheError}; the
 * subclasses say what went wrong so callers can branch with `instanceof`
 * instead of parsing messages. This module depends on nothing, so every
 * layer (storage, cache, host) can use it without breaking the
 * host -> cache -> storage direction.
 *
 * @module
 */

/** Format a byte count the way the messages promise ("2,100 bytes"). */
export function formatBytes(n: number): string {
  return `${n.toLocaleString("en-US")} byte${n === 1 ? "" : "s"}`;
}

/**
 * Base class of every error thrown by sup-cache.
 *
 * @example
 * ```ts
 * import { createSupCache, SupCacheError } from "@sup/cache";
 * const cache = await createSupCache({ path: ":memory:" });
 * try {
 *   await cache.namespace("demo").set("", "x");
 * } catch (err) {
 *   console.log(err instanceof SupCacheError); // true
 * }
 * await cache.close();
 * ```
 */
export class SupCacheError extends Error {
  /** A stable machine-readable code, e.g. `"INVALID_INPUT"`. */
  readonly code: string;
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Bad input from the caller: an empty key, a wrong type, a negative TTL, a
 * malformed cursor. Nothing was written.
 *
 * @example
 * ```ts
 * import { createSupCache, InvalidInputError } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * await cache.namespace("demo").set("k", "v", { ttl: -1 }).catch((err) => {
 *   console.log(err instanceof InvalidInputError); // true
 * });
 * ```
 */
export class InvalidInputError extends SupCacheError {
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_INPUT", message, options);
  }
}

/**
 * A key, value or namespace name is larger than the configured limit.
 * `size` and `limit` are in bytes. Nothing was written.
 *
 * @example
 * ```ts
 * import { createSupCache, LimitExceededError } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:", limits: { maxKeyBytes: 4 } });
 * await cache.namespace("demo").set("too-long", "v").catch((err) => {
 *   console.log(err instanceof LimitExceededError, err.size, err.limit); // true 8 4
 * });
 * ```
 */
export class LimitExceededError extends SupCacheError {
  /** What was too large: `"key"`, `"value"` or `"namespace"`. */
  readonly what: string;
  /** The offending size in bytes. */
  readonly size: number;
  /** The configured limit in bytes. */
  readonly limit: number;
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(what: string, size: number, limit: number) {
    super(
      "LIMIT_EXCEEDED",
      `${what} is ${formatBytes(size)}; the limit is ${
        limit.toLocaleString("en-US")
      }`,
    );
    this.what = what;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * A write would take a namespace past its quota (`maxBytes` or `maxKeys`).
 * Expired entries are purged before this is thrown, so the quota is real.
 * Nothing was written.
 *
 * @example
 * ```ts
 * import { createSupCache, QuotaExceededError } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:", limits: { maxKeys: 1 } });
 * const ns = cache.namespace("demo");
 * await ns.set("a", "1");
 * await ns.set("b", "2").catch((err) => console.log(err instanceof QuotaExceededError)); // true
 * ```
 */
export class QuotaExceededError extends SupCacheError {
  /** The namespace that is full. */
  readonly namespace: string;
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(namespace: string, message: string) {
    super("QUOTA_EXCEEDED", message);
    this.namespace = namespace;
  }
}

/**
 * `increment` found a value that is not a decimal integer. The value was
 * left untouched.
 *
 * @example
 * ```ts
 * import { createSupCache, NotAnIntegerError } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const ns = cache.namespace("demo");
 * await ns.set("name", "ada");
 * await ns.increment("name").catch((err) => console.log(err instanceof NotAnIntegerError)); // true
 * ```
 */
export class NotAnIntegerError extends SupCacheError {
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(message: string) {
    super("NOT_AN_INTEGER", message);
  }
}

/**
 * The cache (or plugin) was used after `close()`.
 *
 * @example
 * ```ts
 * import { createSupCache, ClosedError } from "@sup/cache";
 * const cache = await createSupCache({ path: ":memory:" });
 * await cache.close();
 * try {
 *   cache.namespace("demo"); // a closed cache hands out no namespaces
 * } catch (err) {
 *   console.log(err instanceof ClosedError); // true
 * }
 * ```
 */
export class ClosedError extends SupCacheError {
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(what: string) {
    super("CLOSED", `${what} is closed; create a new one to keep working`);
  }
}

/**
 * The database file could not be opened, read or written: not a database,
 * corrupt, read-only, disk full, or a permission problem. `path` names the
 * file. Nothing already stored was changed by the failed operation.
 *
 * @example
 * ```ts
 * import { createSupCache, StorageError } from "@sup/cache";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/cache.db`, "this is not a database, it is a text file");
 * await createSupCache({ dataDir: dir }).catch((err) => console.log(err instanceof StorageError)); // true
 * ```
 */
export class StorageError extends SupCacheError {
  /** The database file involved. */
  readonly path: string;
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super("STORAGE", message, options);
    this.path = path;
  }
}

/**
 * The database file was written by a newer sup-cache (its schema version is
 * higher than this one understands). The file is left untouched.
 *
 * @example
 * ```ts
 * import { SchemaVersionError } from "@sup/cache";
 * const err = new SchemaVersionError("/tmp/cache.db", 9, 1);
 * console.log(err.message.includes("newer")); // true
 * ```
 */
export class SchemaVersionError extends StorageError {
  /** The schema version found in the file. */
  readonly found: number;
  /** The newest schema version this build understands. */
  readonly supported: number;
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(path: string, found: number, supported: number) {
    super(
      path,
      `${path} has schema version ${found}, but this sup-cache understands up to ${supported}; it was written by a newer sup-cache: upgrade sup-cache or use another data directory`,
    );
    this.found = found;
    this.supported = supported;
  }
}

/**
 * An opt-in storage driver could not be loaded (for example `driver: "ffi"`
 * without `--allow-ffi`, or with JSR unreachable).
 *
 * @example
 * ```ts
 * import { DriverUnavailableError } from "@sup/cache";
 * const err = new DriverUnavailableError("ffi", "run with --allow-ffi");
 * console.log(err.driver); // "ffi"
 * ```
 */
export class DriverUnavailableError extends SupCacheError {
  /** The driver that was asked for. */
  readonly driver: string;
  /** Made by sup-cache; exported for `instanceof` checks and tests. */
  constructor(driver: string, message: string, options?: ErrorOptions) {
    super("DRIVER_UNAVAILABLE", message, options);
    this.driver = driver;
  }
}
