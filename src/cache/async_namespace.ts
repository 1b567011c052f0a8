/**
 * The public, Promise-based face of a namespace.
 *
 * @module
 */
import { AtomicOperation } from "./atomic.ts";
import { settle } from "./settle.ts";
import type { SyncNamespaceImpl } from "./namespace.ts";
import type {
  CacheEntry,
  CacheValue,
  ListOptions,
  ListPage,
  NamespaceStats,
  ScanPage,
  SetOptions,
  SyncNamespace,
} from "./types.ts";

/**
 * An isolated keyspace. Two namespaces never see each other's keys, whatever
 * their names (`"a:b"` and `"a"` included). Values are bytes; strings are
 * stored as UTF-8. Expired entries are never returned.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const ns = cache.namespace("counter");
 * await ns.set("greeting", "Hello", { ttl: 60_000 });
 * console.log(new TextDecoder().decode((await ns.get("greeting"))!)); // "Hello"
 * console.log(await ns.increment("visits")); // 1
 * ```
 */
export class Namespace {
  /**
   * The same namespace without Promises, for plugin host functions and hot
   * loops; each call blocks for one SQLite statement.
   */
  readonly sync: SyncNamespace;
  readonly #impl: SyncNamespaceImpl;

  /** Made by `SupCache.namespace()` and `SupCache.store()`. */
  constructor(impl: SyncNamespaceImpl) {
    this.#impl = impl;
    this.sync = impl;
  }

  /** The namespace name. */
  get name(): string {
    return this.#impl.name;
  }

  /** The live value, or `null` when missing or expired. */
  get(key: string): Promise<Uint8Array | null> {
    return settle(() => this.#impl.get(key));
  }

  /** The live entry with its version and expiry, or `null`. */
  getEntry(key: string): Promise<CacheEntry | null> {
    return settle(() => this.#impl.getEntry(key));
  }

  /** Like `getEntry`, without counting a hit or miss (for inspection tools). */
  peek(key: string): Promise<CacheEntry | null> {
    return settle(() => this.#impl.peek(key));
  }

  /** Store `value` under `key`, with an optional per-item `ttl` in ms (`null` = never). */
  set(
    key: string,
    value: CacheValue,
    options?: SetOptions,
  ): Promise<void> {
    return settle(() => this.#impl.set(key, value, options));
  }

  /**
   * Write many entries in one transaction: all of them land or none do
   * (bad input, a full quota or a full disk writes nothing). Each item is
   * `[key, value]` or `[key, value, { ttl } | { expiresAt }]`, so a `Map`
   * or `Object.entries(record)` can be passed as is. Every item is checked
   * before anything is written. Resolves to how many entries were written.
   * Far faster than one `set` per entry for loading many keys: one commit,
   * and usage is counted once for the batch.
   *
   * @example
   * ```ts
   * import { createSupCache } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * const ns = cache.namespace("cities");
   * const n = await ns.setMany([
   *   ["berlin", "12°C"],
   *   ["lisbon", "19°C", { ttl: 60_000 }],
   * ]);
   * console.log(n, (await ns.list()).keys); // 2 [ "berlin", "lisbon" ]
   * ```
   */
  setMany(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): Promise<number> {
    return settle(() => this.#impl.setMany(entries));
  }

  /** Remove `key`; resolves `true` when a live entry was removed. */
  delete(key: string): Promise<boolean> {
    return settle(() => this.#impl.delete(key));
  }

  /** Whether a live entry exists. */
  has(key: string): Promise<boolean> {
    return settle(() => this.#impl.has(key));
  }

  /** One page of live keys in UTF-8 byte order; `prefix` is literal. */
  list(options?: ListOptions): Promise<ListPage> {
    return settle(() => this.#impl.list(options));
  }

  /**
   * One page of live entries (key, value, version, times) in key order, for
   * export and inspection; not counted as hits. Same options as `list`.
   */
  scan(options?: ListOptions): Promise<ScanPage> {
    return settle(() => this.#impl.scan(options));
  }

  /**
   * Atomically add `by` (default 1) to a decimal integer value (missing
   * counts as 0) and return the result. The value is stored as decimal text,
   * so `get` reads `"42"`. An existing entry keeps its expiry; a new one gets
   * the namespace default. A non-integer value throws `NotAnIntegerError`
   * and stays as it was.
   */
  increment(key: string, by?: number): Promise<number> {
    return settle(() => this.#impl.increment(key, by));
  }

  /** Start an all-or-nothing batch of checks and writes. */
  atomic(): AtomicOperation {
    return new AtomicOperation(this.#impl);
  }

  /** Remove every entry of this namespace; resolves to how many. */
  clear(): Promise<number> {
    return settle(() => this.#impl.clear());
  }

  /** Keys, bytes, hits and misses of this namespace. */
  stats(): NamespaceStats {
    return this.#impl.stats();
  }
}
