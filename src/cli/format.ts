/**
 * How the command-line tool reads durations and shows numbers and times.
 *
 * @module
 */
import parseDuration from "npm:parse-duration@2.1.9";
import prettyMilliseconds from "npm:pretty-ms@10.0.0";
import { MAX_TIME_MS } from "../transfer/time.ts";
import { TtlRangeError, UsageError } from "./errors.ts";

// What --ttl accepts: numbers each with a unit, e.g. 90s, 1h30m, 1.5h, 2d 12h.
// parse-duration does the arithmetic but also reads bare numbers (as ms),
// months and trailing junk ("5m3x" is 5 minutes), so the shape is checked
// here first: a bare 60 could mean seconds or milliseconds, and a month has
// no fixed length.
const DURATION = /^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$/;

/**
 * Parse a `--ttl` value: numbers with units (`500ms`, `30s`, `5m`, `2h`,
 * `1d`, `1w`, combined as `1h30m`, or fractional as `1.5h`) into
 * milliseconds, or `never` into `null`. A bare number is refused rather than
 * guessed at, because seconds and milliseconds are both common readings of
 * `--ttl 60`. A TTL whose expiry would fall past what a JavaScript `Date`
 * holds throws {@link TtlRangeError} naming the range.
 *
 * @example
 * ```ts
 * import { parseTtl } from "./format.ts";
 * console.log(parseTtl("5m"), parseTtl("1h30m"), parseTtl("never")); // 300000 5400000 null
 * ```
 */
export function parseTtl(
  text: string,
  now: number = Date.now(),
): number | null {
  if (text === "never") return null;
  const ms = DURATION.test(text) ? parseDuration(text) : null;
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    throw new UsageError(
      `--ttl ${
        JSON.stringify(text)
      } is not a duration; give numbers with units (500ms, 30s, 5m, 2h, 1d, 1w, or combined: 1h30m) or "never"`,
    );
  }
  const max = MAX_TIME_MS - now;
  if (!Number.isInteger(ms) || ms < 1 || ms > max) {
    throw new TtlRangeError(text, ms, max);
  }
  return ms;
}

/** A count with thousands separators, as in the library's messages. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** `1 entry`, `2 entries`: a count and a noun in the right number. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/**
 * A short relative duration, two units at most: `59m 12s`, `3h 5m`,
 * `2d 4h`, `800ms` (by `pretty-ms`).
 *
 * @example
 * ```ts
 * import { formatDuration } from "./format.ts";
 * console.log(formatDuration(3_552_000)); // "59m 12s"
 * ```
 */
export function formatDuration(ms: number): string {
  return prettyMilliseconds(Math.max(0, Math.round(ms)), {
    unitCount: 2,
    secondsDecimalDigits: 0,
  });
}

/** A UTC time as tables show it, to the second. */
function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/**
 * A write time for a table: the UTC time and how long ago, e.g.
 * `2025-11-25 16:44:05Z (3m 2s ago)`.
 *
 * @example
 * ```ts
 * import { formatAge } from "./format.ts";
 * console.log(formatAge(0, 90_000)); // "1970-01-01 00:00:00Z (1m 30s ago)"
 * ```
 */
export function formatAge(writtenAt: number, now: number): string {
  return `${formatTime(writtenAt)} (${formatDuration(now - writtenAt)} ago)`;
}

/**
 * An expiry for a table: `never`, `expired`, or the UTC time with how long
 * is left, e.g. `2025-11-25 16:44:05Z (in 59m 12s)`.
 *
 * @example
 * ```ts
 * import { formatExpiry } from "./format.ts";
 * console.log(formatExpiry(null, 0)); // "never"
 * console.log(formatExpiry(90_000, 0)); // "1970-01-01 00:01:30Z (in 1m 30s)"
 * ```
 */
export function formatExpiry(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return "never";
  const at = formatTime(expiresAt);
  return expiresAt <= now
    ? `${at} (expired)`
    : `${at} (in ${formatDuration(expiresAt - now)})`;
}
