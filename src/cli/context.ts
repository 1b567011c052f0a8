/**
 * What every command gets: its parsed arguments, the output streams, and a
 * way to open the cache the `--data-dir` option (or the environment) names.
 *
 * @module
 */
import { join } from "node:path";
import { createSupCache, type SupCache } from "../cache/cache.ts";
import { DB_FILE, defaultDataDir } from "../cache/options.ts";
import type { Values } from "./args.ts";
import { UsageError } from "./errors.ts";
import type { Output } from "./output.ts";

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
 * Open the cache in `--data-dir` (else the library's default directory).
 * With `create: false` a missing database is an error rather than a fresh
 * empty one, so a mistyped `--data-dir` is caught instead of reporting
 * "no keys".
 */
export async function openCache(
  ctx: Context,
  { create }: { create: boolean },
): Promise<SupCache> {
  const dataDir = ctx.values["data-dir"] ?? defaultDataDir();
  if (dataDir === "") {
    throw new UsageError("--data-dir must not be empty", ctx.command);
  }
  if (!create && !exists(join(dataDir, DB_FILE))) {
    throw new UsageError(
      `there is no sup-cache database in ${dataDir} (no ${DB_FILE}); check --data-dir (default: $SUP_DATA_DIR, else $XDG_DATA_HOME/sup, else ~/.local/share/sup)`,
      ctx.command,
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
export function kindOf(values: Values): "cache" | "store" {
  return values.store ? "store" : "cache";
}
