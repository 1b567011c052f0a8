/**
 * A namespace on an {@link AsyncBackend} (Redis): the same operations,
 * checks and errors as the SQLite namespace, one awaited request per
 * operation. Kept apart from the synchronous implementation so the SQLite
 * path gains no `await`: the cache picks one of the two when it opens.
 *
 * @module
 */
import { InvalidInputError, NotAnIntegerError } from "../errors.ts";
import type {
  AsyncBackend,
  BatchWrite,
  KeyRange,
  Quota,
  Space,
  VersionCheck,
} from "../storage/async_backend.ts";
import type { Clock } from "./clock.ts";
import type { ResolvedLimits } from "./options.ts";
import { canEvictRemote, RemoteEviction } from "./remote_eviction.ts";
import { listRange, nextCursor } from "./paging.ts";
import type { AtomicCheck, AtomicMutation } from "./namespace.ts";
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
import {
  checkBatch,
  checkKey,
  expiryOf,
  quotaError,
  toValueBytes,
} from "./validate.ts";

/** What every remote namespace of one cache shares. */
export interface RemoteContext {
  readonly backend: AsyncBackend;
  /**
   * The cache's clock: the `now` of every request, which decides expiry
   * (the server frees expired entries on its own clock, translated).
   */
  readonly clock: Clock;
  readonly limits: ResolvedLimits;
  readonly quota: Quota | null;
  /** What a cache namespace does at its quota. */
  readonly onQuota: "reject" | "evict";
  /** The cache's default TTL for space 0. */
  readonly ttl: number | null;
  /** Most expired entries one purge step removes. */
  readonly purgeBatch: number;
  /** Throws `ClosedError` once the cache is closed. */
  assertOpen(): void;
}

const RECOUNT_EVERY_MS = 10_000;

/** The asynchronous implementation of one namespace. */
export class RemoteNamespaceImpl {
  readonly name: string;
  readonly #ctx: RemoteContext;
  readonly #space: Space;
  readonly #ttl: number | null;
  #hits = 0;
  #misses = 0;
  #recountedAt = -Infinity;
  /** `null` unless this namespace evicts at its quota. */
  readonly #eviction: RemoteEviction | null;
  /** Who writes are made for (see {@link actFor}); `null` outside a message. */
  #sender: string | null = null;

  constructor(ctx: RemoteContext, space: Space, name: string) {
    this.#ctx = ctx;
    this.#space = space;
    this.name = name;
    this.#ttl = space === 0 ? ctx.ttl : null;
    // The store is data, not cache: it is never evicted.
    this.#eviction = space === 0 && ctx.onQuota === "evict" &&
        ctx.quota !== null && canEvictRemote(ctx.backend)
      ? new RemoteEviction(ctx.backend, space, name, ctx.quota, ctx.clock)
      : null;
  }

  /** Attribute later writes to `sender` (the host, around a message). */
  actFor(sender: string | null): void {
    this.#sender = sender;
  }

  /** Record the write of `key` as made for `sender`, right after it. */
  async #attribute(key: string, sender: string | null): Promise<void> {
    const { backend } = this.#ctx;
    if (sender === null || backend.attribute === undefined) return;
    await backend.attribute(this.#space, this.name, key, sender);
  }

  /** Throws `ClosedError` once the cache is closed. */
  assertOpen(): void {
    this.#ctx.assertOpen();
  }

