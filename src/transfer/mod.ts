/**
 * Moving data in and out of a sup-cache, without the command-line tool:
 * export and import as JSON Lines, migration from a sup installation, and
 * whole-file backup and restore. The `sup-cache` CLI is a thin layer over
 * these functions.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { exportCache, importExport } from "./mod.ts";
 * await using from = await createSupCache({ path: ":memory:" });
 * await from.namespace("counter").set("visits", "41");
 * const lines: string[] = [];
 * await exportCache(from, (line) => { lines.push(line); });
 * await using to = await createSupCache({ path: ":memory:" });
 * const bytes = new TextEncoder().encode(lines.join("\n"));
 * const report = await importExport(to, "memory", () => [bytes]);
 * console.log(report.imported); // 1
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./export.ts";
export * from "./import.ts";
export * from "./import_sup.ts";
export * from "./backup.ts";
export { checkOutput, type OutputOptions, writeOutput } from "./output.ts";
export { type Entry, EntryWriter, EXISTS, type WriteOptions } from "./write.ts";
export { isExpiryInRange, MAX_TIME_MS } from "./time.ts";
export { type Line, splitLines } from "./lines.ts";
