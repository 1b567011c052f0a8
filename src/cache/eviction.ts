/**
 * Eviction instead of failure (`limits.onQuota: "evict"`, the default for
 * the cache keyspace): when a write would pass the namespace quota, delete
 * expired entries, then the least recently used ones, in the same
 * transaction as the write, so the room made is the writer's and nothing
 * is deleted when the write still cannot land.
 *
 * "Recently used" is approximate, and costs nothing on a read until a
 * namespace is near its quota:
 * - A write stamps its entry (written_at, which every row has).
 * - A read is recorded only while the namespace is at 3/4 of a quota or
 *   more (checked when the namespace is opened, every few writes, on each
 *   sweep tick and whenever a write needs room), and only when the entry's
 *   last use is {@link TOUCH_EVERY_MS} or more ago: a coarse stamp, so a
 *   key read in a loop costs one write per 10 s, not one per read. Recorded
 *   reads wait in memory and are written in one transaction per
 *   {@link TOUCH_BATCH} keys, before any eviction, on each sweep tick and at
 *   close.
 * - Which entries go is decided from a window of rows (see SqliteBackend):
 *   the oldest quarter of a window at most, as Redis samples keys.
 *
 * Written once for every backend that has the optional primitives
 * (`getValueUsed`, `touch`, `counts`, `evict`): on a backend with
 * transactions (SQLite) the eviction and the write that needed it are one
 * transaction; a backend without transactions (Redis) says `writeExtras`
 * and evicts inside the write's own script (`EVICT_IN_WRITE`), so another
 * writer cannot take the room in between; this two-step path is then only
 * the fallback of a write that still found no room.
 *
 * @module
 */
import {
  type AsyncBackend,
  type Backend,
  isAsyncBackend,
  type Quota,
  QuotaRefusal,
  type Space,
  type UsedValue,
} from "../storage/backend.ts";
import type { Clock } from "./clock.ts";
import { type Op, runSync, wait } from "./run.ts";

/** A read is recorded at most once per key per this many ms. */
export const TOUCH_EVERY_MS = 10_000;
/** Recorded reads written in one transaction. */
export const TOUCH_BATCH = 256;
/** Reads are recorded from this fill of a quota (keys or bytes) on. */
const WATCH_FILL = 0.75;
/** Most entries one eviction frees, so the next writes find room. */
const BATCH_MAX = 640;
/** Most entries one write may evict; past that the write is refused. */
const MAX_ROWS = 4_096;

/**
 * What a write asks a backend with `writeExtras` to evict in its own
 * atomic step (see `WriteExtras.evict`): the same bounds as
 * {@link Eviction.makeRoom}.
 *
 * @example
 * ```ts
 * import { EVICT_IN_WRITE } from "./eviction.ts";
 * console.log(EVICT_IN_WRITE.maxRows); // 4096
 * ```
 */
export const EVICT_IN_WRITE: {
  readonly batch: number;
  readonly maxRows: number;
} = Object.freeze({ batch: BATCH_MAX, maxRows: MAX_ROWS });

const PRIMITIVES = ["getValueUsed", "touch", "counts", "evict"] as const;

/** A backend with the eviction primitives (either kind). */
type EvictingBackend =
  | (Backend & Required<Pick<Backend, typeof PRIMITIVES[number]>>)
  | (AsyncBackend & Required<Pick<AsyncBackend, typeof PRIMITIVES[number]>>);

/** Whether `backend` can evict (the optional methods are all there). */
export function canEvict(
  backend: Backend | AsyncBackend,
): backend is EvictingBackend {
  return PRIMITIVES.every((m) => typeof backend[m] === "function");
}

/** The eviction state of one cache namespace in one process. */
export class Eviction {
  /** Reads are being recorded (the namespace is near its quota). A field, read on every `get`. */
  watching = false;
  /**
   * How full the namespace is has been looked at once: until then a
   * networked backend's writes carry eviction (see `NamespaceCore`).
   */
  seen = false;
  readonly #backend: EvictingBackend;
  readonly #space: Space;
  readonly #ns: string;
  readonly #quota: Quota;
  readonly #clock: Clock;
  readonly #reads = new Map<string, number>();
  readonly #checkEvery: number;
  /** Recorded reads held before they are written. */
  readonly #touchBatch: number;
  #writes = 0;

