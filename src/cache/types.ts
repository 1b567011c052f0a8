/**
 * Public types of the cache API.
 *
 * @module
 */
import type { UsageCounters } from "../storage/backend.ts";

/** `"cache"` or `"store"`: the public name of a keyspace. */
export type { Keyspace } from "../storage/backend.ts";

/** A value accepted by `set`: text is stored as its UTF-8 bytes. */
export type CacheValue = string | Uint8Array;

/** One stored entry, as returned by `getEntry`. */
export interface CacheEntry {
  /** The stored bytes (an empty array is a value, not a miss). */
  value: Uint8Array;
  /**
   * Changes on every write to the key and never repeats within a
   * namespace, even across delete and re-create (overwrites make it grow);
   * pass it to `atomic().check()`. Compare it for equality only: versions
   * are not a clock across keys or processes.
   */
  version: number;
  /** Expiry as milliseconds since the epoch, or `null` for never. */
  expiresAt: number | null;
  /** When the entry was last written, in milliseconds since the epoch. */
  writtenAt: number;
}

/** An entry with its key, as `scan` returns it. */
export interface KeyedCacheEntry extends CacheEntry {
  /** The key. */
  key: string;
}

/** Options of a single write. */
export interface SetOptions {
  /**
   * Time to live in milliseconds (a positive integer), or `null` for never.
   * When absent, the namespace default applies (the cache's `ttl` option for
   * cache namespaces, never for store namespaces).
   */
  ttl?: number | null;
  /**
   * Absolute expiry in milliseconds since the epoch, or `null` for never;
   * for copying entries between caches with their expiry intact. Give
   * `ttl` or `expiresAt`, not both. A time already past stores an entry
   * that is expired at once (never returned, swept later).
   */
  expiresAt?: number | null;
}

/** Options of `list`. */
export interface ListOptions {
  /** Only keys that start with this string, matched literally and case-sensitively. */
  prefix?: string;
  /** Page size: 1 to 1,000, default 100. */
  limit?: number;
  /** The `cursor` of the previous page, to continue after it. */
  cursor?: string;
}

/** One page of `list`. */
export interface ListPage {
  /** Keys in UTF-8 byte order. */
  keys: string[];
  /** Pass to the next `list` call; `null` when this is the last page. */
  cursor: string | null;
}

/** One page of `scan`. */
export interface ScanPage {
  /** Live entries in key order. */
  entries: KeyedCacheEntry[];
  /** Pass to the next `scan` call; `null` when this is the last page. */
  cursor: string | null;
}

/**
 * Counters of one namespace, as returned by `stats()`: the one usage type
 * ({@link UsageCounters}, from the storage interface) with `evictions`
 * always filled in. `NamespaceInfo` (from `cache.namespaces()`) is the same
 * with the namespace's name, keyspace and times.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const ns = cache.namespace("n");
 * await ns.set("k", "v");
 * const { keys, bytes, hits, misses, evictions } = ns.stats();
 * console.log(keys, bytes, hits, misses, evictions); // 1 2 0 0 0
 * ```
 */
export type NamespaceStats = Required<UsageCounters>;

/** Result of `atomic().commit()`. */
export interface CommitResult {
  /** `false` when a `check` failed; then nothing was written. */
  ok: boolean;
}

/**
 * The synchronous face of a namespace. It is what the plugin host's host
 * functions call, so a plugin's cache read never waits on a Promise. Every
 * method runs one SQLite statement or one short transaction and blocks the
 * event loop for that long. Same semantics and errors as {@link Namespace}.
 */
export interface SyncNamespace {
  /** The namespace name. */
  readonly name: string;
  /** The live value, or `null` (missing or expired). */
  get(key: string): Uint8Array | null;
  /** The live entry with its version and expiry, or `null`. */
  getEntry(key: string): CacheEntry | null;
  /** Like `getEntry`, without counting a hit or miss (for inspection tools). */
  peek(key: string): CacheEntry | null;
  /** Store `value` under `key`. */
  set(key: string, value: CacheValue, options?: SetOptions): void;
  /** Write many entries in one transaction; see `Namespace.setMany`. */
  setMany(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): number;
  /** Write entries whose keys have no live entry; see `Namespace.setManyIfAbsent`. */
  setManyIfAbsent(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): string[];
  /** Remove `key`; `true` when a live entry was removed. */
  delete(key: string): boolean;
  /** Whether a live entry exists. */
  has(key: string): boolean;
  /** One page of live keys. */
  /**
   * One page of live keys; also iterable (`for (const key of
   * ns.sync.list({ prefix }))`) over every key, page after page.
   */
  list(options?: ListOptions): ListPage & Iterable<string>;
  /** One page of live entries with their values; not counted as hits. */
  scan(options?: ListOptions): ScanPage & Iterable<KeyedCacheEntry>;
  /** Add `by` (an integer, default 1) to a decimal value and return the sum. */
  increment(key: string, by?: number): number;
  /** Remove every entry of this namespace; returns how many were removed. */
  clear(): number;
  /** Counters of this namespace. */
  stats(): NamespaceStats;
}
