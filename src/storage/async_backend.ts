/**
 * The asynchronous storage interface, for backends that live across a
 * network (Redis, Redis Cluster). It mirrors {@link Backend} operation for
 * operation with the same request shapes ({@link KeyRange}, {@link Quota},
 * {@link Space}), so one cache layer can drive either.
 *
 * What it cannot mirror is `Backend.transaction(fn)`: a network store has no
 * interactive transaction that holds a lock while JavaScript runs. The
 * read-modify-write operations the cache builds on it (`increment`, an
 * atomic commit with version checks, batches) are therefore single
 * requests here, and the backend makes each one atomic on the server (a Lua
 * script on Redis).
 *
 * @module
 */
import type {
  AttributionCursor,
  EvictionResult,
  ForgetCandidate,
  KeyedEntry,
  KeyRange,
  NamespaceUsage,
  Quota,
  Space,
  StoredEntry,
  UsedValue,
} from "./backend.ts";

export type {
  AttributionCursor,
  EvictionResult,
  ForgetCandidate,
  KeyedEntry,
  KeyRange,
  NamespaceUsage,
  Quota,
  Space,
  StoredEntry,
  UsedValue,
};

/**
 * One write of a batch (`writeMany`, `commit`): a set, or a delete when
 * `value` is `null`. The same shape as the SQLite backend's batch writes.
 *
 * @example
 * ```ts
 * import type { BatchWrite } from "./async_backend.ts";
 * const w: BatchWrite = { key: "a", value: new Uint8Array([1]), expiresAt: null, size: 2 };
 * console.log(w.size); // 2
 * ```
 */
export interface BatchWrite {
  /** The key. */
  key: string;
  /** The value, or `null` to delete the key. */
  value: Uint8Array | null;
  /** Expiry (ms since the epoch) or `null`; ignored for deletes. */
  expiresAt: number | null;
  /** Key bytes + value bytes (UTF-8); ignored for deletes. */
  size: number;
}

/**
 * Where a purge over every namespace stopped: the namespace it was in.
 *
 * @example
 * ```ts
 * import type { SweepCursor } from "./async_backend.ts";
 * const at: SweepCursor = { space: 0, ns: "weather", key: "" };
 * console.log(at.ns); // "weather"
 * ```
 */
export interface SweepCursor {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace. */
  ns: string;
  /** The key (unused by the Redis backend, which purges by expiry time). */
  key: string;
}

/**
 * One bounded step of an expiry purge.
 *
 * @example
 * ```ts
 * import type { PurgeStep } from "./async_backend.ts";
 * const step: PurgeStep<string> = { deleted: 3, next: null };
 * console.log(step.next === null ? "done" : "more"); // "done"
 * ```
 */
export interface PurgeStep<C> {
  /** Expired entries removed by this step. */
  deleted: number;
  /** Where the next step starts, or `null` when this one reached the end. */
  next: C | null;
}

/**
 * A namespace's usage as last reported, for synchronous `stats()`.
 *
 * @example
 * ```ts
 * import type { KnownUsage } from "./async_backend.ts";
 * const u: KnownUsage = { keys: 1, bytes: 6, hits: 0, misses: 0 };
 * console.log(u.keys); // 1
 * ```
 */
export interface KnownUsage {
  /** Stored entries. */
  keys: number;
  /** Bytes of keys plus values. */
  bytes: number;
  /** Flushed hits. */
  hits: number;
  /** Flushed misses. */
  misses: number;
  /** Entries evicted to make room (all processes); absent when not known. */
  evictions?: number;
}

/**
 * How an increment ended. Nothing was written unless `kind` is `"ok"`.
 * Richer than the SQLite backend's `string | undefined`: a network store
 * says why in the same round trip, so the cache needs no second request to
 * find out.
 *
 * @example
 * ```ts
 * import type { IncrementResult } from "./async_backend.ts";
 * const res = { kind: "ok", value: 2 } as IncrementResult;
 * if (res.kind === "ok") console.log(res.value); // 2
 * ```
 */
export type IncrementResult =
  | { kind: "ok"; value: number }
  /** The stored value is not a safe decimal integer; `text` is its start. */
  | { kind: "not-integer"; text: string }
  /** The sum is past `Number.MAX_SAFE_INTEGER` in either direction. */
  | { kind: "overflow" }
  | { kind: "quota" };

/**
 * A version check of an atomic commit: the key must be live at `version`,
 * or absent when `version` is `null`.
 *
 * @example
 * ```ts
 * import type { VersionCheck } from "./async_backend.ts";
 * const c: VersionCheck = { key: "alice", version: null };
 * console.log(c.version); // null
 * ```
 */
export interface VersionCheck {
  /** The key. */
  key: string;
  /** The version from `get`, or `null` for "must not exist". */
  version: number | null;
}

/**
 * How a commit ended: `"ok"` (everything written), `"check"` (a check
 * failed, nothing written) or `"quota"` (a write would pass the quota,
 * nothing written).
 *
 * @example
 * ```ts
 * import type { CommitOutcome } from "./async_backend.ts";
 * const describe = (o: CommitOutcome) => o === "ok" ? "written" : `nothing written (${o})`;
 * console.log(describe("check")); // "nothing written (check)"
 * ```
 */
export type CommitOutcome = "ok" | "check" | "quota";

