/**
 * A clock that only moves when a test says so.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import type { Clock } from "../cache/clock.ts";

/** 2030-01-01T00:00:00Z: a fixed start, so test output does not depend on the day. */
export const TEST_EPOCH: number = Date.UTC(2030, 0, 1);

function wholeMs(what: string, ms: unknown): number {
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 0) {
    throw new InvalidInputError(
      `${what} must be a whole, non-negative number of milliseconds, got ${
        String(ms)
      }`,
    );
  }
  return ms;
}

/**
 * A {@link Clock} for tests: `now()` stays put until `advance(ms)` or
 * `set(ms)` moves it, so expiry, the sweep and `increment` windows can be
 * tested without sleeping. Time never goes backwards.
 *
 * @example
 * ```ts
 * import { TestClock } from "@sup/cache/testing";
 * const clock = new TestClock();
 * const start = clock.now();
 * clock.advance(1_500);
 * console.log(clock.now() - start); // 1500
 * ```
 */
export class TestClock implements Clock {
  #now: number;

  /** Start at `start` ms since the epoch (default {@link TEST_EPOCH}). */
  constructor(start: number = TEST_EPOCH) {
    this.#now = wholeMs("start", start);
  }

  /** The current test time, ms since the epoch. */
  now(): number {
    return this.#now;
  }

  /** Move forward by `ms` and return the new time. */
  advance(ms: number): number {
    this.#now += wholeMs("advance(ms)", ms);
    return this.#now;
  }

  /** Jump to `at` ms since the epoch (not before the current time). */
  set(at: number): number {
    wholeMs("set(at)", at);
    if (at < this.#now) {
      throw new InvalidInputError(
        `set(${at}) would move the clock back from ${this.#now}; a cache's clock never goes backwards`,
      );
    }
    this.#now = at;
    return at;
  }
}
