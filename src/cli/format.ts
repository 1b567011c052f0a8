/**
 * How the command-line tool reads durations and shows numbers and times.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parse a `--ttl` value: a whole number with a unit (`500ms`, `30s`, `5m`,
 * `2h`, `1d`) into milliseconds, or `never` into `null`. A bare number is
 * refused rather than guessed at, because seconds and milliseconds are both
 * common readings of `--ttl 60`.
 *
 * @example
 * ```ts
 * import { parseTtl } from "./format.ts";
 * console.log(parseTtl("5m"), parseTtl("never")); // 300000 null
 * ```
 */
export function parseTtl(text: string): number | null {
  if (text === "never") return null;
  const match = /^([0-9]+)(ms|s|m|h|d)$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNITS[match[2]] : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new UsageError(
      `--ttl ${
        JSON.stringify(text)
      } is not a duration; give a positive whole number with a unit (500ms, 30s, 5m, 2h, 1d) or "never"`,
    );
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
 * A short relative duration: `59m 12s`, `3h 5m`, `2d 4h`, `800ms`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./format.ts";
 * console.log(formatDuration(3_552_000)); // "59m 12s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const parts: [number, string][] = [
    [Math.floor(ms / 86_400_000), "d"],
    [Math.floor(ms / 3_600_000) % 24, "h"],
    [Math.floor(ms / 60_000) % 60, "m"],
    [Math.floor(ms / 1_000) % 60, "s"],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts.slice(first, first + 2).filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`).join(" ");
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
