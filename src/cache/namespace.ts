/**
 * One namespace: an isolated keyspace inside the cache. The synchronous
 * class does the work; the async one is the public face, in the style of
 * Deno KV.
 *
 * @module
 */
import { InvalidInputError, NotAnIntegerError } from "../errors.ts";
import {
  type Backend,
  type BatchWrite,
  type KeyRange,
  type Quota,
  QuotaRefusal,
  type Space,
} from "../storage/backend.ts";
import type { Clock } from "./clock.ts";
import { canEvict, Eviction } from "./eviction.ts";
import type { ResolvedLimits } from "./options.ts";
import { listRange, nextCursor } from "./paging.ts";
import { remoteImpls } from "./remote_namespace.ts";
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

/** What every namespace of one cache shares. */
export interface CacheContext {
  readonly backend: Backend;
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

/** The option names of a single write. */

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

/** The synchronous implementation of a namespace; see {@link SyncNamespace}. */
export class SyncNamespaceImpl implements SyncNamespace {
  readonly name: string;
  readonly #ctx: CacheContext;
  readonly #space: Space;
  readonly #ttl: number | null;
  /** Not yet flushed to the database; see {@link SyncNamespaceImpl.flushCounters}. */
  #hits = 0;
  #misses = 0;
  #recountedAt = -Infinity;
  #nextPass = -Infinity;
  /** `null` unless this namespace evicts at its quota. */
  readonly #eviction: Eviction | null;

  constructor(ctx: CacheContext, space: Space, name: string) {
    this.#ctx = ctx;
    this.#space = space;
    this.name = name;
    // The store never expires unless a write asks for it.
    this.#ttl = space === 0 ? ctx.ttl : null;
    // The store is data, not cache: it is never evicted.
    this.#eviction = space === 0 && ctx.onQuota === "evict" &&
        ctx.quota !== null && canEvict(ctx.backend)
      ? new Eviction(ctx.backend, space, name, ctx.quota, ctx.clock)
      : null;
  }

