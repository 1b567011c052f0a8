/**
 * Options of `createSupCache` and how their defaults are resolved.
 *
 * @module
 */
import { join } from "node:path";
import { checkOptions } from "../check_options.ts";
import { InvalidInputError } from "../errors.ts";
import type { AsyncBackend, Backend } from "../storage/backend.ts";
import {
  type RedisOptions,
  type ResolvedRedisOptions,
  resolveRedisOptions,
} from "../storage/redis/options.ts";
import { type Clock, systemClock } from "./clock.ts";
import { checkTtl } from "./validate.ts";

/** Size limits. Every field is optional; `null` means unlimited. */
export interface Limits {
  /** Largest key in UTF-8 bytes. Default 2,048. */
  maxKeyBytes?: number;
  /** Largest value in bytes. Default 1,048,576 (1 MiB). */
  maxValueBytes?: number;
  /** Most bytes (keys + values) one namespace may hold. Default 256 MiB; `null` = unlimited. */
  maxBytes?: number | null;
  /** Most entries one namespace may hold. Default 10,000,000; `null` = unlimited. */
  maxKeys?: number | null;
  /**
   * What a write that would pass `maxBytes` / `maxKeys` does in a cache
   * namespace: `"evict"` (default) deletes expired entries, then the least
   * recently used, in the write's own transaction; `"reject"` throws
   * `QuotaExceededError`. The store keyspace always rejects: it is data.
   */
  onQuota?: "reject" | "evict";
}

/** Options of `createSupCache`. */
export interface SupCacheOptions {
  /**
   * Directory holding `cache.db` (created with mode 0700). Default:
   * `$SUP_DATA_DIR`, else `$XDG_DATA_HOME/sup-cache`, else
   * `~/.local/share/sup-cache`.
   *
   * The default is a directory of its own on purpose: sup keeps its files
   * in `~/.local/share/sup` (`cache/cache.db`, `store/store.db`, plugins and
   * per-handler data), so sharing that directory would put our file next
   * to, or a mistyped path onto, a file another program owns. A file that
   * is an SQLite database but not a sup-cache one is refused before
   * anything (even the WAL switch) changes it.
   */
  dataDir?: string;
  /** An explicit database file, or `":memory:"`; give `dataDir` or `path`, not both. */
  path?: string;
  /** Default time to live in ms for cache writes; `null` = never. Default 3,600,000 (1 hour). */
  ttl?: number | null;
  /**
   * `"node:sqlite"` (default), `"ffi"` (`jsr:@db/sqlite`, needs
   * `--allow-ffi`), or your own {@link Backend} (synchronous) or
   * {@link AsyncBackend} (`async: true`, every result a Promise); see
   * docs/storage.md.
   */
  driver?: "node:sqlite" | "ffi" | Backend | AsyncBackend;
  /** Key, value and per-namespace quota limits. */
  limits?: Limits;
  /** `"normal"` (default; WAL survives process crashes) or `"full"` (also survives power loss, slower writes). */
  durability?: "normal" | "full";
  /**
   * Keep the data in Redis or Redis Cluster instead of SQLite, so several
   * processes on several machines share it: `{ url: "redis://host:6379/0" }`
   * or `{ cluster: ["redis://node1:7000", ...] }`. Replaces `dataDir`,
   * `path`, `driver` and `durability`. See docs/scale-out.md.
   */
  redis?: RedisOptions;
  /** How often the background sweep deletes expired rows, in ms. Default 60,000; `0` turns it off. */
  sweepIntervalMs?: number;
  /** Most expired rows one sweep tick deletes, so a tick never stalls the process. Default 500. */
  sweepBatch?: number;
  /**
   * Where the cache reads the time: expiry, the sweep, `increment`'s window
   * and the TTL range check all use it. Default: the wall clock. Tests pass
   * the clock of `@sup/cache/testing` and advance it instead of sleeping.
   */
  clock?: Clock;
}

/** Limits with every default filled in. */
export interface ResolvedLimits {
  /** Largest key in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value in bytes. */
  maxValueBytes: number;
  /** Per-namespace byte quota, or `null` for unlimited. */
  maxBytes: number | null;
  /** Per-namespace key quota, or `null` for unlimited. */
  maxKeys: number | null;
  /** What a cache namespace at its quota does. */
  onQuota: "reject" | "evict";
}

