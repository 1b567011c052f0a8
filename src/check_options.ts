/**
 * One check for every options object the public API takes, so a misspelled
 * or foreign option (`expireIn`, Deno KV's name for `ttl`) is an error that
 * points to the right name instead of a silent default.
 *
 * @module
 */
import { InvalidInputError } from "./errors.ts";

/**
 * Names other APIs use for our options. Users bring them from Deno KV,
 * Redis clients and Extism's SDK; the edit distance alone would not find
 * them.
 */
const ALIASES: Readonly<Record<string, string>> = {
  expireIn: "ttl",
  expiresIn: "ttl",
  expire: "ttl",
  px: "ttl",
  ex: "ttl",
  timeout: "timeoutMs",
  dir: "dataDir",
  directory: "dataDir",
  file: "path",
  filename: "path",
  useWasi: "wasi",
  functions: "hostFunctions",
};

/** Levenshtein distance, small strings only (option names). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(
        prev[j] + 1,
        prev[j - 1] + 1,
        diag + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1),
      );
      diag = prev[j];
      prev[j] = next;
    }
  }
  return prev[b.length];
}

/** The known name closest to `name`, or `undefined` when none is close. */
function suggest(name: string, known: readonly string[]): string | undefined {
  const alias = ALIASES[name];
  if (alias !== undefined && known.includes(alias)) return alias;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/**
 * Throw {@link InvalidInputError} when `options` is not a plain object or
 * has a property not in `known`; the message names the closest known option.
 * `undefined` passes (no options given).
 *
 * @param options What the caller passed.
 * @param known Every option name the function takes.
 * @param where The call, for the message, e.g. `"createSupCache"`.
 *
 * @example
 * ```ts
 * import { checkOptions } from "./check_options.ts";
 * import { throws } from "node:assert/strict";
 * checkOptions({ ttl: 1000 }, ["ttl"], "set");
 * throws(
 *   () => checkOptions({ expireIn: 1000 }, ["ttl"], "set"),
 *   /unknown option "expireIn" for set\(\); did you mean "ttl"\?/,
 * );
 * ```
 */
export function checkOptions(
  options: unknown,
  known: readonly string[],
  where: string,
): void {
  if (options === undefined) return;
  if (
    options === null || typeof options !== "object" || Array.isArray(options)
  ) {
    throw new InvalidInputError(
      `options for ${where}() must be an object, got ${
        options === null
          ? "null"
          : Array.isArray(options)
          ? "an array"
          : typeof options
      }`,
    );
  }
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const hint = suggest(name, known);
    throw new InvalidInputError(
      `unknown option "${name}" for ${where}(); ${
        hint === undefined ? "" : `did you mean "${hint}"? `
      }known options: ${known.join(", ")}`,
    );
  }
}
