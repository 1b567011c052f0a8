/**
 * The public, Promise-based face of a namespace.
 *
 * @module
 */
import { type AtomicOperation, atomicOperationOf } from "./atomic.ts";
import { PagedList } from "./list.ts";
import { type NamespaceCore, SyncFace } from "./namespace.ts";
import type {
  CacheEntry,
  CacheValue,
  KeyedCacheEntry,
  ListOptions,
  ListPage,
  NamespaceStats,
  ScanPage,
  SetOptions,
  SyncNamespace,
} from "./types.ts";

// Set by Namespace's static block: how SupCache makes one without a public
// constructor that would show the internal NamespaceCore.
let makeNamespace: (core: NamespaceCore) => Namespace;

/** The public face of `core` (for SupCache; not exported by mod.ts). */
export function namespaceOf(core: NamespaceCore): Namespace {
  return makeNamespace(core);
}

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
  readonly #core: NamespaceCore;

  static {
    makeNamespace = (core) => new Namespace(core);
  }

  /** Made by `SupCache.namespace()` and `SupCache.store()` only. */
  private constructor(core: NamespaceCore) {
    this.#core = core;
    this.sync = new SyncFace(core);
  }

  /** The namespace name. */
  get name(): string {
    return this.#core.name;
  }

  /** The live value, or `null` when missing or expired. */
  get(key: string): Promise<Uint8Array | null> {
    // As `set`: no generator on the common path, errors as rejections.
    try {
      return Promise.resolve(this.#core.getNow(key));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The live entry with its version and expiry, or `null`. */
  getEntry(key: string): Promise<CacheEntry | null> {
    return this.#core.run(this.#core.getEntry(key));
  }

  /** Like `getEntry`, without counting a hit or miss (for inspection tools). */
  peek(key: string): Promise<CacheEntry | null> {
    return this.#core.run(this.#core.peek(key));
  }

  /** Store `value` under `key`, with an optional per-item `ttl` in ms (`null` = never). */
  set(
    key: string,
    value: CacheValue,
    options?: SetOptions,
  ): Promise<void> {
    // No generator, closure or async function on the common path: the
    // result (SQLite) or the backend's Promise (Redis), errors as rejections.
    try {
      return Promise.resolve(this.#core.setNow(key, value, options));
    } catch (err) {
      return Promise.reject(err);
    }
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
    return this.#core.run(this.#core.setMany(entries));
  }

  /**
   * Like `setMany`, but only where a key has no live entry: keys that have
   * one keep it, in the same transaction, so a concurrent writer is never
   * overwritten (an expired entry is replaced). Resolves to the keys left
   * alone, once per entry left alone: a key given twice is written once
   * (the first, when absent) and listed for the later ones, as one by one.
   * For loading many entries without clobbering (the CLI's `import`): one
   * statement per entry, no separate lookup.
   *
   * @example
   * ```ts
   * import { createSupCache } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * const ns = cache.namespace("cities");
   * await ns.set("berlin", "12°C");
   * const kept = await ns.setManyIfAbsent([
   *   ["berlin", "3°C"],
   *   ["lisbon", "19°C", { ttl: 60_000 }],
   * ]);
   * console.log(kept); // [ "berlin" ]
   * console.log(new TextDecoder().decode((await ns.get("berlin"))!)); // "12°C"
   * ```
   */
  setManyIfAbsent(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): Promise<string[]> {
    return this.#core.run(this.#core.setManyIfAbsent(entries));
  }

  /** Remove `key`; resolves `true` when a live entry was removed. */
  delete(key: string): Promise<boolean> {
    try {
      return Promise.resolve(this.#core.deleteNow(key));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Whether a live entry exists. */
  has(key: string): Promise<boolean> {
    return this.#core.run(this.#core.has(key));
  }

  /**
   * Live keys in UTF-8 byte order; `prefix` is literal. Awaited: one page,
   * `{ keys, cursor }`. Iterated (`for await (const key of ns.list())`):
   * every key, page after page (`limit` is the page size).
   *
   * @example
   * ```ts
   * import { createSupCache } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * const ns = cache.namespace("n");
   * await ns.setMany([["a:1", "x"], ["a:2", "y"], ["b:1", "z"]]);
   * const keys = [];
   * for await (const key of ns.list({ prefix: "a:" })) keys.push(key);
   * console.log(keys, (await ns.list({ limit: 1 })).cursor !== null); // [ "a:1", "a:2" ] true
   * ```
   */
  list(options: ListOptions = {}): PagedList<string, ListPage> {
    const core = this.#core;
    return new PagedList(
      core.run(core.list(options)),
      (cursor) => core.run(core.list({ ...options, cursor })),
      (page) => page.keys,
    );
  }

  /**
   * Live entries (key, value, version, times) in key order, for export and
   * inspection; not counted as hits. Same options as `list`, and like it:
   * awaited, one page `{ entries, cursor }`; iterated, every entry.
   */
  scan(options: ListOptions = {}): PagedList<KeyedCacheEntry, ScanPage> {
    const core = this.#core;
    return new PagedList(
      core.run(core.scan(options)),
      (cursor) => core.run(core.scan({ ...options, cursor })),
      (page) => page.entries,
    );
  }

  /**
   * Atomically add `by` (default 1) to a decimal integer value (missing
   * counts as 0) and return the result. The value is stored as decimal text,
   * so `get` reads `"42"`. An existing entry keeps its expiry; a new one gets
   * the namespace default. A non-integer value throws `NotAnIntegerError`
   * and stays as it was.
   */
  increment(key: string, by?: number): Promise<number> {
    try {
      return Promise.resolve(this.#core.incrementNow(key, by));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Start an all-or-nothing batch of checks and writes. */
  atomic(): AtomicOperation {
    return atomicOperationOf(this.#core);
  }

  /** Remove every entry of this namespace; resolves to how many. */
  clear(): Promise<number> {
    return this.#core.run(this.#core.clear());
  }

  /** Keys, bytes, hits and misses of this namespace. */
  stats(): NamespaceStats {
    return this.#core.stats();
  }
}
