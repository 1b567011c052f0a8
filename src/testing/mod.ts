/**
 * A test kit for code that uses sup-cache and for plugin authors: a clock
 * you advance by hand ({@link TestClock}), an in-memory cache wired to it
 * ({@link createTestCache}), a plugin you talk to as a given sender
 * ({@link loadTestPlugin}), and snapshot/restore of a namespace
 * ({@link snapshot}, {@link restore}).
 *
 * @example
 * ```ts
 * import { createTestCache } from "@sup/cache/testing";
 * await using t = await createTestCache();
 * const ns = t.cache.namespace("session");
 * await ns.set("token", "abc", { ttl: 60_000 });
 * t.clock.advance(59_999);
 * console.log(await ns.has("token")); // true
 * t.clock.advance(1);
 * console.log(await ns.has("token")); // false
 * ```
 *
 * @module
 */
export { TEST_EPOCH, TestClock } from "./clock.ts";
export {
  createTestCache,
  type TestCache,
  type TestCacheOptions,
} from "./cache.ts";
export { loadTestPlugin, type TestPlugin, type TestSender } from "./plugin.ts";
export {
  type NamespaceSnapshot,
  restore,
  snapshot,
  type SnapshotEntry,
} from "./snapshot.ts";
// Everything of `@sup/cache` too: the helpers take and return its types,
// and a test then needs one import.
export * from "../../mod.ts";
