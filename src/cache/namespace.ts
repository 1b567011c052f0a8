/**
 * The one namespace implementation, for every backend: each operation is
 * written once as a generator over backend answers (see run.ts), run
 * without waiting on SQLite (`ns.sync`, the plugin host functions) and
 * with `await` on Redis. `Namespace` (async_namespace.ts) is the public
 * Promise face; {@link SyncFace} is `ns.sync`.
 *
 * @module
 */
import {
  InvalidInputError,
  NotAnIntegerError,
  StorageError,
} from "../errors.ts";
import {
  type AsyncBackend,
  type Backend,
  type BatchWrite,
  type CommitOutcome,
  type IncrementResult,
  isAsyncBackend,
  type KeyRange,
  type PurgeStep,
  type Quota,
  QuotaRefusal,
  type Space,
  type VersionCheck,
  type WriteExtras,
} from "../storage/backend.ts";
import type { Clock } from "./clock.ts";
import { canEvict, EVICT_IN_WRITE, Eviction } from "./eviction.ts";
import type { ResolvedLimits } from "./options.ts";
import { listRange, nextCursor } from "./paging.ts";
import { all, type Op, runAsync, runSync, then, wait } from "./run.ts";
import { settle } from "./settle.ts";
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
import {
  checkBatch,
  checkKey,
  expiryOf,
  quotaError,
  toValueBytes,
} from "./validate.ts";

