/**
 * The one source of "now" for a cache: expiry, the sweep, `increment`'s
 * window and the TTL range check all read it, so a test can move time
 * instead of sleeping.
 *
 * @module
 */

/**
 * Where a cache reads the time, in milliseconds since the epoch. Pass one as
 * `createSupCache({ clock })`; `@sup/cache/testing` has a clock you advance
 * by hand.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * let now = Date.UTC(2030, 0, 1);
 * await using cache = await createSupCache({
 *   path: ":memory:",
 *   clock: { now: () => now },
 * });
 * const ns = cache.namespace("demo");
 * await ns.set("k", "v", { ttl: 1_000 });
 * now += 1_000;
 * console.log(await ns.get("k")); // null
 * ```
 */
export interface Clock {
  /** The current time in milliseconds since the epoch (a whole number). */
  now(): number;
}

/**
 * The wall clock. `Date.now` itself as the method: reading the time costs
 * one property read and the native call, no closure of ours.
 */
export const systemClock: Clock = { now: Date.now };
