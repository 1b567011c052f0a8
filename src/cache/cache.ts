/**
 * `createSupCache` and the {@link SupCache} it returns.
 *
 * @module
 */
import { join } from "node:path";
import { ClosedError, StorageError, SupCacheError } from "../errors.ts";
import type {
  AttributionCursor,
  Backend,
  NamespaceUsage,
  PurgeStep,
  Space,
  SweepCursor,
} from "../storage/backend.ts";
import type { AsyncBackend } from "../storage/async_backend.ts";
import { type RemoteContext, RemoteNamespaceImpl } from "./remote_namespace.ts";
import { openFfiSqlite } from "../storage/ffi_sqlite.ts";
import { openNodeSqlite } from "../storage/node_sqlite.ts";
import { checkDenoVersion } from "../storage/runtime.ts";
import { SqliteBackend, storageError } from "../storage/sqlite_backend.ts";
import { Namespace } from "./async_namespace.ts";
import type { Clock } from "./clock.ts";
import {
  type CacheContext,
  checkNamespaceName,
  SyncNamespaceImpl,
} from "./namespace.ts";
import {
  DB_FILE,
  type ResolvedLimits,
  type ResolvedOptions,
  resolveOptions,
  type SupCacheOptions,
} from "./options.ts";
import { checkOptions } from "../check_options.ts";
import {
  type ForgetReport,
  forgetSender,
  forgetSenderRemote,
} from "./forget.ts";
import { settle } from "./settle.ts";
import { Sweeper } from "./sweeper.ts";
/** One namespace as the CLI and `namespaces()` report it. */
export interface NamespaceInfo {
  /** `"cache"` (expiring) or `"store"` (never-expiring). */
  kind: "cache" | "store";
  /** The namespace name (a plugin's name for plugin caches). */
  name: string;
  /** Stored entries, including expired ones not yet swept. */
  keys: number;
  /** Bytes of keys plus values. */
  bytes: number;
  /** Reads that found a live value (flushed counts from every process). */
  hits: number;
  /** Reads that found nothing. */
  misses: number;
  /** The earliest expiry among stored entries (ms since epoch), or `null`. */
  nextExpiry: number | null;
  /** When the oldest stored entry was written (ms since epoch), or `null`. */
  oldest: number | null;
  /** Live entries evicted to make room for writes (see `limits.onQuota`). */
  evictions: number;
}

const KINDS = ["cache", "store"] as const;

function toInfo(u: NamespaceUsage): NamespaceInfo {
  return {
    kind: KINDS[u.space],
    name: u.ns,
    keys: u.keys,
    bytes: u.bytes,
    hits: u.hits,
    misses: u.misses,
    nextExpiry: u.nextExpiry,
    oldest: u.oldest,
    evictions: u.evictions ?? 0,
  };
}

/** Redis backends say so; SQLite ones (and a user's own `Backend`) do not. */
function isAsyncBackend(b: Backend | AsyncBackend): b is AsyncBackend {
  return (b as AsyncBackend).async === true;
}

/**
 * A persistent key-value cache on SQLite, split into namespaces. Make one
 * with {@link createSupCache}; close it with `close()` or `await using`.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * await cache.namespace("weather").set("berlin", "12°C", { ttl: 600_000 });
 * console.log(await cache.namespace("weather").has("berlin")); // true
 * console.log(await cache.namespace("news").has("berlin")); // false
 * ```
 */
