/**
 * The range of expiry times: what a JavaScript `Date` can hold, so every
 * stored expiry can be shown and compared.
 *
 * @module
 */

/**
 * The latest time a JavaScript `Date` holds: 8.64e15 ms after the epoch
 * (+275760-09-13T00:00:00.000Z).
 */
export const MAX_TIME_MS = 8_640_000_000_000_000;

/**
 * Whether `at` is a whole number of ms from the epoch up to
 * {@link MAX_TIME_MS}.
 *
 * @example
 * ```ts
 * import { isExpiryInRange } from "./time.ts";
 * console.log(isExpiryInRange(1_764_085_445_000), isExpiryInRange(9007199254740991)); // true false
 * ```
 */
export function isExpiryInRange(at: number): boolean {
  return Number.isSafeInteger(at) && at >= 0 && at <= MAX_TIME_MS;
}