/** The built-in defaults, documented on {@link Limits}. */
export const DEFAULT_LIMITS: ResolvedLimits = {
  maxKeyBytes: 2_048,
  maxValueBytes: 1_048_576,
  maxBytes: 256 * 1_048_576,
  maxKeys: 10_000_000,
  onQuota: "evict",
};

/** One hour, as sup's cache. */
export const DEFAULT_TTL = 3_600_000;

function positiveInt(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidInputError(
      `${name} must be a positive whole number, got ${String(value)}`,
    );
  }
  return value;
}

/** The option names `createSupCache` takes. */
export const CACHE_OPTIONS = [
  "dataDir",
  "path",
  "ttl",
  "driver",
  "limits",
  "durability",
  "redis",
  "sweepIntervalMs",
  "sweepBatch",
  "clock",
] as const;

const LIMIT_OPTIONS = [
  "maxKeyBytes",
  "maxValueBytes",
  "maxBytes",
  "maxKeys",
  "onQuota",
] as const;

/** Fill in default limits and reject nonsense ones. */
export function resolveLimits(limits: Limits = {}): ResolvedLimits {
  checkOptions(limits, LIMIT_OPTIONS, "createSupCache limits");
  const pick = <K extends keyof ResolvedLimits>(k: K) =>
    limits[k] === undefined ? DEFAULT_LIMITS[k] : limits[k];
  const maxBytes = pick("maxBytes");
  const maxKeys = pick("maxKeys");
  const onQuota = pick("onQuota");
  if (onQuota !== "reject" && onQuota !== "evict") {
    throw new InvalidInputError(
      `limits.onQuota must be "evict" (make room by deleting the least recently used entries) or "reject" (throw QuotaExceededError), got ${
        JSON.stringify(onQuota)
      }`,
    );
  }
  return {
    maxKeyBytes: positiveInt("limits.maxKeyBytes", pick("maxKeyBytes")),
    maxValueBytes: positiveInt("limits.maxValueBytes", pick("maxValueBytes")),
    maxBytes: maxBytes === null
      ? null
      : positiveInt("limits.maxBytes", maxBytes),
    maxKeys: maxKeys === null ? null : positiveInt("limits.maxKeys", maxKeys),
    onQuota,
  };
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch (cause) {
    throw new InvalidInputError(
      `cannot read $${name} to find the data directory (${
        (cause as Error).message
      }); pass dataDir or path, or run with --allow-env=SUP_DATA_DIR,XDG_DATA_HOME,HOME`,
      { cause },
    );
  }
}

/** The default directory's name under `$XDG_DATA_HOME` or `~/.local/share`. */
export const DEFAULT_DIR_NAME = "sup-cache";

/**
 * The default data directory: `$SUP_DATA_DIR`, else
 * `$XDG_DATA_HOME/sup-cache`, else `~/.local/share/sup-cache`. Not sup's
 * own `~/.local/share/sup`: see {@link SupCacheOptions.dataDir}.
 */
export function defaultDataDir(): string {
  const explicit = env("SUP_DATA_DIR");
  if (explicit) return explicit;
  const xdg = env("XDG_DATA_HOME");
  if (xdg) return join(xdg, DEFAULT_DIR_NAME);
  const home = env("HOME");
  if (!home) {
    throw new InvalidInputError(
      "cannot find a data directory: none of $SUP_DATA_DIR, $XDG_DATA_HOME or $HOME is set; pass dataDir or path",
    );
  }
  return join(home, ".local", "share", DEFAULT_DIR_NAME);
}

/** The database file inside a data directory. */
export const DB_FILE = "cache.db";

