/**
 * `createSupCache` and the {@link SupCache} it returns.
 *
 * @module
 */
import { join } from "node:path";
import {
  ClosedError,
  InvalidInputError,
  StorageError,
  SupCacheError,
} from "../errors.ts";
import type { Backend, Space } from "../storage/backend.ts";
import { openFfiSqlite } from "../storage/ffi_sqlite.ts";
import { openNodeSqlite } from "../storage/node_sqlite.ts";
import { checkDenoVersion } from "../storage/runtime.ts";
import { SqliteBackend, storageError } from "../storage/sqlite_backend.ts";
import { Namespace } from "./async_namespace.ts";
import {
  type CacheContext,
  checkNamespaceName,
  SyncNamespaceImpl,
} from "./namespace.ts";
import {
  DB_FILE,
  DEFAULT_TTL,
  defaultDataDir,
  type ResolvedLimits,
  resolveLimits,
  type SupCacheOptions,
} from "./options.ts";
import { settle } from "./settle.ts";
import { Sweeper } from "./sweeper.ts";
import { checkTtl } from "./validate.ts";

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
}

const KINDS = ["cache", "store"] as const;

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
  readonly #backend: Backend;
  readonly #ctx: CacheContext;
  readonly #open = new Map<string, SyncNamespaceImpl>();
  readonly #sweeper: Sweeper;
  readonly #sweepBatch: number;
  #closed = false;

  /** Use {@link createSupCache}, which opens the backend first. */
  constructor(
    backend: Backend,
    dataDir: string | null,
    options: SupCacheOptions,
  ) {
    this.#backend = backend;
    this.dataDir = dataDir;
    this.path = backend.path;
    this.limits = resolveLimits(options.limits);
    const { maxBytes, maxKeys } = this.limits;
    const ttl = options.ttl === undefined
      ? DEFAULT_TTL
      : checkTtl(options.ttl, "options.ttl");
    this.#ctx = {
      backend,
      limits: this.limits,
      quota: maxBytes === null && maxKeys === null ? null : {
        maxBytes: maxBytes ?? Number.MAX_SAFE_INTEGER,
        maxKeys: maxKeys ?? Number.MAX_SAFE_INTEGER,
      },
      ttl,
      assertOpen: () => {
        if (this.#closed) throw new ClosedError("this SupCache");
      },
    };
    this.#sweepBatch = options.sweepBatch ?? 500;
    const interval = options.sweepIntervalMs ?? 60_000;
    for (
      const [name, v] of [["sweepBatch", this.#sweepBatch], [
        "sweepIntervalMs",
        interval,
      ]] as const
    ) {
      if (!Number.isSafeInteger(v) || v < (name === "sweepBatch" ? 1 : 0)) {
        throw new InvalidInputError(
          `options.${name} must be a whole number${
            name === "sweepBatch"
              ? " of at least 1"
              : " (0 turns the sweep off)"
          }, got ${String(v)}`,
        );
      }
    }
    this.#sweeper = new Sweeper(interval, () => this.#tick(), (err) => {
      console.error(
        `sup-cache: background sweep of ${this.path} failed: ${
          (err as Error).message
        }`,
      );
    });
  }

  #namespace(space: Space, name: string): Namespace {
    this.#ctx.assertOpen();
    checkNamespaceName(name);
    const id = `${space}\u0000${name}`;
    let impl = this.#open.get(id);
    if (!impl) {
      impl = new SyncNamespaceImpl(this.#ctx, space, name);
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
    return settle(() => this.#namespaceInfo());
  }

  #namespaceInfo(): NamespaceInfo[] {
    this.#ctx.assertOpen();
    this.#flush();
    return this.#backend.namespaces().map((u) => ({
      kind: KINDS[u.space],
      name: u.ns,
      keys: u.keys,
      bytes: u.bytes,
      hits: u.hits,
      misses: u.misses,
      nextExpiry: u.nextExpiry,
      oldest: u.oldest,
    }));
  }

  /**
   * Delete every expired entry now, in bounded batches; resolves to how many
   * were deleted. `onProgress` is told the running total after each batch.
   */
  async purgeExpired(onProgress?: (deleted: number) => void): Promise<number> {
    this.#ctx.assertOpen();
    const now = Date.now();
    let total = 0;
    for (;;) {
      const n = this.#backend.purgeExpired(now, this.#sweepBatch);
      total += n;
      if (n > 0) onProgress?.(total);
      if (n < this.#sweepBatch) return total;
      // Let timers and other work run between batches.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  #flush(): void {
    for (const ns of this.#open.values()) ns.flushCounters();
  }

  #tick(): void {
    if (this.#closed) return;
    this.#flush();
    this.#backend.purgeExpired(Date.now(), this.#sweepBatch);
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
    return settle(() => this.#close());
  }

  #close(): void {
    if (this.#closed) return;
    this.#sweeper.stop();
    try {
      this.#flush();
    } finally {
      this.#closed = true;
      this.#backend.close();
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

/**
 * Open (or create) a sup-cache. With no options it uses `cache.db` in the
 * default data directory (`$SUP_DATA_DIR`, else `$XDG_DATA_HOME/sup`, else
 * `~/.local/share/sup`), which it creates with mode 0700.
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
  options: SupCacheOptions = {},
): Promise<SupCache> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidInputError(
      'options must be an object, e.g. { dataDir: "./data" }',
    );
  }
  // Before anything touches the disk: an old node:sqlite fails every read.
  if ((options.driver ?? "node:sqlite") === "node:sqlite") checkDenoVersion();
  let dataDir: string | null = null;
  let path: string;
  if (options.path !== undefined) {
    if (typeof options.path !== "string" || options.path === "") {
      throw new InvalidInputError(
        `options.path must be a file path or ":memory:", got ${
          JSON.stringify(options.path)
        }`,
      );
    }
    path = options.path;
  } else {
    dataDir = options.dataDir ?? defaultDataDir();
    if (typeof dataDir !== "string" || dataDir === "") {
      throw new InvalidInputError(
        `options.dataDir must be a directory path, got ${
          JSON.stringify(options.dataDir)
        }`,
      );
    }
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
  const durability = options.durability ?? "normal";
  if (durability !== "normal" && durability !== "full") {
    throw new InvalidInputError(
      `options.durability must be "normal" or "full", got ${
        JSON.stringify(durability)
      }`,
    );
  }
  const driver = options.driver ?? "node:sqlite";
  let backend: Backend;
  if (driver === "node:sqlite" || driver === "ffi") {
    let db;
    try {
      db = driver === "ffi" ? await openFfiSqlite(path) : openNodeSqlite(path);
    } catch (err) {
      if (err instanceof SupCacheError) throw err;
      throw storageError(path, err);
    }
    backend = new SqliteBackend(db, path, durability);
  } else if (
    typeof driver === "object" && driver !== null &&
    typeof driver.get === "function"
  ) {
    backend = driver;
  } else {
    throw new InvalidInputError(
      `options.driver must be "node:sqlite", "ffi" or a Backend object, got ${
        JSON.stringify(driver)
      }`,
    );
  }
  try {
    return new SupCache(backend, dataDir, options);
  } catch (err) {
    backend.close();
    throw err;
  }
}
