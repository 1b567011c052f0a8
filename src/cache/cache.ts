/**
 * `createSupCache` and the {@link SupCache} it returns.
 *
 * @module
 */
import { join } from "node:path";
import { ClosedError, StorageError, SupCacheError } from "../errors.ts";
import {
  type AsyncBackend,
  type AttributionCursor,
  type Backend,
  isAsyncBackend,
  type Keyspace,
  type NamespaceUsage,
  type PurgeStep,
  type Space,
  SPACE_NAMES,
  type SweepCursor,
  type UsageCounters,
} from "../storage/backend.ts";
import { openFfiSqlite } from "../storage/ffi_sqlite.ts";
import { openNodeSqlite } from "../storage/node_sqlite.ts";
import { checkDenoVersion } from "../storage/runtime.ts";
import { SqliteBackend, storageError } from "../storage/sqlite_backend.ts";
import { type Namespace, namespaceOf } from "./async_namespace.ts";
import type { Clock } from "./clock.ts";
import {
  type CacheContext,
  checkNamespaceName,
  NamespaceCore,
} from "./namespace.ts";
import {
  DB_FILE,
  type ResolvedLimits,
  type ResolvedOptions,
  resolveOptions,
  type SupCacheOptions,
} from "./options.ts";
import { checkOptions } from "../check_options.ts";
import { type ForgetReport, forgetSender } from "./forget.ts";
import { all, type Op, runAsync, runSync, wait } from "./run.ts";
import { settle } from "./settle.ts";
import { Sweeper } from "./sweeper.ts";

/**
 * One namespace as the CLI and `namespaces()` report it: the usage
 * counters ({@link UsageCounters}, evictions always present) with the
 * namespace's keyspace, name and times.
 */
export interface NamespaceInfo extends Required<UsageCounters> {
  /** `"cache"` (expiring) or `"store"` (never-expiring). */
  kind: Keyspace;
  /** The namespace name (a plugin's name for plugin caches). */
  name: string;
  /** The earliest expiry among stored entries (ms since epoch), or `null`. */
  nextExpiry: number | null;
  /** When the oldest stored entry was written (ms since epoch), or `null`. */
  oldest: number | null;
}

