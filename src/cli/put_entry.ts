/**
 * Writing one imported entry, shared by `import` and `import-sup`: keep the
 * exact expiry, leave existing keys alone unless asked, and turn the
 * library's refusals of one entry into a skip with its reason so one bad
 * entry does not stop a migration.
 *
 * @module
 */
import type { SupCache } from "../cache/cache.ts";
import {
  InvalidInputError,
  LimitExceededError,
  QuotaExceededError,
} from "../errors.ts";

/** An entry to write. */
export interface Entry {
  /** `"cache"` or `"store"` keyspace. */
  kind: "cache" | "store";
  /** The namespace. */
  namespace: string;
  /** The key. */
  key: string;
  /** The value bytes. */
  value: Uint8Array;
  /** Absolute expiry in ms since the epoch, or `null` for never. */
  expiresAt: number | null;
}

/** How to write. */
export interface PutOptions {
  /** Replace a live entry with the same key; by default it is kept and the import skipped. */
  overwrite?: boolean;
  /** The time that decides whether an entry has already expired; default `Date.now()`. */
  now?: number;
}

/** `null` when written, or why it was skipped. */
export type PutResult = null | string;

/**
 * Write `entry` into `cache`, resolving to `null` when written or to the
 * reason it was skipped: already expired, already present, or refused by a
 * limit or quota. Any other failure (a broken database) throws.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { putEntry } from "./put_entry.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const entry = { kind: "cache" as const, namespace: "counter", key: "visits", value: new TextEncoder().encode("1"), expiresAt: Date.now() + 60_000 };
 * console.log(await putEntry(cache, entry)); // null
 * console.log(await putEntry(cache, entry)); // "exists (pass --overwrite to replace it)"
 * ```
 */
export async function putEntry(
  cache: SupCache,
  entry: Entry,
  options: PutOptions = {},
): Promise<PutResult> {
  const now = options.now ?? Date.now();
  if (entry.expiresAt !== null && entry.expiresAt <= now) {
    return `expired at ${new Date(entry.expiresAt).toISOString()}`;
  }
  try {
    const ns = entry.kind === "store"
      ? cache.store(entry.namespace)
      : cache.namespace(entry.namespace);
    const write = { expiresAt: entry.expiresAt };
    if (options.overwrite) {
      await ns.set(entry.key, entry.value, write);
      return null;
    }
    // check(key, null) makes "only if absent" one transaction, so a plugin
    // writing the same key meanwhile is never overwritten.
    const { ok } = await ns.atomic().check(entry.key, null)
      .set(entry.key, entry.value, write).commit();
    return ok ? null : "exists (pass --overwrite to replace it)";
  } catch (err) {
    if (
      err instanceof InvalidInputError || err instanceof LimitExceededError ||
      err instanceof QuotaExceededError
    ) {
      return err.message;
    }
    throw err;
  }
}
