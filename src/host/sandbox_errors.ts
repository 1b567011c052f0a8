/**
 * The error the sandbox's module rewrite throws; the loader turns it into a
 * `PluginLoadError` naming the plugin.
 *
 * @module
 */

/**
 * A module the sandbox cannot rewrite or refuses to run.
 *
 * @example
 * ```ts
 * import { InstrumentError } from "./sandbox_errors.ts";
 * console.log(new InstrumentError("shared memory is refused").message);
 * ```
 */
export class InstrumentError extends Error {}