function toInfo(u: NamespaceUsage): NamespaceInfo {
  return {
    kind: SPACE_NAMES[u.space],
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

// Set by SupCache's static block: createSupCache makes one without a public
// constructor that would show the internal ResolvedOptions.
let makeSupCache: (
  backend: Backend | AsyncBackend,
  options: ResolvedOptions,
) => SupCache;

/**
 * A persistent key-value cache on SQLite (or Redis), split into
 * namespaces. Make one with {@link createSupCache}; close it with
 * `close()` or `await using`.
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
   * `true` when the backend is asynchronous (Redis, or an `AsyncBackend`
   * passed as `driver`): every call waits for it, and namespaces have no
   * synchronous face (`ns.sync` throws).
   */
  readonly remote: boolean;
  readonly #backend: Backend | AsyncBackend;
  readonly #ctx: CacheContext;
  readonly #open = new Map<string, NamespaceCore>();
  #ticking = false;
  readonly #sweeper: Sweeper;
  readonly #sweepBatch: number;
  readonly #clock: Clock;
  #sweepCursor: SweepCursor | null = null;
  #attributionCursor: AttributionCursor | null = null;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  static {
    makeSupCache = (backend, options) => new SupCache(backend, options);
  }

  /** Use {@link createSupCache}, which checks the options and opens the backend first. */
  private constructor(
    backend: Backend | AsyncBackend,
    options: ResolvedOptions,
  ) {
    this.dataDir = options.dataDir;
    this.path = backend.path;
    this.limits = options.limits;
    const { maxBytes, maxKeys } = this.limits;
    this.#sweepBatch = options.sweepBatch;
    this.#clock = options.clock;
    this.#backend = backend;
    this.remote = isAsyncBackend(backend);
    this.#ctx = {
      backend,
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
      scheduleFlush: () => this.#scheduleFlush(),
    };
    const report = (err: unknown) => {
      // A tick still in flight when the cache closed has nothing to report.
      if (this.#closed) return;
      console.error(
        `sup-cache: background sweep of ${this.path} failed: ${
          (err as Error).message
        }`,
      );
    };
    this.#sweeper = new Sweeper(
      options.sweepIntervalMs,
      () => {
        // One tick at a time: a slow server must not pile ticks up.
        if (this.#ticking) return;
        this.#ticking = true;
        this.#run(this.#tick()).catch(report).finally(() =>
          this.#ticking = false
        );
      },
      report,
    );
  }

  /** Run `op` without waiting on SQLite, awaited on Redis (see run.ts). */
  #run<T>(op: Op<T>): Promise<T> {
    return this.remote ? runAsync(op) : settle(() => runSync(op));
  }

  // Deletes are counted in memory and shared with other processes when the
  // event loop next turns, so a burst of deletes costs one extra write.
  // A networked backend shares every change at once: nothing to schedule.
  #scheduleFlush(): void {
    if (this.remote || this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#closed) return;
      try {
        // Deletes only: a lease kept across event-loop turns saves a write
        // per turn for a process that inserts steadily.
        (this.#backend as Backend).flush(false);
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
    let core = this.#open.get(id);
    if (!core) {
      core = new NamespaceCore(this.#ctx, space, name);
      this.#open.set(id, core);
    }
    return namespaceOf(core);
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
    return this.#run(this.#namespaceInfo());
  }

  *#namespaceInfo(): Op<NamespaceInfo[]> {
    this.#ctx.assertOpen();
    yield* this.#flush();
    return (yield* wait(this.#backend.namespaces())).map(toInfo);
  }

  /**
   * Delete every expired entry now, in bounded steps (each one short write
   * transaction over at most `sweepBatch` deletions), yielding to the event
   * loop between steps; resolves to how many were deleted. `onProgress` is
   * told the running total after each step that deleted something.
   */
  purgeExpired(onProgress?: (deleted: number) => void): Promise<number> {
    // Always the async runner: it lets timers run between steps.
    return runAsync(this.#purgeExpired(onProgress));
  }

  *#purgeExpired(onProgress?: (deleted: number) => void): Op<number> {
    if (this.#closed) throw new ClosedError("this SupCache");
    const now = this.#clock.now();
    let total = 0;
    let after: SweepCursor | null = null;
    do {
      const step: PurgeStep<SweepCursor> = yield* wait(
        this.#backend.purgeExpired(now, this.#sweepBatch, after),
      );
      total += step.deleted;
      if (step.deleted > 0) onProgress?.(total);
      after = step.next;
      // Let timers and other work run between steps.
      if (after !== null && !this.remote) {
        yield* wait(new Promise((r) => setTimeout(r, 0)));
      }
      if (this.#closed) throw new ClosedError("this SupCache");
    } while (after !== null);
    return total;
  }

  /**
   * Delete every entry written for `sender` while a plugin handled their
   * message, and every entry whose key has `sender` as a whole
   * `:`-separated segment, in every namespace of both keyspaces (one
   * atomic batch per namespace). Resolves to what was deleted per namespace
   * and which rule matched; `{ dryRun: true }` only lists. Writes made
   * outside a message (by the host itself) are attributed to no one. Runs
   * on any backend that records attributions (SQLite and Redis; see
   * docs/storage.md).
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
    return this.#run(this.#forget(sender, options));
  }

  *#forget(
    sender: string,
    options: { dryRun?: boolean },
  ): Op<ForgetReport[]> {
    if (this.#closed) throw new ClosedError("this SupCache");
    checkOptions(options, ["dryRun"], "forget");
    const dryRun = options.dryRun === true;
    const reports = yield* forgetSender(
      this.#backend,
      sender,
      dryRun,
      this.#clock.now(),
    );
    if (!dryRun) yield* wait(this.#backend.flush());
    return reports;
  }

  *#flush(): Op<void> {
    const open = [...this.#open.values()];
    yield* all(open.map((ns) => ns.flushCounters()), this.remote);
    yield* wait(this.#backend.flush());
  }

  // One bounded step per tick, continuing where the last one stopped, so a
  // full pass over n rows takes n / (20 * sweepBatch) ticks: counters out,
  // one purge step, a batch of who-wrote-what rows of entries that are gone
  // (see forget.ts), and, on a networked backend, fresh usage for the
  // synchronous stats() of the namespaces this process uses.
  *#tick(): Op<void> {
    if (this.#closed) return;
    yield* this.#flush();
    const backend = this.#backend;
    const step = yield* wait(
      backend.purgeExpired(
        this.#clock.now(),
        this.#sweepBatch,
        this.#sweepCursor,
      ),
    );
    this.#sweepCursor = step.next;
    if (backend.pruneAttributions !== undefined) {
      this.#attributionCursor = yield* wait(
        backend.pruneAttributions(this.#attributionCursor, this.#sweepBatch),
      );
    }
    if (backend.knownUsage !== undefined) {
      const open = [...this.#open.values()];
      yield* all(open.map((ns) => ns.refreshStats()), this.remote);
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
    return this.#run(this.#close());
  }

  *#close(): Op<void> {
    if (this.#closed) return;
    this.#sweeper.stop();
    clearTimeout(this.#flushTimer);
    try {
      yield* this.#flush();
    } finally {
      this.#closed = true;
      yield* wait(this.#backend.close());
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
      return makeSupCache(remote, resolved);
    } catch (err) {
      await remote.close();
      throw err;
    }
  }
  // Before anything touches the disk: an old node:sqlite fails every read.
  if (driver === "node:sqlite") checkDenoVersion();
  let backend: Backend | AsyncBackend;
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
    return makeSupCache(backend, resolved);
  } catch (err) {
    await backend.close();
    throw err;
  }
}
