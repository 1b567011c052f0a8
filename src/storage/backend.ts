/**
 * The storage extension point, defined once: {@link Backend} lists the
 * operations the cache layer builds on, synchronously (SQLite through
 * `node:sqlite`, SQLite through FFI, or one a user brings), and
 * {@link AsyncBackend} is the same interface with every result a Promise
 * (Redis), derived from it by a mapped type so the two cannot drift apart.
 * A backend knows nothing about plugins or validation; the cache layer
 * above does that. `space` separates the expiring cache (0) from the
 * never-expiring store (1); `ns` is the namespace, a column in the primary
 * key so namespaces can never see each other's keys. docs/storage.md says
 * what a backend must implement and what is optional.
 *
 * @module
 */

/**
 * Which keyspace: 0 = the expiring cache, 1 = the never-expiring store.
 * The one cache-vs-store type; {@link SPACE_NAMES} gives its public name.
 */
export type Space = 0 | 1;

/**
 * The public name of each {@link Space}, by index: what `NamespaceInfo.kind`
 * and `ForgetReport.kind` say.
 *
 * @example
 * ```ts
 * import { SPACE_NAMES } from "./backend.ts";
 * console.log(SPACE_NAMES[1]); // "store"
 * ```
 */
export const SPACE_NAMES = ["cache", "store"] as const;

/** A {@link Space} by name: `"cache"` or `"store"`. */
export type Keyspace = typeof SPACE_NAMES[Space];

