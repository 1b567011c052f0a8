/**
 * One namespace: an isolated keyspace inside the cache. The synchronous
 * class does the work; the async one is the public face, in the style of
 * Deno KV.
 *
 * @module
 */
import {
  InvalidInputError,
  NotAnIntegerError,
  QuotaExceededError,
} from "../errors.ts";
import type { Backend, KeyRange, Quota, Space } from "../storage/backend.ts";
import type { ResolvedLimits } from "./options.ts";
import { decodeCursor, encodeCursor, prefixEnd } from "./paging.ts";
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
import { checkKey, checkTtl, toValueBytes } from "./validate.ts";

/** What every namespace of one cache shares. */
export interface CacheContext {
  readonly backend: Backend;
  readonly limits: ResolvedLimits;
  readonly quota: Quota | null;
  /** The cache's default TTL for space 0. */
  readonly ttl: number | null;
  /** Throws {@link ClosedError} once the cache is closed. */
  assertOpen(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const MAX_NAME_BYTES = 256;

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

  constructor(ctx: CacheContext, space: Space, name: string) {
    this.#ctx = ctx;
    this.#space = space;
    this.name = name;
    // The store never expires unless a write asks for it.
    this.#ttl = space === 0 ? ctx.ttl : null;
  }

  get(key: string): Uint8Array | null {
    return this.getEntry(key)?.value ?? null;
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
    const now = Date.now();
    return this.#ctx.backend.get(this.#space, this.name, key, now) ?? null;
  }

  set(key: string, value: CacheValue, options?: SetOptions): void {
    this.#ctx.assertOpen();
    const keySize = checkKey(key, this.#ctx.limits.maxKeyBytes);
    const bytes = toValueBytes(value, this.#ctx.limits.maxValueBytes);
    const expiresAt = this.#expiry(options);
    this.#write(key, bytes, expiresAt, keySize + bytes.length);
  }

  /** Write, and when the quota says no, purge expired rows and try once more. */
  #write(
    key: string,
    bytes: Uint8Array,
    expiresAt: number | null,
    size: number,
  ) {
    const { backend, quota } = this.#ctx;
    const write = () =>
      backend.set(
        this.#space,
        this.name,
        key,
        bytes,
        expiresAt,
        size,
        Date.now(),
        quota,
      );
    if (write()) return;
    if (backend.purgeExpiredIn(this.#space, this.name, Date.now()) > 0) {
      if (write()) return;
    }
    const used = backend.usage(this.#space, this.name);
    throw new QuotaExceededError(
      this.name,
      `namespace "${this.name}" holds ${
        used.keys.toLocaleString("en-US")
      } keys and ${used.bytes.toLocaleString("en-US")} bytes; writing ${
        size.toLocaleString("en-US")
      } bytes would pass its quota of ${
        quota!.maxKeys.toLocaleString("en-US")
      } keys / ${
        quota!.maxBytes.toLocaleString("en-US")
      } bytes: delete keys, use shorter TTLs, or raise limits.maxKeys / limits.maxBytes`,
    );
  }

  #expiry(options: SetOptions | undefined): number | null {
    if (
      options !== undefined && (typeof options !== "object" || options === null)
    ) {
      throw new InvalidInputError(
        "options must be an object like { ttl: 60_000 }",
      );
    }
    if (options?.expiresAt !== undefined) {
      if (options.ttl !== undefined) {
        throw new InvalidInputError(
          "give ttl (relative) or expiresAt (absolute), not both",
        );
      }
      const at = options.expiresAt;
      if (
        at !== null &&
        (typeof at !== "number" || !Number.isSafeInteger(at) || at < 0)
      ) {
        throw new InvalidInputError(
          `expiresAt must be milliseconds since the epoch (a whole number) or null (never expires), got ${
            String(at)
          }`,
        );
      }
      return at;
    }
    const ttl = options?.ttl === undefined ? this.#ttl : checkTtl(options.ttl);
    return ttl === null ? null : Date.now() + ttl;
  }

  delete(key: string): boolean {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    return this.#ctx.backend.delete(this.#space, this.name, key, Date.now());
  }

  has(key: string): boolean {
    this.#ctx.assertOpen();
    checkKey(key, this.#ctx.limits.maxKeyBytes);
    return this.#ctx.backend.get(this.#space, this.name, key, Date.now()) !==
      undefined;
  }

  /** Validate list options and turn them into a key range. */
  #range(options: ListOptions): KeyRange {
    this.#ctx.assertOpen();
    if (typeof options !== "object" || options === null) {
      throw new InvalidInputError(
        'options must be an object like { prefix: "user:", limit: 100 }',
      );
    }
    const prefix = options.prefix ?? "";
    if (prefix !== "") checkKey(prefix, this.#ctx.limits.maxKeyBytes, "prefix");
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvalidInputError(
        `limit must be a whole number from 1 to 1,000, got ${String(limit)}`,
      );
    }
    const after = options.cursor === undefined
      ? null
      : decodeCursor(options.cursor);
    // A cursor before the prefix (from another listing) starts at the prefix.
    const resume = after !== null && compareKeys(after, prefix) >= 0;
    return {
      space: this.#space,
      ns: this.name,
      from: resume ? after : prefix,
      exclusive: resume,
      before: prefixEnd(prefix),
      limit,
      now: Date.now(),
    };
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

  increment(key: string, by = 1): number {
    this.#ctx.assertOpen();
    const keySize = checkKey(key, this.#ctx.limits.maxKeyBytes);
    if (!Number.isSafeInteger(by)) {
      throw new InvalidInputError(
        `by must be a whole number, got ${String(by)}`,
      );
    }
    const { backend } = this.#ctx;
    return backend.transaction(() => {
      const entry = backend.get(this.#space, this.name, key, Date.now());
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
      // An existing entry keeps its expiry: a counter with a TTL counts
      // within its window (a rate limiter) instead of living forever.
      const expiresAt = entry ? entry.expiresAt : this.#expiry(undefined);
      this.#write(key, bytes, expiresAt, keySize + bytes.length);
      return next;
    });
  }

  clear(): number {
    this.#ctx.assertOpen();
    return this.#ctx.backend.clear(this.#space, this.name);
  }

  stats(): NamespaceStats {
    this.#ctx.assertOpen();
    const used = this.#ctx.backend.usage(this.#space, this.name);
    return {
      keys: used.keys,
      bytes: used.bytes,
      hits: used.hits + this.#hits,
      misses: used.misses + this.#misses,
    };
  }

  /**
   * Move the in-memory hit and miss counts into the database, where other
   * processes (the CLI) can see them. Counting in memory keeps reads free
   * of writes; the cache flushes on each sweep tick and on close.
   */
  flushCounters(): void {
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
    const { limits, backend } = this.#ctx;
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
    return backend.transaction(() => {
      const now = Date.now();
      for (const c of checks) {
        const found =
          backend.get(this.#space, this.name, c.key, now)?.version ?? null;
        if (found !== c.version) return false;
      }
      for (const p of planned) {
        if (p.bytes === null) {
          backend.delete(this.#space, this.name, p.key, now);
        } else this.#write(p.key, p.bytes, p.expiresAt, p.size);
      }
      return true;
    });
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
function nextCursor<T>(
  items: T[],
  limit: number,
  keyOf: (item: T) => string,
): string | null {
  return items.length === limit
    ? encodeCursor(keyOf(items[items.length - 1]))
    : null;
}

/** Order keys as SQLite does (UTF-8 bytes, i.e. code points), not as UTF-16. */
function compareKeys(a: string, b: string): number {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  for (;;) {
    const p = x.next();
    const q = y.next();
    if (p.done || q.done) return (p.done ? 0 : 1) - (q.done ? 0 : 1);
    const d = p.value.codePointAt(0)! - q.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}