/** What every namespace of one cache shares. */
export interface CacheContext {
  /** SQLite (synchronous) or Redis (asynchronous); see storage/backend.ts. */
  readonly backend: Backend | AsyncBackend;
  /** The cache's one source of time (see clock.ts). */
  readonly clock: Clock;
  readonly limits: ResolvedLimits;
  readonly quota: Quota | null;
  /** What a cache namespace at its quota does (the store always rejects). */
  readonly onQuota: "reject" | "evict";
  /** The cache's default TTL for space 0. */
  readonly ttl: number | null;
  /** Most expired rows one purge step deletes (the sweep batch). */
  readonly purgeBatch: number;
  /** Throws {@link ClosedError} once the cache is closed. */
  assertOpen(): void;
  /** Share this connection's usage changes (deletes) soon, off the hot path. */
  scheduleFlush(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const MAX_NAME_BYTES = 256;
const RECOUNT_EVERY_MS = 10_000;
const EMPTY_PASS_EVERY_MS = 1_000;

/** Check a namespace name (non-empty, at most 256 UTF-8 bytes). */
export function checkNamespaceName(name: unknown): string {
  checkKey(name, MAX_NAME_BYTES, "namespace name");
  return name as string;
}

/** The error every synchronous call on a Redis-backed namespace throws. */
export function noSyncError(name: string): InvalidInputError {
  return new InvalidInputError(
    `namespace "${name}" is on an asynchronous backend (Redis), which cannot answer without waiting: use the async methods (await ns.get(...), await ns.atomic().commit()) instead of ns.sync / commitSync()`,
  );
}

function notIntegerError(ns: string, key: string, text: string) {
  return new NotAnIntegerError(
    `cannot increment "${key}" in namespace "${ns}": its value ${
      JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text)
    } is not a whole number in decimal; it was left unchanged`,
  );
}

function overflowError(key: string, by: number) {
  return new InvalidInputError(
    `incrementing "${key}" by ${by} goes past the largest exact integer (${Number.MAX_SAFE_INTEGER}); the value was left unchanged`,
  );
}

/** A condition of an atomic commit: the key's current version, or `null` for absent. */
export type AtomicCheck = VersionCheck;

/** A write of an atomic commit. */
export type AtomicMutation =
  | { type: "set"; key: string; value: CacheValue; options?: SetOptions }
  | { type: "delete"; key: string };

/**
 * Check versions and write, all or nothing: the backend's own `commit`
 * when it has one (one request, Redis), else the checks and the writes in
 * one transaction (SQLite).
 */
function checkedCommit(
  backend: Backend | AsyncBackend,
  space: Space,
  ns: string,
  checks: readonly VersionCheck[],
  writes: readonly BatchWrite[],
  now: number,
  quota: Quota | null,
  extras: WriteExtras | undefined,
): CommitOutcome | Promise<CommitOutcome> {
  if (backend.commit !== undefined) {
    return backend.commit(space, ns, checks, writes, now, quota, extras);
  }
  const sync = backend as Backend;
  try {
    return sync.transaction((): CommitOutcome => {
      for (const c of checks) {
        const found = sync.get(space, ns, c.key, now)?.version ?? null;
        if (found !== c.version) return "check";
      }
      if (
        writes.length > 0 &&
        sync.writeMany(space, ns, writes, now, quota) === false
      ) {
        throw new QuotaRefusal(space, ns);
      }
      return "ok";
    });
  } catch (err) {
    if (err instanceof QuotaRefusal) return "quota";
    throw err;
  }
}

/**
 * A one-key write, checked and ready to send: `attempt` is its one backend
 * request (`false` or a {@link QuotaRefusal}: refused at the quota, nothing
 * written), `value` what the write returns once it landed (set by
 * `attempt`).
 */
interface OneWrite<T> {
  /** Sends the request, at `now` (a retry after making room reads the clock again). */
  readonly attempt: (now?: number) => boolean | Promise<boolean>;
  /** When the write was checked: its first request goes at this time (one clock read per write). */
  readonly now: number;
  /** Key and value bytes, for making room. */
  readonly size: number;
  /** The entry's expiry, noted for the purge pass (`null`: nothing to note). */
  readonly expiresAt: number | null;
  value: T;
}

/** A {@link QuotaRefusal} means "refused" (`false`); anything else is thrown on. */
function refused(err: unknown): false {
  if (err instanceof QuotaRefusal) return false;
  throw err;
}

/**
 * One namespace of one cache in this process, on any backend. Every
 * operation is a generator (see run.ts); `run` and `runSync` drive them.
 */
export class NamespaceCore {
  readonly name: string;
  /** The backend answers without waiting (SQLite): `ns.sync` works. */
  readonly sync: boolean;
  readonly #ctx: CacheContext;
  readonly #backend: Backend | AsyncBackend;
  readonly #space: Space;
  readonly #ttl: number | null;
  /** Not yet flushed to the backend; see {@link NamespaceCore.flushCounters}. */
  #hits = 0;
  #misses = 0;
  #recountedAt = -Infinity;
  #nextPass = -Infinity;
  /** `null` unless this namespace evicts at its quota. */
  readonly #eviction: Eviction | null;
  /**
   * Who writes are made for (see {@link actFor}); `null` outside a
   * plugin's handling of a message.
   */
  #sender: string | null = null;
  /**
   * What `set` and `increment` ask of a backend with `writeExtras` (the
   * sender, eviction at the quota, in the write's own atomic step);
   * `undefined` on any other backend.
   */
  #extras: WriteExtras | undefined;
  /**
   * {@link NamespaceCore.#extras} without eviction: what a one-key write
   * sends while the namespace is known to be well under its quota (see
   * {@link NamespaceCore.#writeExtras}); the same object when there is no
   * eviction to leave out.
   */
  #leanExtras: WriteExtras | undefined;
  /**
   * What batch writes (`setMany`, `atomic().commit()`) ask of a backend
   * with `writeExtras`: eviction at the quota in the batch's own atomic
   * step, so another writer cannot take the room between an eviction and
   * the write. Only eviction: a batch's attribution is not carried there.
   */
  readonly #batchExtras: WriteExtras | undefined;

  constructor(ctx: CacheContext, space: Space, name: string) {
    this.#ctx = ctx;
    this.#backend = ctx.backend;
    this.sync = !isAsyncBackend(ctx.backend);
    this.#space = space;
    this.name = name;
    // The store never expires unless a write asks for it.
    this.#ttl = space === 0 ? ctx.ttl : null;
    // The store is data, not cache: it is never evicted.
    this.#eviction = space === 0 && ctx.onQuota === "evict" &&
        ctx.quota !== null && canEvict(ctx.backend)
      ? new Eviction(ctx.backend, space, name, ctx.quota, ctx.clock)
      : null;
    // How full the namespace is: now on SQLite; on Redis at the first
    // write or sweep tick (a constructor cannot wait).
    if (this.#eviction !== null) {
      if (this.sync) runSync(this.#eviction.check());
      else this.#eviction.checkSoon();
    }
    this.#extras = this.#extrasFor(null, true);
    this.#leanExtras = this.#extrasFor(null, false);
    this.#batchExtras = this.#backend.writeExtras === true &&
        this.#eviction !== null
      ? { evict: EVICT_IN_WRITE }
      : undefined;
  }

  #extrasFor(sender: string | null, evict: boolean): WriteExtras | undefined {
    if (this.#backend.writeExtras !== true) return undefined;
    if (sender === null && (!evict || this.#eviction === null)) {
      return undefined;
    }
    const extras: WriteExtras = {};
    if (sender !== null) extras.sender = sender;
    if (evict && this.#eviction !== null) extras.evict = EVICT_IN_WRITE;
    return extras;
  }

  /**
   * What a one-key write sends with `writeExtras`: eviction only while the
   * namespace is near its quota (the fill at which reads are recorded) or
   * its fill is not known yet. Far from it the write cannot need room, and
   * eviction's keys and arguments cost on every request (measured:
   * docs/scale-out.md, "Measured"). A write refused all the same (others
   * filled the namespace since the last look) is sent again with eviction
   * (#afterRefusal), so eviction still happens inside the write's script.
   */
  #writeExtras(): WriteExtras | undefined {
    const extras = this.#extras;
    // Nothing to leave out (SQLite; no eviction): no more to decide.
    const eviction = this.#eviction;
    if (extras === undefined || eviction === null) return extras;
    return eviction.watching || !eviction.seen ? extras : this.#leanExtras;
  }

  /** Throws `ClosedError` once the cache is closed. */
  assertOpen(): void {
    this.#ctx.assertOpen();
  }

  /** Run `op` as a Promise: without waiting on SQLite (no extra tick), awaited on Redis. */
  run<T>(op: Op<T>): Promise<T> {
    return this.sync ? settle(() => runSync(op)) : runAsync(op);
  }

  /** Run `op` now; on Redis, throw {@link noSyncError} (after the closed check). */
  runSync<T>(op: Op<T>): T {
    if (!this.sync) {
      this.#ctx.assertOpen();
      throw noSyncError(this.name);
    }
    return runSync(op);
  }

  /** Attribute later writes to `sender` (the host, around a message). */
  actFor(sender: string | null): void {
    this.#sender = sender;
    this.#extras = this.#extrasFor(sender, true);
    this.#leanExtras = this.#extrasFor(sender, false);
  }

  #checkKey(key: string): number {
    this.#ctx.assertOpen();
    return checkKey(key, this.#ctx.limits.maxKeyBytes);
  }

  #counted(value: Uint8Array | undefined): Uint8Array | null {
    if (value === undefined) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    return value;
  }

  /**
   * `get` run at once, without a generator: the value on SQLite, a Promise
   * on Redis. With {@link NamespaceCore.getSync}, the one implementation of
   * `get` (the generator op waits on it).
   */
  getNow(key: string): Uint8Array | null | Promise<Uint8Array | null> {
    if (this.sync) return this.getSync(key);
    this.#checkKey(key);
    const eviction = this.#eviction;
    return (eviction !== null && eviction.watching
      ? runAsync(eviction.get(key))
      : (this.#backend as AsyncBackend).getValue(
        this.#space,
        this.name,
        key,
        this.#ctx.clock.now(),
      )).then((v) => this.#counted(v));
  }

  /**
   * `get` on a synchronous backend: `ns.sync.get`, the plugin host's read,
   * the hottest path, kept small (the caller checked {@link NamespaceCore.sync}).
   */
  getSync(key: string): Uint8Array | null {
    this.#checkKey(key);
    const eviction = this.#eviction;
    return this.#counted(
      eviction !== null && eviction.watching
        ? eviction.getSync(key)
        : (this.#backend as Backend).getValue(
          this.#space,
          this.name,
          key,
          this.#ctx.clock.now(),
        ),
    );
  }

  *get(key: string): Op<Uint8Array | null> {
    return yield* wait(this.getNow(key));
  }

  *getEntry(key: string): Op<CacheEntry | null> {
    const entry = yield* this.peek(key);
    if (entry) this.#hits++;
    else this.#misses++;
    return entry;
  }

  *peek(key: string): Op<CacheEntry | null> {
    this.#checkKey(key);
    const now = this.#ctx.clock.now();
    return (yield* wait(this.#backend.get(this.#space, this.name, key, now))) ??
      null;
  }

  *has(key: string): Op<boolean> {
    return (yield* this.peek(key)) !== null;
  }

  /**
   * Run `write` and, when a sender is being acted for, record the
   * attribution with it: in one transaction on SQLite; on a backend with
   * `writeExtras` (Redis) the write itself carries the sender (#extras),
   * so this adds nothing; on any other, right after the write.
   */
  #attributed<T>(key: string, write: () => Op<T>): Op<T> {
    // Not a generator itself: outside a message (every write but a
    // plugin's) the write runs with no extra generator around it.
    if (!this.#attributing()) return write();
    return this.#attributedTo(this.#sender!, key, write);
  }

  *#attributedTo<T>(
    sender: string,
    key: string,
    write: () => Op<T>,
  ): Op<T> {
    const backend = this.#backend;
    if (isAsyncBackend(backend)) {
      const result = yield* write();
      yield* wait(backend.attribute!(this.#space, this.name, key, sender));
      return result;
    }
    return backend.transaction(() => {
      const result = runSync(write());
      backend.attribute!(this.#space, this.name, key, sender);
      return result;
    });
  }

  set(key: string, value: CacheValue, options?: SetOptions): Op<void> {
    return this.#attributed(key, () => this.#set(key, value, options));
  }

  *#set(key: string, value: CacheValue, options?: SetOptions): Op<void> {
    return yield* wait(this.#write(this.#setRequest(key, value, options)));
  }

  /**
   * `set` run at once, for the faces: `ns.sync.set` and, on SQLite, the
   * Promise API get the result (or the error thrown); on Redis a Promise.
   * No generator unless the write needs more than its one request.
   */
  setNow(
    key: string,
    value: CacheValue,
    options?: SetOptions,
  ): void | Promise<void> {
    if (this.#attributing()) return this.#runNow(this.set(key, value, options));
    return this.#write(this.#setRequest(key, value, options));
  }

  #setRequest(
    key: string,
    value: CacheValue,
    options: SetOptions | undefined,
  ): OneWrite<void> {
    const keySize = this.#checkKey(key);
    const bytes = toValueBytes(value, this.#ctx.limits.maxValueBytes);
    const now = this.#ctx.clock.now();
    const expiresAt = expiryOf(options, this.#ttl, now);
    const backend = this.#backend;
    const size = keySize + bytes.length;
    return {
      attempt: (at = this.#ctx.clock.now()) =>
        backend.set(
          this.#space,
          this.name,
          key,
          bytes,
          expiresAt,
          size,
          at,
          this.#ctx.quota,
          this.#writeExtras(),
        ),
      now,
      size,
      expiresAt,
      value: undefined,
    };
  }

  /**
   * Run a one-key write: its one request, and only when that was refused
   * (or the namespace is due a look at how full it is) the generators of
   * the slow path, through the runner of this backend. Every one-key write
   * (`set`, `increment`) goes through here, from the faces directly and
   * from the generator ops (attribution, `atomic`) through `wait`, so the
   * common path allocates no generator and no async function: measured
   * in docs/storage.md, "Measured". The request is issued before anything
   * else, so on a networked backend requests keep the order they were
   * made in (an un-awaited set, then a get, reads the new value); how full
   * the namespace is gets looked at after.
   */
  #write<T>(w: OneWrite<T>): T | Promise<T> {
    let answer: boolean | Promise<boolean>;
    try {
      answer = w.attempt(w.now);
    } catch (err) {
      answer = refused(err);
    }
    if (answer instanceof Promise) {
      return answer.then(
        (ok) => this.#wrote(w, ok, true),
        (err) => this.#wrote(w, refused(err), true),
      );
    }
    return this.#wrote(w, answer, false) as T;
  }

  #wrote<T>(w: OneWrite<T>, ok: boolean, async: boolean): T | Promise<T> {
    // A look at how full the namespace is needs no request when the write
    // just reported it (a networked backend's knownUsage).
    const rest = ok
      ? (this.#checkDue() && !this.#eviction!.checkKnown()
        ? this.#eviction!.check()
        : null)
      : this.#afterRefusal(w);
    if (rest === null) {
      this.#noteExpiry(w.expiresAt);
      return w.value;
    }
    if (!async) {
      runSync(rest);
      this.#noteExpiry(w.expiresAt);
      return w.value;
    }
    return runAsync(rest).then(() => {
      this.#noteExpiry(w.expiresAt);
      return w.value;
    });
  }

  /** A one-key write was refused once: make room and write, or refuse. */
  *#afterRefusal(w: OneWrite<unknown>): Op<void> {
    // Full after all: from here on (this write's retries included) writes
    // carry eviction, as near the quota (see #writeExtras).
    if (this.#extras !== undefined && this.#eviction !== null) {
      this.#eviction.watching = true;
    }
    yield* this.#makeRoom(w.attempt, w.size, 1);
    if (this.#checkDue()) yield* this.#eviction!.check();
  }

  /**
   * Writes are attributed to a sender now (see {@link actFor}) by a step
   * of their own: not when the backend's write carries the sender itself
   * (`writeExtras`, see #extras).
   */
  #attributing(): boolean {
    return this.#sender !== null && this.#backend.attribute !== undefined &&
      this.#backend.writeExtras !== true;
  }

  /** Run `op` by this backend's runner: the result on SQLite, a Promise on Redis. */
  #runNow<T>(op: Op<T>): T | Promise<T> {
    return this.sync ? runSync(op) : runAsync(op);
  }

  #noteExpiry(expiresAt: number | null): void {
    if (expiresAt !== null && expiresAt < this.#nextPass) {
      this.#nextPass = expiresAt;
    }
  }

  /** Whether this write should look again at how full the namespace is. */
  #checkDue(): boolean {
    return this.#eviction !== null && this.#eviction.wrote();
  }

  /**
   * A write's `attempt` (`false` or a {@link QuotaRefusal} = over quota,
   * nothing written) was refused once. Share pending deletes, purge expired
   * rows of this namespace in bounded steps (each its own short
   * transaction, so no write holds the lock for long) retrying after each
   * step that freed something, evict (a cache namespace with
   * `onQuota: "evict"`), recount; only then refuse.
   */
  *#makeRoom(
    attempt: () => boolean | void | Promise<boolean | void>,
    size: number,
    keys: number,
  ): Op<void> {
    const tryOnce = function* (): Op<boolean> {
      try {
        return (yield* wait(attempt())) !== false;
      } catch (err) {
        return refused(err);
      }
    };
    const backend = this.#backend;
    yield* wait(backend.flush());
    if (yield* tryOnce()) return;
    // A pass that found nothing to free read the whole namespace (in
    // steps, without the lock); repeating it for every refused write in the
    // next second would only repeat that reading, unless this process wrote
    // something that expires sooner (see #noteExpiry).
    if (this.#ctx.clock.now() >= this.#nextPass) {
      let after: string | null = null;
      let freed = 0;
      do {
        const step: PurgeStep<string> = yield* wait(
          backend.purgeExpiredIn(
            this.#space,
            this.name,
            this.#ctx.clock.now(),
            this.#ctx.purgeBatch,
            after,
          ),
        );
        freed += step.deleted;
        if (step.deleted > 0 && (yield* tryOnce())) return;
        after = step.next;
      } while (after !== null);
      if (freed === 0) {
        this.#nextPass = this.#ctx.clock.now() + EMPTY_PASS_EVERY_MS;
      }
    }
    // Expired entries are gone (or were looked for a moment ago): make room
    // by evicting the least recently used, with the write.
    if (
      this.#eviction !== null &&
      (yield* this.#eviction.makeRoom(keys, size, tryOnce))
    ) {
      return;
    }
    // A recount reads the whole namespace: at most one per namespace per
    // RECOUNT_EVERY_MS, so writes hammering a full namespace stay cheap.
    const now = this.#ctx.clock.now();
    if (now - this.#recountedAt >= RECOUNT_EVERY_MS) {
      this.#recountedAt = now;
      if (
        (yield* wait(backend.recount(this.#space, this.name))) &&
        (yield* tryOnce())
      ) {
        return;
      }
    }
    const used = yield* wait(backend.usage(this.#space, this.name));
    throw quotaError(this.name, used, size, this.#ctx.quota);
  }

  #expiry(options: SetOptions | undefined): number | null {
    return expiryOf(options, this.#ttl, this.#ctx.clock.now());
  }

  *delete(key: string): Op<boolean> {
    return yield* wait(this.deleteNow(key));
  }

  /** `delete` run at once, without a generator (see {@link NamespaceCore.getNow}). */
  deleteNow(key: string): boolean | Promise<boolean> {
    this.#checkKey(key);
    const deleted = this.#backend.delete(
      this.#space,
      this.name,
      key,
      this.#ctx.clock.now(),
    );
    if (deleted instanceof Promise) {
      return deleted.then((d) => {
        this.#ctx.scheduleFlush();
        return d;
      });
    }
    this.#ctx.scheduleFlush();
    return deleted;
  }

  #range(options: ListOptions): KeyRange {
    this.#ctx.assertOpen();
    return listRange(
      options,
      this.#space,
      this.name,
      this.#ctx.limits.maxKeyBytes,
      this.#ctx.clock.now(),
    );
  }

  *list(options: ListOptions = {}): Op<ListPage> {
    const range = this.#range(options);
    const keys = yield* wait(this.#backend.list(range));
    return { keys, cursor: nextCursor(keys, range.limit, (k) => k) };
  }

  *scan(options: ListOptions = {}): Op<ScanPage> {
    const range = this.#range(options);
    const entries = yield* wait(this.#backend.scan(range));
    return { entries, cursor: nextCursor(entries, range.limit, (e) => e.key) };
  }

  increment(key: string, by = 1): Op<number> {
    return this.#attributed(key, () => this.#increment(key, by));
  }

  *#increment(key: string, by: number): Op<number> {
    return yield* wait(this.#write(this.#incrementRequest(key, by)));
  }

  /** `increment` run at once, for the faces (see {@link NamespaceCore.setNow}). */
  incrementNow(key: string, by = 1): number | Promise<number> {
    if (this.#attributing()) return this.#runNow(this.increment(key, by));
    return this.#write(this.#incrementRequest(key, by));
  }

  #incrementRequest(key: string, by: number): OneWrite<number> {
    const keySize = this.#checkKey(key);
    if (!Number.isSafeInteger(by)) {
      throw new InvalidInputError(
        `by must be a whole number, got ${String(by)}`,
      );
    }
    const backend = this.#backend;
    // A new counter gets the default expiry; an existing live one keeps its
    // own (a counter with a TTL counts within its window, as a rate limiter).
    const now = this.#ctx.clock.now();
    const fresh = expiryOf(undefined, this.#ttl, now);
    const w: OneWrite<number> = {
      attempt: (at = this.#ctx.clock.now()) =>
        then(
          backend.increment(
            this.#space,
            this.name,
            key,
            by,
            fresh,
            keySize,
            at,
            this.#ctx.quota,
            this.#writeExtras(),
          ),
          answered,
        ),
      now,
      size: keySize + 20,
      // Not noted for the purge pass (see #noteExpiry): a live counter
      // keeps its own expiry.
      expiresAt: null,
      value: 0,
    };
    const answered = (res: string | IncrementResult | undefined): boolean => {
      if (typeof res === "string") {
        w.value = Number(res);
        return true;
      }
      if (res === undefined) {
        // The one statement said no: find out why, under the write lock.
        w.value = this.#incrementSlowly(key, keySize, by, fresh);
        return true;
      }
      switch (res.kind) {
        case "ok":
          w.value = res.value;
          return true;
        case "quota":
          return false;
        case "not-integer":
          throw notIntegerError(this.name, key, res.text);
        case "overflow":
          throw overflowError(key, by);
      }
    };
    return w;
  }

  /** Why an increment wrote nothing, found in one transaction (SQLite only). */
  #incrementSlowly(
    key: string,
    keySize: number,
    by: number,
    fresh: number | null,
  ): number {
    const backend = this.#backend;
    if (isAsyncBackend(backend)) {
      throw new StorageError(
        backend.path,
        "the backend's increment answered nothing and it has no transaction to find out why; an asynchronous backend must answer an IncrementResult",
      );
    }
    const quota = this.#ctx.quota;
    return backend.transaction(() => {
      const now = this.#ctx.clock.now();
      const entry = backend.get(this.#space, this.name, key, now);
      let current = 0;
      if (entry) {
        const text = decoder.decode(entry.value);
        if (!INTEGER.test(text) || !Number.isSafeInteger(Number(text))) {
          throw notIntegerError(this.name, key, text);
        }
        current = Number(text);
      }
      const next = current + by;
      if (!Number.isSafeInteger(next)) throw overflowError(key, by);
      const bytes = encoder.encode(String(next));
      const expiresAt = entry ? entry.expiresAt : fresh;
      const ok = backend.set(
        this.#space,
        this.name,
        key,
        bytes,
        expiresAt,
        keySize + bytes.length,
        now,
        quota,
      );
      if (!ok) throw new QuotaRefusal(this.#space, this.name);
      return next;
    });
  }

  *clear(): Op<number> {
    this.#ctx.assertOpen();
    return yield* wait(this.#backend.clear(this.#space, this.name));
  }

  /**
   * Write many entries in one transaction: all land or none do. Every item
   * is validated before anything is written. Returns how many were written.
   */
  *setMany(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): Op<number> {
    this.#ctx.assertOpen();
    const { writes, size } = this.#validBatch(entries, "setMany");
    if (writes.length === 0) return 0;
    const backend = this.#backend;
    const attempt = () =>
      backend.writeMany(
        this.#space,
        this.name,
        writes,
        this.#ctx.clock.now(),
        this.#ctx.quota,
        this.#batchExtras,
      );
    let ok: boolean;
    try {
      ok = (yield attempt()) !== false;
    } catch (err) {
      ok = refused(err);
    }
    if (!ok) yield* this.#makeRoom(attempt, size, writes.length);
    if (this.#checkDue()) yield* this.#eviction!.check();
    for (const w of writes) this.#noteExpiry(w.expiresAt);
    return writes.length;
  }

  /**
   * Like `setMany`, but an entry is written only where its key has no live
   * entry; keys that have one are left alone, and a concurrent writer is
   * never overwritten. Returns the keys left alone.
   */
  *setManyIfAbsent(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): Op<string[]> {
    this.#ctx.assertOpen();
    const { writes, size } = this.#validBatch(entries, "setManyIfAbsent");
    if (writes.length === 0) return [];
    const backend = this.#backend;
    if (backend.writeManyIfAbsent === undefined) {
      return yield* this.#setManyIfAbsentChecked(writes);
    }
    const ifAbsent = backend.writeManyIfAbsent.bind(backend);
    let skipped: number[] = [];
    const attempt = () =>
      then(
        ifAbsent(
          this.#space,
          this.name,
          writes,
          this.#ctx.clock.now(),
          this.#ctx.quota,
        ),
        (left) => {
          skipped = left;
          return true;
        },
      );
    let ok: boolean;
    try {
      ok = (yield attempt()) as boolean;
    } catch (err) {
      ok = refused(err);
    }
    if (!ok) yield* this.#makeRoom(attempt, size, writes.length);
    if (this.#checkDue()) yield* this.#eviction!.check();
    let next = 0;
    for (let i = 0; i < writes.length; i++) {
      if (skipped[next] === i) next++;
      else this.#noteExpiry(writes[i].expiresAt);
    }
    return skipped.map((i) => writes[i].key);
  }

  /**
   * `setManyIfAbsent` on a backend without `writeManyIfAbsent`: one atomic
   * commit whose checks say "must not exist"; when a concurrent writer
   * takes one of the keys first, the commit writes nothing and the batch is
   * looked at again.
   */
  *#setManyIfAbsentChecked(writes: BatchWrite[]): Op<string[]> {
    // A key given twice: the first is written if absent, the later ones
    // are left alone, as one by one (and as SQLite's INSERT OR IGNORE).
    const kept: string[] = [];
    const seen = new Set<string>();
    let pending: BatchWrite[] = [];
    for (const w of writes) {
      if (seen.has(w.key)) kept.push(w.key);
      else {
        seen.add(w.key);
        pending.push(w);
      }
    }
    while (pending.length > 0) {
      // Every key looked up at once (one round trip's wait on Redis).
      const live = yield* all(pending.map((w) => this.peek(w.key)), !this.sync);
      const absent: BatchWrite[] = [];
      for (const [i, w] of pending.entries()) {
        if (live[i] === null) absent.push(w);
        else kept.push(w.key);
      }
      if (absent.length === 0) break;
      const checks = absent.map((w) => ({ key: w.key, version: null }));
      if (yield* this.#commitChecked(checks, absent)) break;
      pending = absent;
    }
    return kept;
  }

  #validBatch(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
    method: string,
  ): { writes: BatchWrite[]; size: number } {
    return checkBatch(
      entries,
      method,
      this.#ctx.limits,
      this.#ttl,
      this.#ctx.clock.now(),
    );
  }

  /**
   * Keys, bytes, hits, misses and evictions. Immediate on SQLite; on Redis,
   * keys and bytes as the server last reported them to this process, plus
   * the changes its own writes made since (a write answers with its change,
   * every 64th with the totals; a sweep tick and `cache.namespaces()`
   * refresh them), since `stats()` is synchronous in the public API.
   */
  stats(): NamespaceStats {
    this.#ctx.assertOpen();
    const backend = this.#backend;
    const used = backend.knownUsage !== undefined
      ? backend.knownUsage(this.#space, this.name)
      : (backend as Backend).usage(this.#space, this.name);
    return {
      keys: used?.keys ?? 0,
      bytes: used?.bytes ?? 0,
      hits: (used?.hits ?? 0) + this.#hits,
      misses: (used?.misses ?? 0) + this.#misses,
      evictions: used?.evictions ?? 0,
    };
  }

  /** Ask the backend for the namespace's usage; later `stats()` calls see it. */
  *refreshStats(): Op<void> {
    this.#ctx.assertOpen();
    yield* wait(this.#backend.usage(this.#space, this.name));
    if (this.#eviction !== null) yield* this.#eviction.check();
  }

  /**
   * Move the in-memory hit and miss counts (and recorded reads) to the
   * backend, where other processes (the CLI) can see them. Counting in
   * memory keeps reads free of writes; the cache flushes on each sweep tick
   * and on close.
   */
  *flushCounters(): Op<void> {
    if (this.#eviction !== null) {
      yield* this.#eviction.flush();
      yield* this.#eviction.check();
    }
    if (this.#hits === 0 && this.#misses === 0) return;
    const hits = this.#hits;
    const misses = this.#misses;
    this.#hits = 0;
    this.#misses = 0;
    try {
      yield* wait(
        this.#backend.addCounters(this.#space, this.name, hits, misses),
      );
    } catch (err) {
      this.#hits += hits;
      this.#misses += misses;
      throw err;
    }
  }

  /**
   * Check then write, all or nothing. Every input is validated before
   * anything is written, so bad input writes nothing.
   */
  *commit(checks: AtomicCheck[], mutations: AtomicMutation[]): Op<boolean> {
    this.#ctx.assertOpen();
    const { limits } = this.#ctx;
    const writes: BatchWrite[] = mutations.map((m) => {
      const keySize = checkKey(m.key, limits.maxKeyBytes);
      if (m.type === "delete") {
        return { key: m.key, value: null, expiresAt: null, size: 0 };
      }
      const bytes = toValueBytes(m.value, limits.maxValueBytes);
      return {
        key: m.key,
        value: bytes,
        expiresAt: this.#expiry(m.options),
        size: keySize + bytes.length,
      };
    });
    for (const c of checks) {
      checkKey(c.key, limits.maxKeyBytes);
      if (c.version !== null && !Number.isSafeInteger(c.version)) {
        throw new InvalidInputError(
          `check(${
            JSON.stringify(c.key)
          }) needs a version from getEntry() or null (must not exist), got ${
            String(c.version)
          }`,
        );
      }
    }
    const ok = yield* this.#commitChecked(checks, writes);
    if (writes.some((w) => w.value === null)) this.#ctx.scheduleFlush();
    if (ok) { for (const w of writes) this.#noteExpiry(w.expiresAt); }
    return ok;
  }

  /**
   * One commit of `writes` behind `checks`, under the quota: `false` when
   * a check failed (nothing written).
   */
  *#commitChecked(
    checks: readonly VersionCheck[],
    writes: readonly BatchWrite[],
  ): Op<boolean> {
    const size = writes.reduce((n, w) => n + w.size, 0);
    let ok = true;
    const attempt = () =>
      then(
        checkedCommit(
          this.#backend,
          this.#space,
          this.name,
          checks,
          writes,
          this.#ctx.clock.now(),
          this.#ctx.quota,
          this.#batchExtras,
        ),
        (outcome) => {
          ok = outcome === "ok";
          return outcome !== "quota";
        },
      );
    if (!(yield attempt())) yield* this.#makeRoom(attempt, size, writes.length);
    if (this.#checkDue()) yield* this.#eviction!.check();
    return ok;
  }
}

const cores = new WeakMap<SyncNamespace, NamespaceCore>();

/**
 * `ns.sync`: every operation of a {@link NamespaceCore} without Promises.
 * On Redis each call throws {@link noSyncError} (or `ClosedError` once the
 * cache is closed, as every other call does).
 */
export class SyncFace implements SyncNamespace {
  readonly #core: NamespaceCore;
  constructor(core: NamespaceCore) {
    this.#core = core;
    cores.set(this, core);
  }
  get name(): string {
    return this.#core.name;
  }
  get(key: string): Uint8Array | null {
    const core = this.#core;
    if (!core.sync) return core.runSync(core.get(key));
    return core.getSync(key);
  }
  getEntry(key: string): CacheEntry | null {
    return this.#core.runSync(this.#core.getEntry(key));
  }
  peek(key: string): CacheEntry | null {
    return this.#core.runSync(this.#core.peek(key));
  }
  set(key: string, value: CacheValue, options?: SetOptions): void {
    const core = this.#core;
    if (!core.sync) return core.runSync(core.set(key, value, options));
    core.setNow(key, value, options);
  }
  setMany(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): number {
    return this.#core.runSync(this.#core.setMany(entries));
  }
  setManyIfAbsent(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): string[] {
    return this.#core.runSync(this.#core.setManyIfAbsent(entries));
  }
  delete(key: string): boolean {
    const core = this.#core;
    if (!core.sync) return core.runSync(core.delete(key));
    return core.deleteNow(key) as boolean;
  }
  has(key: string): boolean {
    return this.#core.runSync(this.#core.has(key));
  }
  list(options: ListOptions = {}): ListPage & Iterable<string> {
    const core = this.#core;
    return iterablePage(
      core.runSync(core.list(options)),
      (cursor) => core.runSync(core.list({ ...options, cursor })),
      (page) => page.keys,
    );
  }
  scan(options: ListOptions = {}): ScanPage & Iterable<KeyedCacheEntry> {
    const core = this.#core;
    return iterablePage(
      core.runSync(core.scan(options)),
      (cursor) => core.runSync(core.scan({ ...options, cursor })),
      (page) => page.entries,
    );
  }
  increment(key: string, by?: number): number {
    const core = this.#core;
    if (!core.sync) return core.runSync(core.increment(key, by));
    return core.incrementNow(key, by) as number;
  }
  clear(): number {
    return this.#core.runSync(this.#core.clear());
  }
  stats(): NamespaceStats {
    if (!this.#core.sync) return this.#core.runSync(statsOp(this.#core));
    return this.#core.stats();
  }
}

/**
 * `page`, also iterable over every item from it to the last page (the sync
 * twin of `PagedList`). The iterator is a non-enumerable property, so the
 * page still compares, spreads and prints as `{ keys, cursor }`.
 */
function iterablePage<T, P extends { cursor: string | null }>(
  page: P,
  next: (cursor: string) => P,
  items: (page: P) => readonly T[],
): P & Iterable<T> {
  Object.defineProperty(page, Symbol.iterator, {
    enumerable: false,
    value: function* (): Generator<T, void, undefined> {
      let at: P = page;
      for (;;) {
        yield* items(at);
        if (at.cursor === null) return;
        at = next(at.cursor);
      }
    },
  });
  return page as P & Iterable<T>;
}

// deno-lint-ignore require-yield
function* statsOp(core: NamespaceCore): Op<NamespaceStats> {
  return core.stats();
}

/**
 * Attribute the writes of `namespaces` (the `ns.sync` faces the host
 * holds) to `sender` until the returned function is called: the plugin
 * host wraps a `handleMessage` call in it, so `SupCache.forget(sender)`
 * can find what a plugin stored for whom. Works on every backend.
 */
export function actFor(
  namespaces: readonly SyncNamespace[],
  sender: string,
): () => void {
  const found: NamespaceCore[] = [];
  for (const ns of namespaces) {
    const core = cores.get(ns);
    if (core !== undefined) found.push(core);
  }
  for (const core of found) core.actFor(sender);
  return () => {
    for (const core of found) core.actFor(null);
  };
}
