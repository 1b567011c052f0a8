/**
 * Export: every live entry of the chosen namespaces as JSON Lines, values in
 * base64 (so binary values survive) and expiry as an absolute time (so the
 * remaining TTL is kept across the move, not restarted).
 *
 * The format, one JSON object per line:
 *
 * ```text
 * {"format":"sup-cache-export","version":1,"exportedAt":1764085445000}
 * {"kind":"cache","namespace":"counter","key":"visits","value":"NDI=","expiresAt":1764089045000}
 * {"kind":"store","namespace":"settings","key":"lang","value":"ZW4=","expiresAt":null}
 * ```
 *
 * @module
 */
import type { SupCache } from "../cache/cache.ts";
import { NamespaceNotFoundError } from "./errors.ts";
import type { Keyspace } from "../cache/types.ts";

/** The `format` field of an export's first line. */
export const EXPORT_FORMAT = "sup-cache-export";
/** The export format version this build writes and reads. */
export const EXPORT_VERSION = 1;

/** One exported entry: one line of an export. */
export interface ExportLine {
  /** `"cache"` (expiring) or `"store"` (never-expiring) keyspace. */
  kind: Keyspace;
  /** The namespace (plugin name). */
  namespace: string;
  /** The key. */
  key: string;
  /** The value bytes in standard base64. */
  value: string;
  /** Expiry in ms since the epoch, or `null` for never. */
  expiresAt: number | null;
}

/** What to export. */
export interface ExportOptions {
  /** Only these namespace names (both kinds); default every namespace. */
  namespaces?: string[];
  /** Only this kind; default both. */
  kind?: Keyspace;
  /** Told the running count of exported entries. */
  onProgress?: (entries: number, total: number) => void;
}

/** What an export wrote. */
export interface ExportSummary {
  /** Entries written. */
  entries: number;
  /** Namespaces they came from. */
  namespaces: number;
}

const PAGE = 1_000;

/**
 * Write an export of `cache` line by line through `writeLine` (each line
 * without its newline). Entries that expire while the export runs are left
 * out, as a reader at that moment would not see them either.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { exportCache } from "./export.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * await cache.namespace("counter").set("visits", "42");
 * const lines: string[] = [];
 * await exportCache(cache, (line) => { lines.push(line); });
 * console.log(lines.length); // 2 (the header and one entry)
 * ```
 */
export async function exportCache(
  cache: SupCache,
  writeLine: (line: string) => void | Promise<void>,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  let spaces = await cache.namespaces();
  if (options.kind) spaces = spaces.filter((s) => s.kind === options.kind);
  if (options.namespaces) {
    const wanted = new Set(options.namespaces);
    const missing = [...wanted].filter((n) =>
      !spaces.some((s) => s.name === n)
    );
    if (missing.length > 0) {
      throw new NamespaceNotFoundError(missing, cache.path, options.kind);
    }
    spaces = spaces.filter((s) => wanted.has(s.name));
  }
  // Counts include expired rows not yet swept, so this is an upper bound
  // for the progress line, not a promise.
  const total = spaces.reduce((n, s) => n + s.keys, 0);
  await writeLine(JSON.stringify({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: Date.now(),
  }));
  let entries = 0;
  let namespaces = 0;
  for (const space of spaces) {
    const ns = space.kind === "store"
      ? cache.store(space.name)
      : cache.namespace(space.name);
    let wrote = false;
    // scan reads values with the keys and counts no hits.
    for await (const entry of ns.scan({ limit: PAGE })) {
      const line: ExportLine = {
        kind: space.kind,
        namespace: space.name,
        key: entry.key,
        value: entry.value.toBase64(),
        expiresAt: entry.expiresAt,
      };
      await writeLine(JSON.stringify(line));
      entries++;
      wrote = true;
      options.onProgress?.(entries, total);
    }
    if (wrote) namespaces++;
  }
  return { entries, namespaces };
}
