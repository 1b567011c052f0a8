/**
 * `import-sup`: move a sup installation's cache or store into sup-cache.
 *
 * sup keeps both in SQLite files made by `github.com/rubiojr/kv`: one table
 * `key_values (key, value BLOB, created_at, updated_at, expires_at)`, every
 * plugin's keys glued into one keyspace as `plugin:key`, and times written
 * by the `modernc.org/sqlite` driver as Go's `time.Time.String()` text, e.g.
 * `2025-11-25 16:44:05.123456789 +0100 CET m=+3600.000000001`. Each row
 * becomes an entry of namespace `plugin` with key `key` (split at the first
 * `:`), keeping its remaining TTL. Rows that cannot move are reported with
 * the reason, never dropped silently.
 *
 * @module
 */
import { basename } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { SupCache } from "../cache/cache.ts";
import { InputFormatError, UsageError } from "./errors.ts";
import { putEntry } from "./put_entry.ts";

/** A sup row that was not moved, and why. */
export interface SupSkipped {
  /** The key as sup stored it (`plugin:key`). */
  key: string;
  /** Why it was not moved. */
  reason: string;
}

/** What an `import-sup` did. */
export interface SupImportReport {
  /** The sup database read. */
  source: string;
  /** The keyspace written: `"cache"` or `"store"`. */
  kind: "cache" | "store";
  /** Rows in sup's table. */
  total: number;
  /** Entries written. */
  moved: number;
  /** Entries written per namespace. */
  namespaces: Record<string, number>;
  /** Rows not moved, with reasons. */
  skipped: SupSkipped[];
}

/** How to import. */
export interface SupImportOptions {
  /** Which keyspace to fill; default from the file name (`cache.db` or `store.db`). */
  kind?: "cache" | "store";
  /** Replace live entries with the same key (default: skip them). */
  overwrite?: boolean;
  /** Told the running count of rows handled, and the total. */
  onProgress?: (done: number, total: number) => void;
}

// Go's time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST", plus
// " m=+1.000000001" when the time still carries a monotonic clock reading
// (sup's expiry is time.Now().Add(ttl), which does).
const GO_TIME =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-])(\d{2})(\d{2})(?: [^\s]+)?(?: m=[+-]\d+(?:\.\d+)?)?$/;
// SQLite's own text form, which other kv writers and modernc's
// `_time_format=sqlite` produce; no zone means UTC, as in SQLite.
const SQL_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/;

function utc(
  y: string,
  mo: string,
  d: string,
  h: string,
  mi: string,
  s: string | undefined,
  frac: string | undefined,
  sign: string | undefined,
  oh: string | undefined,
  om: string | undefined,
): number | null {
  const ms = Date.UTC(
    +y,
    +mo - 1,
    +d,
    +h,
    +mi,
    +(s ?? 0),
    Math.floor(+(frac ?? "0").padEnd(3, "0").slice(0, 3)),
  );
  const offset = sign ? (sign === "-" ? -1 : 1) * (+oh! * 60 + +om!) : 0;
  const at = ms - offset * 60_000;
  return Number.isFinite(at) ? at : null;
}

/**
 * Parse an `expires_at` as sup's kv stores it (Go's `time.Time.String()`,
 * or SQLite's `YYYY-MM-DD HH:MM:SS` text) into ms since the epoch, or
 * `null` when it is neither.
 *
 * @example
 * ```ts
 * import { parseSupTime } from "./import_sup.ts";
 * const at = parseSupTime("2025-11-25 16:44:05.123456789 +0100 CET m=+3600.000000001");
 * console.log(new Date(at!).toISOString()); // "2025-11-25T15:44:05.123Z"
 * ```
 */
export function parseSupTime(text: string): number | null {
  let m = GO_TIME.exec(text);
  if (m) {
    return utc(m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10]);
  }
  m = SQL_TIME.exec(text);
  if (m) {
    return utc(m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[9], m[10], m[11]);
  }
  return null;
}

/**
 * Split a sup key into its plugin (our namespace) and the plugin's own key,
 * at the first `:` (plugin names are file names and have none in practice;
 * keys often do, like `user:123`). `null` when there is no prefix.
 *
 * @example
 * ```ts
 * import { splitSupKey } from "./import_sup.ts";
 * console.log(splitSupKey("counter:user:123")); // { namespace: "counter", key: "user:123" }
 * ```
 */
export function splitSupKey(
  key: string,
): { namespace: string; key: string } | null {
  const at = key.indexOf(":");
  if (at <= 0) return null;
  return { namespace: key.slice(0, at), key: key.slice(at + 1) };
}

/**
 * Check that `path` is a readable sup database and which keyspace it feeds,
 * before anything else is created, so a wrong path changes nothing.
 */