/** A stored row. */
export interface StoredEntry {
  /** The value bytes. */
  value: Uint8Array;
  /**
   * Changes on every write of the key and never repeats within its
   * namespace, even across delete and re-create; overwrites make it grow.
   */
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

/**
 * The one usage type: what a namespace holds and how it was read. The
 * public `NamespaceStats` is this with `evictions` always present;
 * {@link NamespaceUsage} adds where and when.
 */
export interface UsageCounters {
  /** Stored entries, including expired ones not yet swept. */
  keys: number;
  /** Bytes of keys plus values, including expired entries not yet swept. */
  bytes: number;
  /** Reads that found a live value (all processes, once flushed). */
  hits: number;
  /** Reads that found nothing or an expired value. */
  misses: number;
  /**
   * Live entries deleted to make room for writes (`limits.onQuota:
   * "evict"`), by every process, since the namespace was created or
   * cleared; a backend that does not evict may leave it out.
   */
  evictions?: number;
}

/** {@link UsageCounters} of one namespace, with its name and times. */
export interface NamespaceUsage extends UsageCounters {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace name. */
  ns: string;
  /** Earliest expiry among stored entries, or `null`. */
  nextExpiry: number | null;
  /** Earliest write time among stored entries, or `null` when empty. */
  oldest: number | null;
}

/**
 * A namespace's usage as a networked backend last reported it, for the
 * synchronous `stats()`; the same type as {@link UsageCounters}.
 */
export type KnownUsage = UsageCounters;

/**
 * How an increment ended, for backends that say why in the same request
 * (Redis). Nothing was written unless `kind` is `"ok"`.
 *
 * @example
 * ```ts
 * import type { IncrementResult } from "./backend.ts";
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
 */
export type CommitOutcome = "ok" | "check" | "quota";

/** A live value with the time it was last used (written or, coarsely, read). */
export interface UsedValue {
  /** The value bytes. */
  value: Uint8Array;
  /** max(last write, last recorded read), ms since the epoch. */
  usedAt: number;
}

/** An entry found by {@link Backend.forgetCandidates}. */
export interface ForgetCandidate {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace. */
  ns: string;
  /** The key. */
  key: string;
  /**
   * `"sender"`: written while a plugin handled the sender's message;
   * `"key-segment"`: the key has the sender id as a whole `:`-separated part.
   */
  rule: "sender" | "key-segment";
}

/** Where a {@link Backend.pruneAttributions} pass stopped. */
export interface AttributionCursor {
  /** The sender. */
  sender: string;
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace. */
  ns: string;
  /** The key. */
  key: string;
}

/** What one {@link Backend.evict} call made room for. */
export interface EvictionResult {
  /** Entries deleted (expired ones included). */
  keys: number;
  /** Their bytes. */
  bytes: number;
}

/**
 * What a write may do in the same atomic step, for a backend that says
 * {@link Backend.writeExtras}: record who it was made for (single-key
 * writes), and make room by eviction when the namespace is at its quota
 * (single-key writes and batches: `writeMany`, `commit`). Without
 * `writeExtras` the cache does both with the separate primitives
 * (`attribute`, `evict`).
 *
 * @example
 * ```ts
 * import type { WriteExtras } from "./backend.ts";
 * const extras: WriteExtras = { sender: "ada", evict: { batch: 640, maxRows: 4096 } };
 * console.log(extras.evict?.batch); // 640
 * ```
 */
export interface WriteExtras {
  /** The write is made for this sender (see {@link Backend.attribute}). */
  sender?: string;
  /**
   * At the quota, evict as {@link Backend.evict} would (expired entries
   * first, then the least recently used; never the key being written),
   * freeing what the write needs and at least `min(batch, capacity / 16)`
   * entries, at most `maxRows`; nothing is evicted when the write still
   * would not fit.
   */
  evict?: { batch: number; maxRows: number };
}

/** One write of a {@link Backend.writeMany} batch. */
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

/** Where a sweep stopped: the last row it looked at. */
export interface SweepCursor {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace. */
  ns: string;
  /** The key. */
  key: string;
}

/** One bounded step of an expiry purge. */
export interface PurgeStep<C> {
  /** Expired rows deleted by this step. */
  deleted: number;
  /** Where the next step starts, or `null` when this one reached the end. */
  next: C | null;
}

/**
 * Thrown by {@link Backend.writeMany} (and by a write inside
 * {@link Backend.transaction}) when the namespace quota would be exceeded:
 * the transaction is rolled back, and the cache layer purges expired rows
 * and retries once before reporting a `QuotaExceededError`.
 */
export class QuotaRefusal extends Error {
  /** The namespace that is full. */
  readonly space: Space;
  /** The namespace name. */
  readonly ns: string;
  /** Made by a backend. */
  constructor(space: Space, ns: string) {
    super(`namespace "${ns}" quota reached`);
    this.space = space;
    this.ns = ns;
  }
}

/**
 * The operations the cache layer builds on, synchronous. The ones marked
 * optional are extras: without them the cache still works and says what is
 * missing (see docs/storage.md).
 */
export interface Backend {
  /** Absent or `false`: synchronous. {@link AsyncBackend} says `true`. */
  readonly async?: false;
  /**
   * `true` when `set` and `increment` honour {@link WriteExtras} (record
   * the sender and evict in the same atomic step as the write): a backend
   * without transactions needs it for that. Absent: the cache calls
   * `attribute` and `evict` itself (in one transaction, on SQLite).
   */
  readonly writeExtras?: boolean;
  /** Where the data lives (a file path, or `":memory:"`), without credentials. */
  readonly path: string;
  /** The live entry (expiresAt > now or null), or `undefined`. */
  get(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): StoredEntry | undefined;
  /** The live value only, or `undefined` (the hot read path). */
  getValue(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Uint8Array | undefined;
  /**
   * Insert or replace; `size` is key bytes + value bytes, `now` the write
   * time. Returns `false` (and writes nothing) when `quota` would be exceeded.
   * `extras` only when the backend says {@link Backend.writeExtras}.
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
    extras?: WriteExtras,
  ): boolean;
  /**
   * Apply sets and deletes in order in one transaction (joining an outer
   * one), with usage folded in once at the end. When the result would pass
   * `quota`, nothing is written and the backend either returns `false`
   * (Redis) or throws {@link QuotaRefusal} (SQLite, which rolls back an
   * outer transaction that way). `extras` (only its `evict`) only when
   * the backend says {@link Backend.writeExtras}: room for the batch is
   * then made in the same atomic step, never by evicting one of its keys.
   */
  writeMany(
    space: Space,
    ns: string,
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
    extras?: WriteExtras,
  ): boolean | void;
  /**
   * Like {@link Backend.writeMany} with sets only, but each key is written
   * only if it has no live entry (an expired one is replaced). Returns the
   * indices of `writes` left alone because a live entry had the key, in
   * ascending order. Throws {@link QuotaRefusal} when the written ones
   * would pass `quota`. Optional: without it the cache uses
   * {@link Backend.commit} with "must not exist" checks.
   */
  writeManyIfAbsent?(
    space: Space,
    ns: string,
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
  ): number[];
  /**
   * Add `by` to a live decimal integer value (a missing or expired one
   * counts as 0 and gets `expiresAt`; a live one keeps its expiry),
   * atomically, and return the new value as decimal text, or an
   * {@link IncrementResult} (which says why nothing was written in the
   * same answer). `undefined` means nothing was written for a reason the
   * cache finds out itself, in a {@link Backend.transaction} (SQLite: the
   * value is not a decimal integer, the sum is not a safe integer, or the
   * quota says no).
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
    extras?: WriteExtras,
  ): string | IncrementResult | undefined;
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
  /**
   * Check versions, then apply `writes` like {@link Backend.writeMany}, all
   * in one atomic step. Optional for a backend with
   * {@link Backend.transaction} (the cache then reads the versions and
   * writes inside one); a networked backend, which has no transaction,
   * must have it. `extras` as for {@link Backend.writeMany}; no key the
   * commit names (checked or written) is evicted.
   */
  commit?(
    space: Space,
    ns: string,
    checks: readonly VersionCheck[],
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
    extras?: WriteExtras,
  ): CommitOutcome;
  /**
   * Usage as this process last heard it from a networked backend, plus
   * what its own writes changed since, without a request (`undefined`
   * before the first report), so `stats()` can stay synchronous. A
   * synchronous backend leaves it out: `usage` is already immediate.
   */
  knownUsage?(space: Space, ns: string): KnownUsage | undefined;
  /**
   * Write usage changes this connection has not yet shared (deletes) to
   * the file, where other processes see them, and (unless
   * `returnLeases` is `false`) hand back quota reserved but not used.
   */
  flush(returnLeases?: boolean): void;
  /**
   * One bounded purge step over every namespace: look at a bounded run of
   * rows after `after` and delete up to `limit` expired ones, in one short
   * write transaction.
   */
  purgeExpired(
    now: number,
    limit: number,
    after: SweepCursor | null,
  ): PurgeStep<SweepCursor>;
  /** The same bounded step within one namespace; the cursor is a key. */
  purgeExpiredIn(
    space: Space,
    ns: string,
    now: number,
    limit: number,
    after: string | null,
  ): PurgeStep<string>;
  /**
   * Count the namespace's rows again and, when the stored usage is higher
   * than what is there (after a crash, a process's unshared deletes are
   * otherwise counted forever), store the exact usage; returns whether it
   * changed anything.
   */
  recount(space: Space, ns: string): boolean;
  /**
   * Run `fn` in one write transaction that takes the write lock up front
   * (so concurrent processes queue instead of failing), all or nothing; a
   * nested call joins the outer transaction. Only a synchronous backend can
   * hold a transaction while JavaScript runs, so {@link AsyncBackend} has
   * none: there, each request is atomic on its own.
   */
  transaction<T>(fn: () => T): T;
  /** Close the connection. */
  close(): void;

  // Eviction support. Optional, so a backend without it still works: the
  // cache then refuses writes at the quota (onQuota "reject") everywhere.

  /** Like {@link Backend.getValue}, with when the entry was last used. */
  getValueUsed?(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): UsedValue | undefined;
  /**
   * Record reads: each key of `reads` was read at its value (ms since the
   * epoch); a stamp only ever moves forward. One transaction (joining an
   * outer one).
   */
  touch?(space: Space, ns: string, reads: ReadonlyMap<string, number>): void;
  /**
   * Stored keys and bytes of a namespace, from its counters only (no scan
   * of its rows), as the quota check inside a write sees them.
   */
  counts?(space: Space, ns: string): { keys: number; bytes: number };

  // Who entries were written for (SupCache.forget). Optional: without
  // them forget refuses to run.

  /**
   * Record that the live entry `key` was written on `sender`'s behalf
   * (joining the caller's transaction, so it lands with the write).
   */
  attribute?(space: Space, ns: string, key: string, sender: string): void;
  /**
   * Every stored entry of every namespace written on `sender`'s behalf, or
   * whose key has `sender` as a whole `:`-separated segment (each once;
   * `"sender"` wins when both match).
   */
  forgetCandidates?(sender: string): ForgetCandidate[];
  /** Drop every attribution to `sender` (joining the caller's transaction). */
  dropAttributions?(sender: string): void;
  /**
   * One bounded step over the attributions: look at up to `limit` after
   * `after` and drop those whose entry is gone or was created again since
   * (evicted, expired and swept, deleted). Returns where to go on, or
   * `null` at the end.
   */
  pruneAttributions?(
    after: AttributionCursor | null,
    limit: number,
  ): AttributionCursor | null;

  /**
   * Inside the caller's transaction: delete entries of the namespace until
   * `keys` more entries and `bytes` more bytes fit under `quota` (and at
   * least `atLeast` entries are gone, so later writes find room), expired
   * entries first, then the least recently used, looking at a bounded
   * window of rows; at most `maxRows` are deleted. Counts the evictions.
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
  ): EvictionResult;
}

/**
 * A function type with its result wrapped in a Promise; anything else (and
 * the `undefined` of an optional member) as it is.
 */
export type Promised<F> = F extends (...args: infer A) => infer R
  ? (...args: A) => Promise<R>
  : F;

/**
 * Every member of `B`, with each method's result a Promise (optional
 * members stay optional).
 */
export type Promisified<B> = { [K in keyof B]: Promised<B[K]> };

/**
 * {@link Backend} for a store across a network (Redis, Redis Cluster):
 * the same operations with the same arguments, each resolving once the
 * server has answered. What it cannot mirror is `transaction(fn)`: a
 * network store has no interactive transaction that holds a lock while
 * JavaScript runs, so `commit` (version checks and writes in one atomic
 * request) is required instead, and `knownUsage` keeps `stats()`
 * synchronous. Errors are `StorageError`s (or subclasses naming the failure).
 *
 * @example
 * ```ts
 * import type { AsyncBackend } from "./backend.ts";
 * async function count(b: AsyncBackend, ns: string): Promise<number> {
 *   return (await b.usage(0, ns)).keys;
 * }
 * console.log(typeof count); // "function"
 * ```
 */
export interface AsyncBackend extends
  Promisified<
    Omit<Backend, "async" | "transaction" | "commit" | "knownUsage">
  > {
  /** Marks the asynchronous kind, so the cache drives it with its async runner. */
  readonly async: true;
  /** Required here: without a transaction, checks and writes need one request. */
  commit(
    space: Space,
    ns: string,
    checks: readonly VersionCheck[],
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
    extras?: WriteExtras,
  ): Promise<CommitOutcome>;
  /** See {@link Backend.knownUsage}; synchronous on purpose. */
  knownUsage(space: Space, ns: string): KnownUsage | undefined;
}

/**
 * Whether `b` is an {@link AsyncBackend} (it says so with `async: true`).
 *
 * @example
 * ```ts
 * import { isAsyncBackend } from "./backend.ts";
 * console.log(isAsyncBackend({ async: true } as never)); // true
 * ```
 */
export function isAsyncBackend(b: Backend | AsyncBackend): b is AsyncBackend {
  return b.async === true;
}