export class SupCache implements AsyncDisposable {
  /** The data directory, or `null` when `path` was given explicitly. */
  readonly dataDir: string | null;
  /** The database file, or `":memory:"`. */
  readonly path: string;
  /** The limits in force, defaults filled in. */
  readonly limits: Readonly<ResolvedLimits>;
  /**
   * `true` when the data lives in Redis: every call crosses the network,
   * and namespaces have no synchronous face (`ns.sync` throws).
   */
  readonly remote: boolean;
  /** SQLite (synchronous), or `null` on Redis. */
  readonly #backend: Backend | null;
  readonly #ctx: CacheContext | null;
  readonly #open = new Map<string, SyncNamespaceImpl>();
  /** Redis (asynchronous), or `null` on SQLite; chosen once, at open. */
  readonly #remote: AsyncBackend | null;
  readonly #remoteCtx: RemoteContext | null;
  readonly #remoteOpen = new Map<string, RemoteNamespaceImpl>();
  #ticking = false;
  readonly #sweeper: Sweeper;
  readonly #sweepBatch: number;
  readonly #clock: Clock;
  #sweepCursor: SweepCursor | null = null;
  #attributionCursor: AttributionCursor | null = null;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Use {@link createSupCache}, which checks the options and opens the backend first. */
  constructor(backend: Backend | AsyncBackend, options: ResolvedOptions) {
    this.dataDir = options.dataDir;
    this.path = backend.path;
    this.limits = options.limits;
    const { maxBytes, maxKeys } = this.limits;
    this.#sweepBatch = options.sweepBatch;
    this.#clock = options.clock;
    const shared = {
      clock: options.clock,
      limits: this.limits,
      quota: maxBytes === null && maxKeys === null ? null : {
        maxBytes: maxBytes ?? Number.MAX_SAFE_INTEGER,
        maxKeys: maxKeys ?? Number.MAX_SAFE_INTEGER,
      },
      onQuota: this.limits.onQuota,
      ttl: options.ttl,
      purgeBatch: this.#sweepBatch,
      assertOpen: () => {
        if (this.#closed) throw new ClosedError("this SupCache");
      },
    };
    this.remote = isAsyncBackend(backend);
    if (isAsyncBackend(backend)) {
      this.#backend = null;
      this.#ctx = null;
      this.#remote = backend;
      this.#remoteCtx = { ...shared, backend };
    } else {
      this.#backend = backend;
      this.#ctx = {
        ...shared,
        backend,
        scheduleFlush: () => this.#scheduleFlush(),
      };
      this.#remote = null;
      this.#remoteCtx = null;
    }
    this.#sweeper = new Sweeper(
      options.sweepIntervalMs,
      this.#remote === null ? () => this.#tick() : () => {
        // One tick at a time: a slow server must not pile ticks up.
        if (this.#ticking) return;
        this.#ticking = true;
        this.#remoteTick().catch((err) => {
          // A tick that close() overtook has nothing to report.
          if (this.#closed) return;
          console.error(
            `sup-cache: background sweep of ${this.path} failed: ${
              (err as Error).message
            }`,
          );
        }).finally(() => this.#ticking = false);
      },
      (err) => {
        console.error(
          `sup-cache: background sweep of ${this.path} failed: ${
            (err as Error).message
          }`,
        );
      },
    );
  }

  // Deletes are counted in memory and shared with other processes when the
  // event loop next turns, so a burst of deletes costs one extra write.
  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#closed) return;
      try {
        // Deletes only: a lease kept across event-loop turns saves a write
        // per turn for a process that inserts steadily.
        this.#backend!.flush(false);
      } catch (err) {
        console.error(
          `sup-cache: sharing usage counts of ${this.path} failed (retried on the next write or sweep): ${
            (err as Error).message
          }`,
        );
      }
    }, 0);
    Deno.unrefTimer(this.#flushTimer);
  }

  #namespace(space: Space, name: string): Namespace {
    if (this.#closed) throw new ClosedError("this SupCache");
    checkNamespaceName(name);
    const id = `${space}\u0000${name}`;
    if (this.#remoteCtx !== null) {
      let remote = this.#remoteOpen.get(id);
      if (!remote) {
        remote = new RemoteNamespaceImpl(this.#remoteCtx, space, name);
        this.#remoteOpen.set(id, remote);
      }
      return new Namespace(remote);
    }
    const ctx = this.#ctx!;
    let impl = this.#open.get(id);
    if (!impl) {
      impl = new SyncNamespaceImpl(ctx, space, name);
      this.#open.set(id, impl);
    }
    return new Namespace(impl);
  }

  /**
   * The expiring keyspace `name`. Writes default to the cache's `ttl`.
   * Names are 1 to 256 UTF-8 bytes; any characters are allowed.
   */
  namespace(name: string): Namespace {
    return this.#namespace(0, name);
  }

  /**
   * The never-expiring keyspace `name` (sup's "store"), separate from the
   * cache namespace of the same name. Writes never expire unless given a ttl.
   */
  store(name: string): Namespace {
    return this.#namespace(1, name);
  }

  /** Every namespace that ever held an entry, with its usage. */
  namespaces(): Promise<NamespaceInfo[]> {
    if (this.#remote !== null) return this.#remoteNamespaceInfo();
    return settle(() => this.#namespaceInfo());
  }

  async #remoteNamespaceInfo(): Promise<NamespaceInfo[]> {
    if (this.#closed) throw new ClosedError("this SupCache");
    await this.#remoteFlush();
    return (await this.#remote!.namespaces()).map(toInfo);
  }

  #namespaceInfo(): NamespaceInfo[] {
    this.#ctx!.assertOpen();
    this.#flush();
    return this.#backend!.namespaces().map(toInfo);
  }

  /**
   * Delete every expired entry now, in bounded steps (each one short write
   * transaction over at most `sweepBatch` deletions), yielding to the event
   * loop between steps; resolves to how many were deleted. `onProgress` is
   * told the running total after each step that deleted something.
   */
  async purgeExpired(onProgress?: (deleted: number) => void): Promise<number> {
    if (this.#closed) throw new ClosedError("this SupCache");
    const now = this.#clock.now();
    let total = 0;
    let after: SweepCursor | null = null;
    do {
      const step: PurgeStep<SweepCursor> = this.#remote !== null
        ? await this.#remote.purgeExpired(now, this.#sweepBatch, after)
        : this.#backend!.purgeExpired(now, this.#sweepBatch, after);
      total += step.deleted;
      if (step.deleted > 0) onProgress?.(total);
      after = step.next;
      // Let timers and other work run between steps.
      if (after !== null && this.#remote === null) {
        await new Promise((r) => setTimeout(r, 0));
      }
      if (this.#closed) throw new ClosedError("this SupCache");
    } while (after !== null);
    return total;
  }

  /**
   * Delete every entry written for `sender` while a plugin handled their
   * message, and every entry whose key has `sender` as a whole
   * `:`-separated segment, in every namespace of both keyspaces (one
   * transaction per namespace). Resolves to what was deleted per namespace
   * and which rule matched; `{ dryRun: true }` only lists. Writes made
   * outside a message (by the host itself) are attributed to no one.
   *
   * @example
   * ```ts
   * import { createSupCache } from "@sup/cache";
   * await using cache = await createSupCache({ path: ":memory:" });
   * await cache.namespace("ratelimit").set("ratelimit:ada", "3");
   * await cache.namespace("ratelimit").set("ratelimit:bob", "1");
   * const report = await cache.forget("ada");
   * console.log(report[0].keys); // [ { key: "ratelimit:ada", rule: "key-segment" } ]
   * console.log(await cache.namespace("ratelimit").has("ratelimit:bob")); // true
   * ```
   */
  forget(
    sender: string,
    options: { dryRun?: boolean } = {},
  ): Promise<ForgetReport[]> {
    if (this.#remote !== null) return this.#remoteForget(sender, options);
    return settle(() => {
      if (this.#closed) throw new ClosedError("this SupCache");
      checkOptions(options, ["dryRun"], "forget");
      const reports = forgetSender(
        this.#backend!,
        sender,
        options.dryRun === true,
        this.#clock.now(),
      );
      if (!options.dryRun) this.#backend!.flush();
      return reports;
    });
  }

  async #remoteForget(
    sender: string,
    options: { dryRun?: boolean },
  ): Promise<ForgetReport[]> {
    if (this.#closed) throw new ClosedError("this SupCache");
    checkOptions(options, ["dryRun"], "forget");
    return await forgetSenderRemote(
      this.#remote!,
      sender,
      options.dryRun === true,
      this.#clock.now(),
    );
  }

  #flush(): void {
    for (const ns of this.#open.values()) ns.flushCounters();
    this.#backend!.flush();
  }

  async #remoteFlush(): Promise<void> {
    await Promise.all(
      [...this.#remoteOpen.values()].map((ns) => ns.flushCounters()),
    );
  }

  // Counters out, one bounded purge step, and fresh usage for the
  // synchronous stats() of the namespaces this process uses.
  async #remoteTick(): Promise<void> {
    if (this.#closed) return;
    await this.#remoteFlush();
    const remote = this.#remote!;
    const step = await remote.purgeExpired(
      this.#clock.now(),
      this.#sweepBatch,
      this.#sweepCursor,
    );
    this.#sweepCursor = step.next;
    if (remote.pruneAttributions !== undefined) {
      this.#attributionCursor = await remote.pruneAttributions(
        this.#attributionCursor,
        this.#sweepBatch,
      );
    }
    await Promise.all(
      [...this.#remoteOpen.values()].map((ns) => ns.refreshStats()),
    );
  }

  // One bounded step per tick, continuing where the last one stopped, so a
  // full pass over n rows takes n / (20 * sweepBatch) ticks.
  #tick(): void {
    if (this.#closed) return;
    this.#flush();
    const step = this.#backend!.purgeExpired(
      this.#clock.now(),
      this.#sweepBatch,
      this.#sweepCursor,
    );
    this.#sweepCursor = step.next;
    // Who-wrote-what rows of entries that are gone (see forget.ts), a
    // bounded batch per tick.
    const backend = this.#backend!;
    if (backend.pruneAttributions !== undefined) {
      this.#attributionCursor = backend.pruneAttributions(
        this.#attributionCursor,
        this.#sweepBatch,
      );
    }
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Flush counters, stop the sweep and close the file. Later calls on this
   * cache or its namespaces throw `ClosedError`. Closing twice is harmless.
   */
  close(): Promise<void> {
    if (this.#remote !== null) return this.#remoteClose();
    return settle(() => this.#close());
  }

  async #remoteClose(): Promise<void> {
    if (this.#closed) return;
    this.#sweeper.stop();
    try {
      await this.#remoteFlush();
    } finally {
      this.#closed = true;
      await this.#remote!.close();
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#sweeper.stop();
    clearTimeout(this.#flushTimer);
    try {
      this.#flush();
    } finally {
      this.#closed = true;
      this.#backend!.close();
    }
  }

  /** `await using cache = await createSupCache()` closes it at scope end. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    // Permission problems surface when SQLite opens the file, with a message.
    return true;
  }
}

/** Remove what a failed first open created, so no empty cache.db stays behind. */
async function removeCreated(path: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    await Deno.remove(path + suffix).catch(() => {});
  }
}

/**
 * Open (or create) a sup-cache. With no options it uses `cache.db` in the
 * default data directory (`$SUP_DATA_DIR`, else `$XDG_DATA_HOME/sup-cache`,
 * else `~/.local/share/sup-cache`), which it creates with mode 0700. Every
 * option is checked before anything touches the disk; unknown option names
 * are an `InvalidInputError` that names the closest known one.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * const dataDir = await Deno.makeTempDir();
 * const cache = await createSupCache({ dataDir, ttl: 60_000 });
 * await cache.namespace("counter").increment("visits");
 * await cache.close();
 * await using again = await createSupCache({ dataDir });
 * console.log(new TextDecoder().decode((await again.namespace("counter").get("visits"))!)); // "1"
 * ```
 */
export async function createSupCache(
  options?: SupCacheOptions,
): Promise<SupCache> {
  const resolved = resolveOptions(options);
  const { driver, durability } = resolved;
  if (resolved.redis !== null) {
    // Loaded only when asked for, so SQLite users never load the client.
    const { RedisBackend } = await import("../storage/redis/backend.ts");
    const remote = await RedisBackend.openResolved(resolved.redis);
    try {
      // Usage of every namespace up front, so the synchronous stats() of a
      // fresh cache reports what the server holds.
      await remote.namespaces();
      return new SupCache(remote, resolved);
    } catch (err) {
      await remote.close();
      throw err;
    }
  }
  // Before anything touches the disk: an old node:sqlite fails every read.
  if (driver === "node:sqlite") checkDenoVersion();
  let backend: Backend;
  if (typeof driver === "object") {
    backend = driver;
  } else {
    let path = resolved.path;
    if (path === null) {
      const dataDir = resolved.dataDir!;
      try {
        // Only create what is missing: an existing directory needs no write
        // permission on its parent, and a later failure should name the file.
        if (!(await isDirectory(dataDir))) {
          await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
        }
      } catch (cause) {
        throw new StorageError(
          dataDir,
          `cannot create the data directory ${dataDir}: ${
            (cause as Error).message
          }`,
          { cause },
        );
      }
      path = join(dataDir, DB_FILE);
    }
    const isNew = path !== ":memory:" && !(await exists(path));
    try {
      let db;
      try {
        db = driver === "ffi"
          ? await openFfiSqlite(path)
          : openNodeSqlite(path);
      } catch (err) {
        if (err instanceof SupCacheError) throw err;
        throw storageError(path, err);
      }
      backend = new SqliteBackend(db, path, durability);
    } catch (err) {
      // A file this call created and could not set up (a full disk, a
      // permission problem) would be an empty cache.db that later opens
      // take for a real one.
      if (isNew) await removeCreated(path);
      throw err;
    }
  }
  try {
    return new SupCache(backend, resolved);
  } catch (err) {
    backend.close();
    throw err;
  }
}
