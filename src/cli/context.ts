/**
 * What every command gets: its parsed arguments, the output streams, and a
 * way to open the cache the `--data-dir` option (or the environment) names.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { createSupCache, type SupCache } from "../cache/cache.ts";
import { DB_FILE, defaultDataDir } from "../cache/options.ts";
import { DatabaseNotFoundError } from "../transfer/errors.ts";
import type { Values } from "./args.ts";
import { UsageError } from "./errors.ts";
import type { Output } from "./output.ts";
import type { Keyspace } from "../cache/types.ts";

/** The inputs of one command run. */
export interface Context {
  /** The command name as the user typed it (an alias stays an alias). */
  command: string;
  /** Positional arguments after the command. */
  args: string[];
  /** Option values. */
  values: Values;
  /** Where results and notes go. */
  out: Output;
}

/**
 * The variable the `sup` task sets to the directory `deno task` was run
 * from (its `$INIT_CWD`): `deno task` runs commands in the directory of
 * deno.json, so without it `deno task sup import ./backup.jsonl` would look
 * for the file next to deno.json.
 */
export const CWD_VARIABLE = "SUP_CACHE_CWD";

/**
 * The directory relative paths on the command line are relative to: the
 * one the user ran the command from. That is `$SUP_CACHE_CWD` when the
 * `sup` task set it (and `--allow-env` lets us read it), else the current
 * directory.
 *
 * @example
 * ```ts
 * import { userCwd } from "./context.ts";
 * console.log(typeof userCwd()); // "string"
 * ```
 */
export function userCwd(): string {
  const state = Deno.permissions.querySync({
    name: "env",
    variable: CWD_VARIABLE,
  }).state;
  if (state === "granted") {
    const dir = Deno.env.get(CWD_VARIABLE);
    if (dir) return dir;
  }
  return Deno.cwd();
}

/**
 * `path` (from the command line or the environment) made absolute against
 * {@link userCwd}; `-` (stdin or stdout) stays as it is.
 *
 * @example
 * ```ts
 * import { userPath } from "./context.ts";
 * console.log(userPath("/tmp/x"), userPath("-")); // "/tmp/x" "-"
 * ```
 */
export function userPath(path: string): string {
  return path === "-" ? path : resolve(userCwd(), path);
}

/** The variable that names a Redis server (or cluster) when `--redis` is not given. */
export const REDIS_VARIABLE = "SUP_CACHE_REDIS";

/**
 * The Redis URLs `--redis` (else `$SUP_CACHE_REDIS`, when `--allow-env`
 * lets us read it) names, split at commas; `null` for SQLite.
 */
export function redisOf(ctx: Context): string[] | null {
  let value = ctx.values.redis;
  if (value === undefined) {
    const state = Deno.permissions.querySync({
      name: "env",
      variable: REDIS_VARIABLE,
    }).state;
    if (state === "granted") value = Deno.env.get(REDIS_VARIABLE) || undefined;
  }
  if (value === undefined) return null;
  const urls = value.split(",").map((u) => u.trim()).filter((u) => u !== "");
  if (urls.length === 0) {
    throw new UsageError(
      "--redis needs a URL like redis://127.0.0.1:6379",
      ctx.command,
    );
  }
  return urls;
}

/** The data directory `--data-dir` (else the library's default) names, absolute. */
export function dataDirOf(ctx: Context): string {
  const dataDir = ctx.values["data-dir"] ?? defaultDataDir();
  if (dataDir === "") {
    throw new UsageError("--data-dir must not be empty", ctx.command);
  }
  return userPath(dataDir);
}

/** The database file of {@link dataDirOf}; a usage error with `--redis`. */
export function databaseOf(ctx: Context): string {
  if (redisOf(ctx) !== null) {
    throw new UsageError(
      `${ctx.command} works on the SQLite file; with Redis use its own persistence (AOF, BGSAVE) or sup-cache export / import`,
      ctx.command,
    );
  }
  return join(dataDirOf(ctx), DB_FILE);
}

/**
 * Open the cache in `--data-dir` (else the library's default directory).
 * With `create: false` a missing database is an error
 * ({@link DatabaseNotFoundError}, exit code 1) rather than a fresh empty
 * one, so a mistyped `--data-dir` is caught instead of reporting "no keys".
 */
export async function openCache(
  ctx: Context,
  { create }: { create: boolean },
): Promise<SupCache> {
  const redis = redisOf(ctx);
  if (redis !== null) {
    if (ctx.values["data-dir"] !== undefined) {
      throw new UsageError(
        "give --data-dir (SQLite) or --redis (Redis), not both",
        ctx.command,
      );
    }
    return await createSupCache({
      redis: redis.length === 1 ? { url: redis[0] } : { cluster: redis },
      sweepIntervalMs: 0,
    });
  }
  const dataDir = dataDirOf(ctx);
  if (!create && !exists(join(dataDir, DB_FILE))) {
    throw new DatabaseNotFoundError(
      join(dataDir, DB_FILE),
      "check --data-dir (default: $SUP_DATA_DIR, else $XDG_DATA_HOME/sup-cache, else ~/.local/share/sup-cache)",
    );
  }
  // A short-lived command has no use for the background sweep's timer;
  // `purge` does the same work on request.
  return await createSupCache({ dataDir, sweepIntervalMs: 0 });
}

// Only "not found" means absent; a permission error must surface as itself.
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** `--store` picks the never-expiring keyspace; default is the cache. */
export function kindOf(values: Values): Keyspace {
  return values.store ? "store" : "cache";
}
