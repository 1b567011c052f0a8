/**
 * An in-memory cache on a test clock.
 *
 * @module
 */
import { createSupCache, type SupCache } from "../cache/cache.ts";
import type { SupCacheOptions } from "../cache/options.ts";
import { TestClock } from "./clock.ts";

/** Options of {@link createTestCache}: those of `createSupCache`, minus where the data lives. */
export type TestCacheOptions =
  & Omit<
    SupCacheOptions,
    "path" | "dataDir" | "clock"
  >
  & {
    /** The clock to use; default a new {@link TestClock}. */
    clock?: TestClock;
  };

/** A cache and the clock it reads; `await using` closes the cache. */
export interface TestCache extends AsyncDisposable {
  /** The cache, in memory, with its background sweep off. */
  readonly cache: SupCache;
  /** Its clock: `clock.advance(ms)` moves time for every namespace. */
  readonly clock: TestClock;
}

/**
 * An in-memory cache whose time is a {@link TestClock}. The background
 * sweep is off (a timer would fire on real time); expired entries are never
 * returned anyway, and `cache.purgeExpired()` deletes them on the test
 * clock when a test wants to check the sweep.
 *
 * @example
 * ```ts
 * import { createTestCache } from "@sup/cache/testing";
 * await using t = await createTestCache({ ttl: 1_000 });
 * await t.cache.namespace("n").set("k", "v");
 * t.clock.advance(1_000);
 * console.log(await t.cache.purgeExpired()); // 1
 * ```
 */
export async function createTestCache(
  options: TestCacheOptions = {},
): Promise<TestCache> {
  const clock = options.clock ?? new TestClock();
  const cache = await createSupCache({
    sweepIntervalMs: 0,
    ...options,
    path: ":memory:",
    clock,
  });
  return {
    cache,
    clock,
    [Symbol.asyncDispose]: () => cache.close(),
  };
}
