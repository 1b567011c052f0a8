/**
 * The oldest Deno sup-cache runs on, checked once when a cache opens.
 *
 * Deno 2.6.3 and older bind numbered SQL parameters (`?1`, `?2`) wrongly in
 * `node:sqlite`: every statement that uses them fails with "column index
 * out of range", which reads like a damaged database file. Deno 2.6.4 fixed
 * it (checked by running the same statements on both releases), and the
 * storage layer's SQL relies on numbered parameters, so 2.6.4 is the
 * minimum. `deno.json` states it as `"engines": { "deno": ">=2.6.4" }`.
 *
 * @module
 */
import { DriverUnavailableError } from "../errors.ts";

/**
 * The oldest supported Deno release.
 *
 * @example
 * ```ts
 * import { MIN_DENO_VERSION } from "./runtime.ts";
 * console.log(MIN_DENO_VERSION); // 2.6.4
 * ```
 */
export const MIN_DENO_VERSION = "2.6.4";

/**
 * `major.minor.patch` of a version string (pre-release and build suffixes
 * such as `-rc.1` or `+abc123` are ignored), or `null` when it is not one.
 *
 * @example
 * ```ts
 * import { parseVersion } from "./runtime.ts";
 * console.log(parseVersion("2.7.0+1a2b3c")); // [ 2, 7, 0 ]
 * console.log(parseVersion("nightly")); // null
 * ```
 */
export function parseVersion(version: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/**
 * Whether `version` is `minimum` or newer, comparing numbers (so 2.10.0 is
 * newer than 2.9.6). An unparseable version counts as new enough: the
 * check is there to explain a known failure, not to refuse the unknown.
 *
 * @example
 * ```ts
 * import { isAtLeast } from "./runtime.ts";
 * console.log(isAtLeast("2.10.0", "2.6.4")); // true
 * console.log(isAtLeast("2.6.3", "2.6.4")); // false
 * ```
 */
export function isAtLeast(version: string, minimum: string): boolean {
  const v = parseVersion(version);
  const m = parseVersion(minimum);
  if (v === null || m === null) return true;
  for (let i = 0; i < 3; i++) {
    if (v[i] !== m[i]) return v[i] > m[i];
  }
  return true;
}

/**
 * Throw a {@link DriverUnavailableError} when `node:sqlite` in this Deno is
 * too old for sup-cache's SQL. Outside Deno (no `Deno.version`) it does
 * nothing.
 *
 * @example
 * ```ts
 * import { checkDenoVersion } from "./runtime.ts";
 * checkDenoVersion(); // fine on any supported Deno
 * try {
 *   checkDenoVersion("2.6.3");
 * } catch (err) {
 *   console.log((err as Error).message.startsWith("sup-cache needs Deno 2.6.4")); // true
 * }
 * ```
 */
export function checkDenoVersion(
  version: string | undefined = globalThis.Deno?.version?.deno,
): void {
  if (version === undefined || isAtLeast(version, MIN_DENO_VERSION)) return;
  throw new DriverUnavailableError(
    "node:sqlite",
    `sup-cache needs Deno ${MIN_DENO_VERSION} or newer; this is Deno ${version}, whose node:sqlite binds numbered SQL parameters wrongly (every read would fail with "column index out of range"). Run \`deno upgrade\`.`,
  );
}
