/**
 * What the crash child and the crash test agree on: the namespace, the
 * value each key must hold (so the parent can check it without being told),
 * and the line format of acknowledgements.
 *
 * @module
 */

/** Namespace the crash child writes to. */
export const CRASH_NS = "crash";

/** Counter key the child increments. */
export const COUNTER = "counter";

/**
 * The value stored under `key`: derived from the key alone, with a length
 * that varies from a few bytes to a few KiB so writes span pages.
 */
export function valueFor(key: string): string {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  }
  const repeat = (h >>> 0) % 300;
  return `${key}|${key.repeat(repeat)}`;
}

/**
 * The value of a key in an atomic batch: short, so hundreds of rounds of
 * 600-key batches stay far below the namespace quota (256 MiB).
 */
export function batchValueFor(key: string): string {
  return `${key}|${"a".repeat(key.length * 3)}`;
}

/** The keys of atomic batch `batch` of `round`, in the order written. */
export function batchKeys(
  round: number,
  batch: number,
  size: number,
): string[] {
  return Array.from(
    { length: size },
    (_, j) => `${batchPrefix(round, batch)}${j}`,
  );
}

/** Key prefix shared by one batch, for a literal-prefix list. */
export function batchPrefix(round: number, batch: number): string {
  return `r${round}-b${batch}-`;
}