/**
 * The operations a networked backend offers; every one resolves once the
 * server has answered. Errors are `StorageError`s (or subclasses naming the
 * failure, such as a server that is down).
 *
 * @example
 * ```ts
 * import type { AsyncBackend } from "./async_backend.ts";
 * async function count(b: AsyncBackend, ns: string): Promise<number> {
 *   return (await b.usage(0, ns)).keys;
 * }
 * console.log(typeof count); // "function"
 * ```
 */
export interface AsyncBackend {
  /** Marks the asynchronous kind, so the cache picks its async path once, at open. */
  readonly async: true;
  /** Where the data lives, without credentials (e.g. `redis://127.0.0.1:6379/0`). */
  readonly path: string;
  /** The live entry (expiresAt > now or null), or `undefined`. */
  get(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<StoredEntry | undefined>;
  /** The live value only, or `undefined` (the hot read path). */
  getValue(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<Uint8Array | undefined>;
  /**
   * Insert or replace; `size` is key bytes + value bytes, `now` the write
   * time. Resolves `false` (and writes nothing) when `quota` would be exceeded.
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
  ): Promise<boolean>;
  /**
   * Apply sets and deletes in order, all or nothing. Resolves `false` (and
   * writes nothing) when the result would pass `quota`.
   */
  writeMany(
    space: Space,
    ns: string,
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
  ): Promise<boolean>;
  /**
   * Check versions, then apply `writes` like {@link AsyncBackend.writeMany},
   * all in one atomic step.
   */
  commit(
    space: Space,
    ns: string,
    checks: readonly VersionCheck[],
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
  ): Promise<CommitOutcome>;
  /**
   * Add `by` to a live decimal integer value (a missing or expired one
   * counts as 0 and gets `expiresAt`; a live one keeps its expiry),
   * atomically.
   */
  increment(
    space: Space,
    ns: string,
    key: string,
    by: number,
    expiresAt: number | null,
    keySize: number,
    now: number,
    quota: Quota | null,
  ): Promise<IncrementResult>;
  /** Delete the entry; resolves whether a live entry was deleted. */
  delete(space: Space, ns: string, key: string, now: number): Promise<boolean>;
  /** Live keys of `range`, in byte order. */
  list(range: KeyRange): Promise<string[]>;
  /** Like {@link AsyncBackend.list}, with each entry's value, version and times. */
  scan(range: KeyRange): Promise<KeyedEntry[]>;
  /** Delete every entry of a namespace; resolves to the count. */
  clear(space: Space, ns: string): Promise<number>;
  /** Usage of one namespace (zeros when it never existed). */
  usage(space: Space, ns: string): Promise<NamespaceUsage>;
  /**
   * Usage of a namespace as the server last reported it to this process
   * (every write answers with keys and bytes; `usage` and `namespaces`
   * report everything), without a request; `undefined` before the first
   * report. Lets `stats()` stay synchronous.
   */
  knownUsage(space: Space, ns: string): KnownUsage | undefined;
  /** Usage of every namespace that ever held an entry, ordered by name, then space. */
  namespaces(): Promise<NamespaceUsage[]>;
  /** Add to the persisted hit and miss counters. */
  addCounters(
    space: Space,
    ns: string,
    hits: number,
    misses: number,
  ): Promise<void>;
  /** Share usage changes not yet visible to others (nothing to do on Redis). */
  flush(): Promise<void>;
  /** One bounded purge step over every namespace, starting after `after`. */
  purgeExpired(
    now: number,
    limit: number,
    after: SweepCursor | null,
  ): Promise<PurgeStep<SweepCursor>>;
  /** One bounded purge step within one namespace. */
  purgeExpiredIn(
    space: Space,
    ns: string,
    now: number,
    limit: number,
    after: string | null,
  ): Promise<PurgeStep<string>>;
  /**
   * Count the namespace again and store the exact usage when the stored
   * one differs; resolves whether it changed anything.
   */
  recount(space: Space, ns: string): Promise<boolean>;
  /** Close the connections; later calls reject. Closing twice is harmless. */
  close(): Promise<void>;

  // The optional primitives of `Backend` (eviction, who entries were
  // written for), with the same names, parameters and semantics, answering
  // with Promises. Without a transaction to join, each is one atomic step
  // on the server by itself.

  /** Like `Backend.getValueUsed`. */
  getValueUsed?(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<UsedValue | undefined>;
  /** Like `Backend.touch`, in one atomic step. */
  touch?(
    space: Space,
    ns: string,
    reads: ReadonlyMap<string, number>,
  ): Promise<void>;
  /** Like `Backend.counts`. */
  counts?(space: Space, ns: string): Promise<{ keys: number; bytes: number }>;
  /** Like `Backend.attribute`: a step of its own, right after the write. */
  attribute?(
    space: Space,
    ns: string,
    key: string,
    sender: string,
  ): Promise<void>;
  /** Like `Backend.forgetCandidates`. */
  forgetCandidates?(sender: string): Promise<ForgetCandidate[]>;
  /** Like `Backend.dropAttributions` (one atomic step per namespace). */
  dropAttributions?(sender: string): Promise<void>;
  /** Like `Backend.pruneAttributions`. */
  pruneAttributions?(
    after: AttributionCursor | null,
    limit: number,
  ): Promise<AttributionCursor | null>;
  /**
   * Like `Backend.evict`, as one atomic step of its own: the write it makes
   * room for follows as another (see docs/scale-out.md for what can come
   * between them).
   */
  evict?(
    space: Space,
    ns: string,
    keys: number,
    bytes: number,
    quota: Quota,
    atLeast: number,
    maxRows: number,
    now: number,
  ): Promise<EvictionResult>;
}