  async get(key: string): Promise<Uint8Array | null> {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    const eviction = this.#eviction;
    const value = eviction !== null && eviction.watching
      ? await eviction.get(key)
      : await this.#ctx.backend.getValue(
        this.#space,
        this.name,
        key,
        this.#ctx.clock.now(),
      );
    if (value === undefined) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    return value;
  }

  async getEntry(key: string): Promise<CacheEntry | null> {
    const entry = await this.peek(key);
    if (entry) this.#hits++;
    else this.#misses++;
    return entry;
  }

  async peek(key: string): Promise<CacheEntry | null> {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    return await this.#ctx.backend.get(
      this.#space,
      this.name,
      key,
      this.#ctx.clock.now(),
    ) ?? null;
  }

  async set(key: string, value: CacheValue, options?: SetOptions) {
    const sender = this.#sender;
    await this.#set(key, value, options);
    await this.#attribute(key, sender);
  }

  async #set(key: string, value: CacheValue, options?: SetOptions) {
    this.#ctx.assertOpen();
    const keySize = checkKey(key, this.#ctx.limits.maxKeyBytes);
    const bytes = toValueBytes(value, this.#ctx.limits.maxValueBytes);
    const expiresAt = this.#expiry(options);
    const { backend, quota } = this.#ctx;
    const size = keySize + bytes.length;
    await this.#withQuota(
      () =>
        backend.set(
          this.#space,
          this.name,
          key,
          bytes,
          expiresAt,
          size,
          this.#ctx.clock.now(),
          quota,
        ),
      size,
    );
  }

  /**
   * Run `attempt` (resolving `false` = over quota, nothing written); when
   * the quota says no, purge this namespace's expired entries in bounded
   * steps, retrying after each step that freed something, then recount;
   * only then refuse.
   */
  async #withQuota(
    attempt: () => Promise<boolean>,
    size: number,
    keys = 1,
  ): Promise<void> {
    // The write goes out first, so requests keep the order they were
    // issued in (an un-awaited set followed by a get reads the value).
    const [fits] = await Promise.all([attempt(), this.#eviction?.wrote()]);
    if (fits) return;
    const { backend, quota } = this.#ctx;
    let after: string | null = null;
    do {
      const step = await backend.purgeExpiredIn(
        this.#space,
        this.name,
        this.#ctx.clock.now(),
        this.#ctx.purgeBatch,
        after,
      );
      if (step.deleted > 0 && await attempt()) return;
      after = step.next;
    } while (after !== null);
    // Expired entries are gone: make room by evicting the least recently
    // used, then write (two atomic steps; see remote_eviction.ts).
    if (await this.#eviction?.makeRoom(keys, size, attempt)) return;
    const now = this.#ctx.clock.now();
    if (now - this.#recountedAt >= RECOUNT_EVERY_MS) {
      this.#recountedAt = now;
      if (await backend.recount(this.#space, this.name) && await attempt()) {
        return;
      }
    }
    const used = await backend.usage(this.#space, this.name);
    throw quotaError(this.name, used, size, quota);
  }

  #expiry(options: SetOptions | undefined): number | null {
    return expiryOf(options, this.#ttl, this.#ctx.clock.now());
  }

  async delete(key: string): Promise<boolean> {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    return await this.#ctx.backend.delete(
      this.#space,
      this.name,
      key,
      this.#ctx.clock.now(),
    );
  }

  async has(key: string): Promise<boolean> {
    return await this.peek(key) !== null;
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

  async list(options: ListOptions = {}): Promise<ListPage> {
    const range = this.#range(options);
    const keys = await this.#ctx.backend.list(range);
    return { keys, cursor: nextCursor(keys, range.limit, (k) => k) };
  }

  async scan(options: ListOptions = {}): Promise<ScanPage> {
    const range = this.#range(options);
    const entries = await this.#ctx.backend.scan(range);
    return { entries, cursor: nextCursor(entries, range.limit, (e) => e.key) };
  }

  async increment(key: string, by = 1): Promise<number> {
    const sender = this.#sender;
    const n = await this.#increment(key, by);
    await this.#attribute(key, sender);
    return n;
  }

  async #increment(key: string, by = 1): Promise<number> {
    this.#ctx.assertOpen();
    const keySize = checkKey(key, this.#ctx.limits.maxKeyBytes);
    if (!Number.isSafeInteger(by)) {
      throw new InvalidInputError(
        `by must be a whole number, got ${String(by)}`,
      );
    }
    const { backend, quota } = this.#ctx;
    const fresh = this.#expiry(undefined);
    let result = 0;
    await this.#withQuota(async () => {
      const res = await backend.increment(
        this.#space,
        this.name,
        key,
        by,
        fresh,
        keySize,
        this.#ctx.clock.now(),
        quota,
      );
      switch (res.kind) {
        case "ok":
          result = res.value;
          return true;
        case "quota":
          return false;
        case "not-integer": {
          const text = res.text;
          throw new NotAnIntegerError(
            `cannot increment "${key}" in namespace "${this.name}": its value ${
              JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text)
            } is not a whole number in decimal; it was left unchanged`,
          );
        }
        case "overflow":
          throw new InvalidInputError(
            `incrementing "${key}" by ${by} goes past the largest exact integer (${Number.MAX_SAFE_INTEGER}); the value was left unchanged`,
          );
      }
    }, keySize + 20);
    return result;
  }

  async clear(): Promise<number> {
    this.#ctx.assertOpen();
    return await this.#ctx.backend.clear(this.#space, this.name);
  }

  async setMany(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): Promise<number> {
    this.#ctx.assertOpen();
    const { writes, size } = this.#validBatch(entries, "setMany");
    if (writes.length === 0) return 0;
    const { backend, quota } = this.#ctx;
    await this.#withQuota(
      () =>
        backend.writeMany(
          this.#space,
          this.name,
          writes,
          this.#ctx.clock.now(),
          quota,
        ),
      size,
      writes.length,
    );
    return writes.length;
  }

  /**
   * Like `setMany`, only where a key has no live entry; resolves to the keys
   * left alone. Redis gets one atomic commit whose checks say "must not
   * exist"; when a concurrent writer takes one of the keys first, the
   * commit writes nothing and the batch is looked at again.
   */
  async setManyIfAbsent(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): Promise<string[]> {
    this.#ctx.assertOpen();
    let pending = this.#validBatch(entries, "setManyIfAbsent").writes;
    const kept: string[] = [];
    while (pending.length > 0) {
      const live = await Promise.all(pending.map((w) => this.peek(w.key)));
      const absent = pending.filter((_, i) => live[i] === null);
      for (const [i, w] of pending.entries()) {
        if (live[i] !== null) kept.push(w.key);
      }
      if (absent.length === 0) break;
      const checks = absent.map((w) => ({ key: w.key, version: null }));
      if (await this.#commitChecked(checks, absent)) break;
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
   * Keys and bytes as the server last reported them to this process (every
   * write of this process answers with them; a sweep tick and
   * `cache.namespaces()` refresh them), plus hits and misses. `stats()` is
   * synchronous in the public API and a network store cannot answer
   * synchronously, so writes by other processes show up after this
   * process's next write or tick.
   */
  stats(): NamespaceStats {
    this.#ctx.assertOpen();
    const known = this.#ctx.backend.knownUsage(this.#space, this.name);
    return {
      keys: known?.keys ?? 0,
      bytes: known?.bytes ?? 0,
      hits: (known?.hits ?? 0) + this.#hits,
      misses: (known?.misses ?? 0) + this.#misses,
      evictions: known?.evictions ?? 0,
    };
  }

  /** Ask the server for the namespace's usage; later `stats()` calls see it. */
  async refreshStats(): Promise<NamespaceStats> {
    this.#ctx.assertOpen();
    await this.#ctx.backend.usage(this.#space, this.name);
    // Recorded reads out, and how full the namespace is now.
    if (this.#eviction !== null) {
      await this.#eviction.flush();
      await this.#eviction.check();
    }
    return this.stats();
  }

  /** Move this process's hit and miss counts (and recorded reads) to the server. */
  async flushCounters(): Promise<void> {
    await this.#eviction?.flush();
    if (this.#hits === 0 && this.#misses === 0) return;
    const hits = this.#hits;
    const misses = this.#misses;
    this.#hits = 0;
    this.#misses = 0;
    try {
      await this.#ctx.backend.addCounters(this.#space, this.name, hits, misses);
    } catch (err) {
      this.#hits += hits;
      this.#misses += misses;
      throw err;
    }
  }

  /** Check versions and write, all or nothing, in one server-side step. */
  async commit(
    checks: AtomicCheck[],
    mutations: AtomicMutation[],
  ): Promise<boolean> {
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
    return await this.#commitChecked(checks, writes);
  }

  /**
   * One server-side commit of `writes` behind `checks`, under the quota:
   * `false` when a check failed (nothing written).
   */
  async #commitChecked(
    checks: readonly VersionCheck[],
    writes: readonly BatchWrite[],
  ): Promise<boolean> {
    const { backend, quota } = this.#ctx;
    const size = writes.reduce((n, w) => n + w.size, 0);
    let ok = true;
    await this.#withQuota(
      async () => {
        const outcome = await backend.commit(
          this.#space,
          this.name,
          checks,
          writes,
          this.#ctx.clock.now(),
          quota,
        );
        ok = outcome === "ok";
        return outcome !== "quota";
      },
      size,
      writes.filter((w) => w.value !== null).length,
    );
    return ok;
  }
}

/** The error every synchronous call on a Redis-backed namespace throws. */
export function noSyncError(name: string): InvalidInputError {
  return new InvalidInputError(
    `namespace "${name}" is on Redis, which cannot answer without waiting: use the async methods (await ns.get(...), await ns.atomic().commit()) instead of ns.sync / commitSync()`,
  );
}

/**
 * `ns.sync` of a Redis-backed namespace: every call throws
 * {@link noSyncError} (or `ClosedError` once the cache is closed, as every
 * other call does).
 */
export function noSyncFace(ns: RemoteNamespaceImpl): SyncNamespace {
  const name = ns.name;
  const fail = (): never => {
    ns.assertOpen();
    throw noSyncError(name);
  };
  const face: SyncNamespace = {
    name,
    get: fail,
    getEntry: fail,
    peek: fail,
    set: fail,
    setMany: fail,
    setManyIfAbsent: fail,
    delete: fail,
    has: fail,
    list: fail,
    scan: fail,
    increment: fail,
    clear: fail,
    stats: fail,
  };
  faces.set(face, ns);
  return face;
}

/** The remote namespace behind each face, so `actFor` can reach it. */
const faces = new WeakMap<SyncNamespace, RemoteNamespaceImpl>();

/**
 * The remote namespaces behind `namespaces` (faces made by
 * {@link noSyncFace}); the others are skipped.
 */
export function remoteImpls(
  namespaces: readonly SyncNamespace[],
): RemoteNamespaceImpl[] {
  return namespaces.flatMap((ns) => {
    const impl = faces.get(ns);
    return impl === undefined ? [] : [impl];
  });
}
