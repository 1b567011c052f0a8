/**
 * The version `sup-cache --version` prints. A constant rather than a read
 * of deno.json, so the tool works when imported from JSR or by URL, where
 * there is no deno.json next to it; `tests/cli_cache_test.ts` keeps the two
 * equal.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(/^\d+\.\d+\.\d+/.test(VERSION)); // true
 * ```
 *
 * @module
 */

/** This release, as in deno.json's `version`. */
export const VERSION = "0.1.0";