  get(key: string): Uint8Array | null {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    const eviction = this.#eviction;
    const value = eviction !== null && eviction.watching
      ? eviction.get(key)
      : this.#ctx.backend.getValue(
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

  getEntry(key: string): CacheEntry | null {
    const entry = this.peek(key);
    if (entry) this.#hits++;
    else this.#misses++;
    return entry;
  }

  peek(key: string): CacheEntry | null {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    const now = this.#ctx.clock.now();
    return this.#ctx.backend.get(this.#space, this.name, key, now) ?? null;
  }

  /**
   * Who writes are made for (see {@link actFor}); `null` outside a
   * plugin's handling of a message.
   */
  #sender: string | null = null;

  /** Attribute later writes to `sender` (the host, around a message). */
  actFor(sender: string | null): void {
    this.#sender = sender;
  }

  set(key: string, value: CacheValue, options?: SetOptions): void {
    const sender = this.#sender;
    const { backend } = this.#ctx;
    if (sender === null || backend.attribute === undefined) {
      return this.#set(key, value, options);
    }
    // The attribution lands with the write or not at all.
    backend.transaction(() => {
      this.#set(key, value, options);
      backend.attribute!(this.#space, this.name, key, sender);
    });
  }

  increment(key: string, by = 1): number {
    const sender = this.#sender;
    const { backend } = this.#ctx;
    if (sender === null || backend.attribute === undefined) {
      return this.#increment(key, by);
    }
    return backend.transaction(() => {
      const n = this.#increment(key, by);
      backend.attribute!(this.#space, this.name, key, sender);
      return n;
    });
  }

  #set(key: string, value: CacheValue, options?: SetOptions): void {
    this.#ctx.assertOpen();
    const keySize = checkKey(key, this.#ctx.limits.maxKeyBytes);
    const bytes = toValueBytes(value, this.#ctx.limits.maxValueBytes);
    const expiresAt = this.#expiry(options);
    const { backend, quota } = this.#ctx;
    const size = keySize + bytes.length;
    this.#withQuota(
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
    this.#noteExpiry(expiresAt);
  }

  /**
   * Run `attempt` (`false` or a {@link QuotaRefusal} = over quota, nothing
   * written). When the quota says no: share pending deletes, purge expired
   * rows of this namespace in bounded steps (each its own short
   * transaction, so no write holds the lock for long) retrying after each
   * step that freed something, then recount; only then refuse.
   */
  #noteExpiry(expiresAt: number | null): void {
    if (expiresAt !== null && expiresAt < this.#nextPass) {
      this.#nextPass = expiresAt;
    }
  }

  #withQuota(attempt: () => boolean, size: number, keys = 1): void {
    this.#eviction?.wrote();
    const tryOnce = () => {
      try {
        return attempt();
      } catch (err) {
        if (err instanceof QuotaRefusal) return false;
        throw err;
      }
    };
    if (tryOnce()) return;
    const { backend, quota } = this.#ctx;
    backend.flush();
    if (tryOnce()) return;
    // A pass that found nothing to free read the whole namespace (in
    // steps, without the lock); repeating it for every refused write in the
    // next second would only repeat that reading, unless this process wrote
    // something that expires sooner (see #noteExpiry).
    if (this.#ctx.clock.now() >= this.#nextPass) {
      let after: string | null = null;
      let freed = 0;
      do {
        const step = backend.purgeExpiredIn(
          this.#space,
          this.name,
          this.#ctx.clock.now(),
          this.#ctx.purgeBatch,
          after,
        );
        freed += step.deleted;
        if (step.deleted > 0 && tryOnce()) return;
        after = step.next;
      } while (after !== null);
      if (freed === 0) {
        this.#nextPass = this.#ctx.clock.now() + EMPTY_PASS_EVERY_MS;
      }
    }
    // Expired entries are gone (or were looked for a moment ago): make room
    // by evicting the least recently used, in one transaction with the write.
    if (this.#eviction?.makeRoom(keys, size, tryOnce)) return;
    // A recount reads the whole namespace: at most one per namespace per
    // RECOUNT_EVERY_MS, so writes hammering a full namespace stay cheap.
    const now = this.#ctx.clock.now();
    if (now - this.#recountedAt >= RECOUNT_EVERY_MS) {
      this.#recountedAt = now;
      if (backend.recount(this.#space, this.name) && tryOnce()) return;
    }
    const used = backend.usage(this.#space, this.name);
    throw quotaError(this.name, used, size, quota);
  }

  #expiry(options: SetOptions | undefined): number | null {
    return expiryOf(options, this.#ttl, this.#ctx.clock.now());
  }

  delete(key: string): boolean {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    const deleted = this.#ctx.backend.delete(
      this.#space,
      this.name,
      key,
      this.#ctx.clock.now(),
    );
    this.#ctx.scheduleFlush();
    return deleted;
  }

  has(key: string): boolean {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    return this.#ctx.backend.get(
      this.#space,
      this.name,
      key,
      this.#ctx.clock.now(),
    ) !==
      undefined;
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

  list(options: ListOptions = {}): ListPage {
    const range = this.#range(options);
    const keys = this.#ctx.backend.list(range);
    return { keys, cursor: nextCursor(keys, range.limit, (k) => k) };
  }

  scan(options: ListOptions = {}): ScanPage {
    const range = this.#range(options);
    const entries = this.#ctx.backend.scan(range);
    return { entries, cursor: nextCursor(entries, range.limit, (e) => e.key) };
  }

  #increment(key: string, by = 1): number {
    this.#ctx.assertOpen();
    const keySize = checkKey(key, this.#ctx.limits.maxKeyBytes);
    if (!Number.isSafeInteger(by)) {
      throw new InvalidInputError(
        `by must be a whole number, got ${String(by)}`,
      );
    }
    const { backend, quota } = this.#ctx;
    // A new counter gets the default expiry; an existing live one keeps its
    // own (a counter with a TTL counts within its window, as a rate limiter).
    const fresh = this.#expiry(undefined);
    let result = 0;
    this.#withQuota(() => {
      const text = backend.increment(
        this.#space,
        this.name,
        key,
        by,
        fresh,
        keySize,
        this.#ctx.clock.now(),
        quota,
      );
      if (text !== undefined) {
        result = Number(text);
        return true;
      }
      // The one statement said no: find out why, under the write lock.
      result = this.#incrementSlowly(key, keySize, by, fresh);
      return true;
    }, keySize + 20);
    return result;
  }

  #incrementSlowly(
    key: string,
    keySize: number,
    by: number,
    fresh: number | null,
  ): number {
    const { backend, quota } = this.#ctx;
    return backend.transaction(() => {
      const now = this.#ctx.clock.now();
      const entry = backend.get(this.#space, this.name, key, now);
      let current = 0;
      if (entry) {
        const text = decoder.decode(entry.value);
        if (!INTEGER.test(text) || !Number.isSafeInteger(Number(text))) {
          throw new NotAnIntegerError(
            `cannot increment "${key}" in namespace "${this.name}": its value ${
              JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text)
            } is not a whole number in decimal; it was left unchanged`,
          );
        }
        current = Number(text);
      }
      const next = current + by;
      if (!Number.isSafeInteger(next)) {
        throw new InvalidInputError(
          `incrementing "${key}" by ${by} gives ${next}, past the largest exact integer (${Number.MAX_SAFE_INTEGER}); the value was left unchanged`,
        );
      }
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

  clear(): number {
    this.#ctx.assertOpen();
    return this.#ctx.backend.clear(this.#space, this.name);
  }

  /**
   * Write many entries in one transaction: all land or none do. Each item
   * is `[key, value]` or `[key, value, { ttl } | { expiresAt }]`, so a `Map`
   * or `Object.entries(...)` can be passed as is. Every item is validated
   * before anything is written. Returns how many were written.
   */
  setMany(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): number {
    this.#ctx.assertOpen();
    const { writes, size } = this.#validBatch(entries, "setMany");
    if (writes.length === 0) return 0;
    this.#writeBatch(writes, size);
    for (const w of writes) this.#noteExpiry(w.expiresAt);
    return writes.length;
  }

  /**
   * Like `setMany`, but an entry is written only where its key has no live
   * entry; keys that have one are left alone (in the same transaction, so
   * a concurrent writer is never overwritten). Returns the keys left alone.
   */
  setManyIfAbsent(
    entries: Iterable<
      readonly [key: string, value: CacheValue, options?: SetOptions]
    >,
  ): string[] {
    this.#ctx.assertOpen();
    const { writes, size } = this.#validBatch(entries, "setManyIfAbsent");
    if (writes.length === 0) return [];
    const { backend, quota } = this.#ctx;
    let skipped: number[] = [];
    this.#withQuota(() => {
      skipped = backend.writeManyIfAbsent(
        this.#space,
        this.name,
        writes,
        Date.now(),
        quota,
      );
      return true;
    }, size);
    let next = 0;
    for (let i = 0; i < writes.length; i++) {
      if (skipped[next] === i) next++;
      else this.#noteExpiry(writes[i].expiresAt);
    }
    return skipped.map((i) => writes[i].key);
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

  #writeBatch(writes: BatchWrite[], size: number): void {
    const { backend, quota } = this.#ctx;
    this.#withQuota(
      () => {
        backend.writeMany(
          this.#space,
          this.name,
          writes,
          this.#ctx.clock.now(),
          quota,
        );
        return true;
      },
      size,
      writes.length,
    );
  }

  stats(): NamespaceStats {
    this.#ctx.assertOpen();
    const used = this.#ctx.backend.usage(this.#space, this.name);
    return {
      keys: used.keys,
      bytes: used.bytes,
      hits: used.hits + this.#hits,
      misses: used.misses + this.#misses,
      evictions: used.evictions ?? 0,
    };
  }

  /**
   * Move the in-memory hit and miss counts into the database, where other
   * processes (the CLI) can see them. Counting in memory keeps reads free
   * of writes; the cache flushes on each sweep tick and on close.
   */
  flushCounters(): void {
    if (this.#eviction !== null) {
      this.#eviction.flush();
      this.#eviction.check();
    }
    if (this.#hits === 0 && this.#misses === 0) return;
    this.#ctx.backend.addCounters(
      this.#space,
      this.name,
      this.#hits,
      this.#misses,
    );
    this.#hits = 0;
    this.#misses = 0;
  }

  /**
   * Check then write, all or nothing, under one write lock. Every input is
   * validated before the transaction starts, so bad input writes nothing.
   */
  commit(checks: AtomicCheck[], mutations: AtomicMutation[]): boolean {
    this.#ctx.assertOpen();
    const { limits, backend, quota } = this.#ctx;
    const planned = mutations.map((m) => {
      const keySize = checkKey(m.key, limits.maxKeyBytes);
      if (m.type === "delete") {
        return { key: m.key, bytes: null, expiresAt: null, size: 0 };
      }
      const bytes = toValueBytes(m.value, limits.maxValueBytes);
      return {
        key: m.key,
        bytes,
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
    const writes: BatchWrite[] = planned.map((p) => ({
      key: p.key,
      value: p.bytes,
      expiresAt: p.expiresAt,
      size: p.size,
    }));
    const size = planned.reduce((n, p) => n + p.size, 0);
    let ok = true;
    this.#withQuota(
      () =>
        backend.transaction(() => {
          const now = this.#ctx.clock.now();
          for (const c of checks) {
            const found =
              backend.get(this.#space, this.name, c.key, now)?.version ?? null;
            if (found !== c.version) {
              ok = false;
              return true;
            }
          }
          ok = true;
          if (writes.length > 0) {
            backend.writeMany(this.#space, this.name, writes, now, quota);
          }
          return true;
        }),
      size,
      writes.length,
    );
    if (writes.some((w) => w.value === null)) this.#ctx.scheduleFlush();
    if (ok) { for (const w of writes) this.#noteExpiry(w.expiresAt); }
    return ok;
  }
}

/** A condition of an atomic commit: the key's current version, or `null` for absent. */
export interface AtomicCheck {
  key: string;
  version: number | null;
}

/** A write of an atomic commit. */
export type AtomicMutation =
  | { type: "set"; key: string; value: CacheValue; options?: SetOptions }
  | { type: "delete"; key: string };

/** A full page may have more after it; a short one is the last. */

/**
 * Attribute the writes of `namespaces` to `sender` until the returned
 * function is called: the plugin host wraps a `handleMessage` call in it,
 * so `SupCache.forget(sender)` can find what a plugin stored for whom.
 */
export function actFor(
  namespaces: readonly SyncNamespace[],
  sender: string,
): () => void {
  const impls = namespaces.filter((ns) => ns instanceof SyncNamespaceImpl);
  for (const ns of impls) ns.actFor(sender);
  const remote = remoteImpls(namespaces);
  for (const ns of remote) ns.actFor(sender);
  return () => {
    for (const ns of impls) ns.actFor(null);
    for (const ns of remote) ns.actFor(null);
  };
}
