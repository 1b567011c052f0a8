/**
 * The storage interface: every backend (SQLite through `node:sqlite`,
 * SQLite through FFI, or one a user brings) implements these synchronous
 * row operations. It knows nothing about plugins or validation; the cache
 * layer above does that. `space` separates the expiring cache (0) from the
 * never-expiring store (1); `ns` is the namespace, a column in the primary
 * key so namespaces can never see each other's keys.
 *
 * @module
 */

/** 0 = the expiring cache, 1 = the never-expiring store. */
export type Space = 0 | 1;

/** A stored row. */
export interface StoredEntry {
  /** The value bytes. */
  value: Uint8Array;
  /** Per-namespace write sequence number at the last write of this key. */
  version: number;
  /** Milliseconds since the epoch, or `null` for never. */
  expiresAt: number | null;
  /** When the entry was last written, ms since the epoch. */
  writtenAt: number;
}

/** A stored row with its key, as `scan` returns it. */
export interface KeyedEntry extends StoredEntry {
  /** The key. */
  key: string;
}

/** A page of live keys of one namespace, in byte order. */
export interface KeyRange {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace. */
  ns: string;
  /** Lower bound of the keys. */
  from: string;
  /** `true`: keys `> from` (a cursor); `false`: keys `>= from` (a prefix). */
  exclusive: boolean;
  /** Keys `< before`, or no upper bound when `null`. */
  before: string | null;
  /** Most keys to return. */
  limit: number;
  /** The time that decides what is expired, ms since the epoch. */
  now: number;
}

/** Per-namespace quota checked inside the write statement itself. */
export interface Quota {
  /** Most bytes (keys + values) the namespace may hold. */
  maxBytes: number;
  /** Most entries the namespace may hold. */
  maxKeys: number;
}

/** Usage and counters of one namespace. */
export interface NamespaceUsage {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace name. */
  ns: string;
  /** Stored entries (expired ones count until swept). */
  keys: number;
  /** Bytes of keys plus values. */
  bytes: number;
  /** Flushed hit counter. */
  hits: number;
  /** Flushed miss counter. */
  misses: number;
  /** Earliest expiry among stored entries, or `null`. */
  nextExpiry: number | null;
  /** Earliest write time among stored entries, or `null` when empty. */
  oldest: number | null;
}

/** The operations the cache layer builds on. All synchronous. */
export interface Backend {
  /** Where the data lives (a file path, or `":memory:"`). */
  readonly path: string;
  /** The live entry (expiresAt > now or null), or `undefined`. */
  get(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): StoredEntry | undefined;
  /**
   * Insert or replace; `size` is key bytes + value bytes, `now` the write
   * time. Returns `false` (and writes nothing) when `quota` would be exceeded.
   */
  set(
    space: Space,
    ns: string,
    key: string,
    value: Uint8Array,
    expiresAt: number | null,
    size: number,
    now: number,
    quota: Quota | null,
  ): boolean;
  /** Delete the row; returns whether a live row was deleted. */
  delete(space: Space, ns: string, key: string, now: number): boolean;
  /** Live keys of `range`, in byte order. */
  list(range: KeyRange): string[];
  /** Like {@link Backend.list}, with each entry's value, version and times. */
  scan(range: KeyRange): KeyedEntry[];
  /** Delete every row of a namespace; returns the count. */
  clear(space: Space, ns: string): number;
  /** Usage of one namespace (zeros when it never existed). */
  usage(space: Space, ns: string): NamespaceUsage;
  /** Usage of every namespace that ever held an entry. */
  namespaces(): NamespaceUsage[];
  /** Add to the persisted hit and miss counters. */
  addCounters(space: Space, ns: string, hits: number, misses: number): void;
  /** Delete up to `limit` expired rows (any namespace); returns the count. */
  purgeExpired(now: number, limit: number): number;
  /** Delete every expired row of one namespace; returns the count. */
  purgeExpiredIn(space: Space, ns: string, now: number): number;
  /**
   * Run `fn` in one write transaction that takes the write lock up front
   * (so concurrent processes queue instead of failing), all or nothing.
   */
  transaction<T>(fn: () => T): T;
  /** Close the connection. */
  close(): void;
}
