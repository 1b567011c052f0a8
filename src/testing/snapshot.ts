/**
 * Snapshot and restore one namespace, so a test can reset a plugin's state
 * between cases or start from a recorded one.
 *
 * @module
 */
import type { Namespace } from "../cache/async_namespace.ts";

/** One entry of a {@link NamespaceSnapshot}. */
export interface SnapshotEntry {
  /** The key. */
  key: string;
  /** A copy of the value bytes. */
  value: Uint8Array;
  /** Absolute expiry (ms since the epoch on the cache's clock), or `null`. */
  expiresAt: number | null;
}

/** The live entries of one namespace at one instant, in key order. */
export interface NamespaceSnapshot {
  /** The namespace it was taken from. */
  name: string;
  /** Its live entries. */
  entries: SnapshotEntry[];
}

/**
 * Copy every live entry of `ns` (values, absolute expiries). Expiries stay
 * absolute: restoring after the clock moved past one restores an entry
 * that is already expired, as it would have been.
 *
 * @example
 * ```ts
 * import { createTestCache, restore, snapshot } from "@sup/cache/testing";
 * await using t = await createTestCache();
 * const ns = t.cache.namespace("n");
 * await ns.set("a", "1");
 * const saved = await snapshot(ns);
 * await ns.set("a", "2");
 * await ns.set("b", "3");
 * await restore(ns, saved);
 * console.log((await ns.list()).keys); // [ "a" ]
 * ```
 */
export async function snapshot(ns: Namespace): Promise<NamespaceSnapshot> {
  const entries: SnapshotEntry[] = [];
  for await (const e of ns.scan({ limit: 1000 })) {
    entries.push({
      key: e.key,
      value: e.value.slice(),
      expiresAt: e.expiresAt,
    });
  }
  return { name: ns.name, entries };
}

/**
 * Make `ns` hold exactly the entries of `saved`, in one transaction: every
 * other key is deleted, every saved one written back with its expiry.
 * Versions are new (a restore is a write).
 */
export async function restore(
  ns: Namespace,
  saved: NamespaceSnapshot,
): Promise<void> {
  const op = ns.atomic();
  for await (const key of ns.list({ limit: 1000 })) op.delete(key);
  for (const e of saved.entries) {
    op.set(e.key, e.value, { expiresAt: e.expiresAt });
  }
  await op.commit();
}
