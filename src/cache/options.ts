/**
 * Options of `createSupCache` and how their defaults are resolved.
 *
 * @module
 */
import { join } from "node:path";
import { InvalidInputError } from "../errors.ts";
import type { Backend } from "../storage/backend.ts";

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
}

/** Options of `createSupCache`. */
export interface SupCacheOptions {
  /**
   * Directory holding `cache.db` (created with mode 0700). Default:
   * `$SUP_DATA_DIR`, else `$XDG_DATA_HOME/sup`, else `~/.local/share/sup`.
   */
  dataDir?: string;
  /** An explicit database file, or `":memory:"`; overrides `dataDir`. */
  path?: string;
  /** Default time to live in ms for cache writes; `null` = never. Default 3,600,000 (1 hour). */
  ttl?: number | null;
  /** `"node:sqlite"` (default), `"ffi"` (`jsr:@db/sqlite`, needs `--allow-ffi`), or your own {@link Backend}. */
  driver?: "node:sqlite" | "ffi" | Backend;
  /** Key, value and per-namespace quota limits. */
  limits?: Limits;
  /** `"normal"` (default; WAL survives process crashes) or `"full"` (also survives power loss, slower writes). */
  durability?: "normal" | "full";
  /** How often the background sweep deletes expired rows, in ms. Default 60,000; `0` turns it off. */
  sweepIntervalMs?: number;
  /** Most expired rows one sweep tick deletes, so a tick never stalls the process. Default 500. */
  sweepBatch?: number;
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
}

/** The built-in defaults, documented on {@link Limits}. */
export const DEFAULT_LIMITS: ResolvedLimits = {
  maxKeyBytes: 2_048,
  maxValueBytes: 1_048_576,
  maxBytes: 256 * 1_048_576,
  maxKeys: 10_000_000,
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

/** Fill in default limits and reject nonsense ones. */
export function resolveLimits(limits: Limits = {}): ResolvedLimits {
  const pick = <K extends keyof ResolvedLimits>(k: K) =>
    limits[k] === undefined ? DEFAULT_LIMITS[k] : limits[k];
  const maxBytes = pick("maxBytes");
  const maxKeys = pick("maxKeys");
  return {
    maxKeyBytes: positiveInt("limits.maxKeyBytes", pick("maxKeyBytes")),
    maxValueBytes: positiveInt("limits.maxValueBytes", pick("maxValueBytes")),
    maxBytes: maxBytes === null
      ? null
      : positiveInt("limits.maxBytes", maxBytes),
    maxKeys: maxKeys === null ? null : positiveInt("limits.maxKeys", maxKeys),
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

/**
 * The default data directory: `$SUP_DATA_DIR`, else `$XDG_DATA_HOME/sup`,
 * else `~/.local/share/sup` (the XDG default, as sup uses).
 */
export function defaultDataDir(): string {
  const explicit = env("SUP_DATA_DIR");
  if (explicit) return explicit;
  const xdg = env("XDG_DATA_HOME");
  if (xdg) return join(xdg, "sup");
  const home = env("HOME");
  if (!home) {
    throw new InvalidInputError(
      "cannot find a data directory: none of $SUP_DATA_DIR, $XDG_DATA_HOME or $HOME is set; pass dataDir or path",
    );
  }
  return join(home, ".local", "share", "sup");
}

/** The database file inside a data directory. */
export const DB_FILE = "cache.db";