export function checkSupDatabase(
  path: string,
  kind?: "cache" | "store",
): "cache" | "store" {
  const resolved = kindOf(path, kind);
  openSup(path).close();
  return resolved;
}

/** The keyspace a sup file feeds, from its name, unless given. */
function kindOf(path: string, kind: "cache" | "store" | undefined) {
  if (kind) return kind;
  const name = basename(path);
  if (name === "cache.db") return "cache";
  if (name === "store.db") return "store";
  throw new UsageError(
    `cannot tell from the name ${
      JSON.stringify(name)
    } whether it is sup's cache or its store; pass --kind cache or --kind store`,
    "import-sup",
  );
}

function openSup(path: string): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    // Read-only: a migration must never change the installation it reads.
    // (On a WAL-mode file SQLite may still create its -wal and -shm side
    // files, which hold no changes and which sup reuses.)
    db = new DatabaseSync(path, { readOnly: true });
    const table = db.prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'key_values'",
    ).get();
    if (!table) {
      throw new InputFormatError(
        path,
        "has no key_values table, so it is not a sup cache.db or store.db; point import-sup at the files in sup's data directory (usually ~/.local/share/sup)",
      );
    }
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof InputFormatError) throw err;
    if (err instanceof Deno.errors.NotCapable) throw err;
    throw new InputFormatError(
      path,
      `cannot be read as an SQLite database (${
        (err as Error).message
      }); check the path and that it is sup's cache.db or store.db`,
      { cause: err },
    );
  }
}

/**
 * Move every row of a sup `cache.db` or `store.db` into `cache`, keeping
 * remaining TTLs. The sup file is opened read-only and left as it was.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { createSupCache } from "../../mod.ts";
 * import { importSup } from "./import_sup.ts";
 * const dir = await Deno.makeTempDir();
 * const sup = new DatabaseSync(`${dir}/store.db`);
 * sup.exec("CREATE TABLE key_values('key' varchar(255) NOT NULL, 'value' blob NOT NULL, 'created_at' datetime NOT NULL, 'updated_at' datetime NOT NULL, 'expires_at' datetime DEFAULT NULL, PRIMARY KEY ('key'))");
 * sup.prepare("INSERT INTO key_values VALUES (?, ?, '', '', NULL)").run("settings:lang", new TextEncoder().encode("en"));
 * sup.close();
 * await using cache = await createSupCache({ path: ":memory:" });
 * const report = await importSup(cache, `${dir}/store.db`);
 * console.log(report.kind, report.moved); // "store" 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function importSup(
  cache: SupCache,
  path: string,
  options: SupImportOptions = {},
): Promise<SupImportReport> {
  const kind = kindOf(path, options.kind);
  const db = openSup(path);
  try {
    const total = Number(
      db.prepare("SELECT count(*) AS n FROM key_values").get()?.n ?? 0,
    );
    const report: SupImportReport = {
      source: path,
      kind,
      total,
      moved: 0,
      namespaces: {},
      skipped: [],
    };
    const rows = db.prepare(
      "SELECT key, value, expires_at FROM key_values ORDER BY key",
    );
    let done = 0;
    for (const row of rows.iterate()) {
      const reason = await moveRow(cache, kind, row, options, report);
      if (reason !== null) {
        report.skipped.push({ key: String(row.key), reason });
      }
      options.onProgress?.(++done, total);
    }
    return report;
  } finally {
    db.close();
  }
}

const encoder = new TextEncoder();

async function moveRow(
  cache: SupCache,
  kind: "cache" | "store",
  row: Record<string, unknown>,
  options: SupImportOptions,
  report: SupImportReport,
): Promise<string | null> {
  if (typeof row.key !== "string") return "the key is not text";
  const split = splitSupKey(row.key);
  if (!split) {
    return "no plugin prefix: sup stores plugin keys as plugin:key, so this row belongs to no plugin";
  }
  if (split.key === "") return "the key after the plugin prefix is empty";
  let expiresAt: number | null = null;
  if (row.expires_at !== null) {
    expiresAt = typeof row.expires_at === "string"
      ? parseSupTime(row.expires_at)
      : null;
    if (expiresAt === null) {
      return `expires_at ${
        JSON.stringify(row.expires_at)
      } is not a time sup's kv writes (Go time.Time.String() or YYYY-MM-DD HH:MM:SS)`;
    }
  }
  // kv binds values as BLOB; another writer may have left TEXT.
  const value = row.value instanceof Uint8Array
    ? row.value
    : typeof row.value === "string"
    ? encoder.encode(row.value)
    : null;
  if (value === null) return "the value is neither bytes nor text";
  const reason = await putEntry(
    cache,
    { kind, namespace: split.namespace, key: split.key, value, expiresAt },
    options,
  );
  if (reason === null) {
    report.moved++;
    report.namespaces[split.namespace] =
      (report.namespaces[split.namespace] ?? 0) + 1;
  }
  return reason;
}