  constructor(
    backend: EvictingBackend,
    space: Space,
    ns: string,
    quota: Quota,
    clock: Clock,
  ) {
    this.#backend = backend;
    this.#space = space;
    this.#ns = ns;
    this.#quota = quota;
    this.#clock = clock;
    // A backend that evicts inside its writes (writeExtras) gets no flush
    // before an eviction, so each recorded read (one per key per
    // TOUCH_EVERY_MS) is written at once.
    this.#touchBatch = backend.writeExtras === true ? 1 : TOUCH_BATCH;
    // Often enough that a namespace filling up is seen well before it is
    // full: a sixteenth of the quota, and at least every 64 writes.
    this.#checkEvery = Math.max(
      1,
      Math.min(64, Math.floor(quota.maxKeys / 16)),
    );
  }

  /** Look again at how full the namespace is (asking the backend). */
  *check(): Op<void> {
    const { keys, bytes } = yield* wait(
      this.#backend.counts(this.#space, this.#ns),
    );
    this.#saw(keys, bytes);
  }

  /**
   * {@link Eviction.check} without a request, from the usage a networked
   * backend's last write reported (`knownUsage`: every write script answers
   * with it); `false` when there is none yet, and the caller asks with
   * {@link Eviction.check}. For right after a write, when that usage is
   * fresh (a sweep tick asks: others may have written since). Not a
   * generator: it is on the write path.
   */
  checkKnown(): boolean {
    const known = this.#backend.knownUsage?.(this.#space, this.#ns);
    if (known === undefined) return false;
    this.#saw(known.keys, known.bytes);
    return true;
  }

  #saw(keys: number, bytes: number): void {
    this.seen = true;
    this.watching = keys >= this.#quota.maxKeys * WATCH_FILL ||
      bytes >= this.#quota.maxBytes * WATCH_FILL;
  }

  /** Make the next write look at how full the namespace is. */
  checkSoon(): void {
    this.#writes = this.#checkEvery - 1;
  }

  /**
   * Count a write; `true` every few, when the caller should run
   * {@link Eviction.check} (not a generator: most writes need nothing).
   */
  wrote(): boolean {
    if (++this.#writes < this.#checkEvery) return false;
    this.#writes = 0;
    return true;
  }

  /** `get` while watching: the value, recording the read when due. */
  *get(key: string): Op<Uint8Array | undefined> {
    const now = this.#clock.now();
    const found = yield* wait(
      this.#backend.getValueUsed(this.#space, this.#ns, key, now),
    );
    if (this.#noteRead(key, found, now)) yield* this.flush();
    return found?.value;
  }

  /**
   * {@link Eviction.get} without a generator, for `ns.sync.get` near the
   * quota (a read there must cost what it did); same steps.
   */
  getSync(key: string): Uint8Array | undefined {
    const now = this.#clock.now();
    const found = (this.#backend as Backend & EvictingBackend).getValueUsed(
      this.#space,
      this.#ns,
      key,
      now,
    );
    if (this.#noteRead(key, found, now)) runSync(this.flush());
    return found?.value;
  }

  /** Record a read when its stamp is due; `true` when a batch is full. */
  #noteRead(key: string, found: UsedValue | undefined, now: number): boolean {
    if (found === undefined) return false;
    if (now - found.usedAt < TOUCH_EVERY_MS || this.#reads.has(key)) {
      return false;
    }
    this.#reads.set(key, now);
    return this.#reads.size >= this.#touchBatch;
  }

  /** Write recorded reads (joining a transaction the caller holds). */
  *flush(): Op<void> {
    if (this.#reads.size === 0) return;
    const reads = new Map(this.#reads);
    this.#reads.clear();
    yield* wait(this.#backend.touch(this.#space, this.#ns, reads));
  }

  /**
   * Make room for `keys` entries of `bytes` and run `attempt`; `false`
   * when there is still no room or the write can never fit. With a
   * transaction, all of it is one, and nothing is deleted unless the
   * write lands.
   */
  *makeRoom(
    keys: number,
    bytes: number,
    attempt: () => Op<boolean>,
  ): Op<boolean> {
    const quota = this.#quota;
    if (keys > quota.maxKeys || bytes > quota.maxBytes) return false;
    this.watching = true;
    const backend = this.#backend;
    if (isAsyncBackend(backend)) {
      // No transaction: the room made may be taken by another writer before
      // the write arrives; one more round, then the write is refused.
      return (yield* this.#evictThenWrite(keys, bytes, attempt)) ||
        (yield* this.#evictThenWrite(keys, bytes, attempt));
    }
    try {
      return backend.transaction(() => {
        if (!runSync(this.#evictThenWrite(keys, bytes, attempt))) {
          // Roll back: an eviction that did not let the write in is undone.
          throw new QuotaRefusal(this.#space, this.#ns);
        }
        return true;
      });
    } catch (err) {
      if (err instanceof QuotaRefusal) return false;
      throw err;
    }
  }

  *#evictThenWrite(
    keys: number,
    bytes: number,
    attempt: () => Op<boolean>,
  ): Op<boolean> {
    const quota = this.#quota;
    yield* this.flush();
    const { keys: n, bytes: b } = yield* wait(
      this.#backend.counts(this.#space, this.#ns),
    );
    // Room for many more writes, so the next ones neither pay for an
    // eviction nor take the slower exact-count insert of a namespace at
    // its quota: 1/16 of what the namespace can hold, at most BATCH_MAX
    // entries (measured: tests/cache_bench_rounds.ts).
    const capacity = n > 0
      ? Math.min(quota.maxKeys, quota.maxBytes / (b / n))
      : quota.maxKeys;
    const atLeast = Math.max(1, Math.min(BATCH_MAX, Math.floor(capacity / 16)));
    const freed = yield* wait(
      this.#backend.evict(
        this.#space,
        this.#ns,
        keys,
        bytes,
        quota,
        atLeast,
        MAX_ROWS,
        this.#clock.now(),
      ),
    );
    return freed.keys > 0 && (yield* attempt());
  }
}