/** Every option of `createSupCache`, checked, with defaults filled in. */
export interface ResolvedOptions {
  /** The data directory, or `null` when `path` was given. */
  dataDir: string | null;
  /** The database file, or `":memory:"` (set once `dataDir` is known). */
  path: string | null;
  /** Default TTL of cache writes, ms, or `null` for never. */
  ttl: number | null;
  /** The driver. */
  driver: "node:sqlite" | "ffi" | Backend | AsyncBackend;
  /** Limits with defaults. */
  limits: ResolvedLimits;
  /** WAL sync level. */
  durability: "normal" | "full";
  /** Redis instead of SQLite, checked; `null` for SQLite. */
  redis: ResolvedRedisOptions | null;
  /** Sweep period in ms (0 = off). */
  sweepIntervalMs: number;
  /** Rows per sweep step. */
  sweepBatch: number;
  /** The cache's source of time. */
  clock: Clock;
}

/**
 * Check every option of `createSupCache` (unknown names, types, ranges)
 * before anything touches the disk, so a bad option leaves no file behind.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  checkOptions(options, CACHE_OPTIONS, "createSupCache");
  const o = options as SupCacheOptions;
  if (o.path !== undefined && o.dataDir !== undefined) {
    throw new InvalidInputError(
      "give dataDir (a directory; the file is its cache.db) or path (the file itself), not both",
    );
  }
  if (o.path !== undefined && (typeof o.path !== "string" || o.path === "")) {
    throw new InvalidInputError(
      `options.path must be a file path or ":memory:", got ${
        JSON.stringify(o.path)
      }`,
    );
  }
  if (
    o.dataDir !== undefined &&
    (typeof o.dataDir !== "string" || o.dataDir === "")
  ) {
    throw new InvalidInputError(
      `options.dataDir must be a directory path, got ${
        JSON.stringify(o.dataDir)
      }`,
    );
  }
  const clock = o.clock === undefined ? systemClock : o.clock;
  if (
    typeof clock !== "object" || clock === null ||
    typeof (clock as Clock).now !== "function" ||
    !Number.isSafeInteger(clock.now())
  ) {
    throw new InvalidInputError(
      "options.clock must be an object whose now() returns whole milliseconds since the epoch, e.g. { now: () => Date.now() } or createTestClock() from @sup/cache/testing",
    );
  }
  const ttl = o.ttl === undefined
    ? DEFAULT_TTL
    : checkTtl(o.ttl, "options.ttl", clock.now());
  const durability = o.durability ?? "normal";
  if (durability !== "normal" && durability !== "full") {
    throw new InvalidInputError(
      `options.durability must be "normal" or "full", got ${
        JSON.stringify(durability)
      }`,
    );
  }
  const driver = o.driver ?? "node:sqlite";
  if (
    driver !== "node:sqlite" && driver !== "ffi" &&
    !(typeof driver === "object" && driver !== null &&
      typeof (driver as Backend).get === "function")
  ) {
    throw new InvalidInputError(
      `options.driver must be "node:sqlite", "ffi" or a Backend or AsyncBackend object, got ${
        JSON.stringify(driver)
      }`,
    );
  }
  const sweepBatch = o.sweepBatch ?? 500;
  if (!Number.isSafeInteger(sweepBatch) || sweepBatch < 1) {
    throw new InvalidInputError(
      `options.sweepBatch must be a whole number of at least 1, got ${
        String(sweepBatch)
      }`,
    );
  }
  const sweepIntervalMs = o.sweepIntervalMs ?? 60_000;
  if (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs < 0) {
    throw new InvalidInputError(
      `options.sweepIntervalMs must be a whole number (0 turns the sweep off), got ${
        String(sweepIntervalMs)
      }`,
    );
  }
  const limits = resolveLimits(o.limits);
  let redis: ResolvedRedisOptions | null = null;
  if (o.redis !== undefined) {
    const clash = (["dataDir", "path", "driver", "durability"] as const)
      .filter((name) => o[name] !== undefined);
    if (clash.length > 0) {
      throw new InvalidInputError(
        `options.redis keeps the data in Redis; it cannot be combined with ${
          clash.join(", ")
        } (SQLite options)`,
      );
    }
    redis = resolveRedisOptions(o.redis);
  }
  const dataDir = o.path !== undefined || redis !== null
    ? null
    : (o.dataDir ?? defaultDataDir());
  return {
    dataDir,
    path: o.path ?? null,
    ttl,
    driver,
    limits,
    durability,
    redis,
    sweepIntervalMs,
    sweepBatch,
    clock,
  };
}
