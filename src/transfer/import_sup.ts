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
 * Keys are read as the bytes sup stored. Go strings may hold any bytes, but
 * our keys are UTF-8 text: a key that is not valid UTF-8 is refused (and
 * counted in {@link SupImportReport.notUtf8}) rather than decoded with
 * replacement characters, which would make different sup keys collide.
 * Keys with NUL and expiry times that are not real dates are refused too.
 *
 * @module
 */
import { basename } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { SupCache } from "../cache/cache.ts";
import { InvalidInputError } from "../errors.ts";
import { InputFormatError } from "./errors.ts";
import { isExpiryInRange, MAX_TIME_MS } from "./time.ts";
import { type Entry, EntryWriter, type WriteOptions } from "./write.ts";
import type { Keyspace } from "../cache/types.ts";

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
  kind: Keyspace;
  /** Rows in sup's table. */
  total: number;
  /** Entries written. */
  moved: number;
  /** Entries written per namespace. */
  namespaces: Record<string, number>;
  /** Rows not moved, with reasons. */
  skipped: SupSkipped[];
  /** How many of the skipped rows had a key that is not valid UTF-8. */
  notUtf8: number;
}

/** How to import. */
export interface SupImportOptions extends WriteOptions {
  /** Which keyspace to fill; default from the file name (`cache.db` or `store.db`). */
  kind?: Keyspace;
  /** Told the running count of rows handled, and the total. */
  onProgress?: (done: number, total: number) => void;
}

// Go's time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST", plus
// " m=+1.000000001" when the time still carries a monotonic clock reading
// (sup's expiry is time.Now().Add(ttl), which does).
const GO_TIME =
  /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-])(\d{2})(\d{2})(?: [^\s]+)?(?: m=[+-]\d+(?:\.\d+)?)?$/;
// SQLite's own text form, which other kv writers and modernc's
// `_time_format=sqlite` produce; no zone means UTC, as in SQLite.
const SQL_TIME =
  /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/;

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
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s ?? "0"]
    .map(Number);
  // Date.UTC would roll 2025-02-30 over into March; a time sup wrote is
  // always a real one, so anything else is refused, not reinterpreted.
  if (
    month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
    hour > 23 || minute > 59 || second > 59
  ) return null;
  const offsetH = sign ? +oh! : 0;
  const offsetM = sign ? +om! : 0;
  if (offsetH > 23 || offsetM > 59) return null;
  const date = new Date(0);
  // setUTCFullYear, because Date.UTC reads years 0-99 as 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(
    hour,
    minute,
    second,
    Math.floor(+(frac ?? "0").padEnd(3, "0").slice(0, 3)),
  );
  const offset = (sign === "-" ? -1 : 1) * (offsetH * 60 + offsetM);
  const at = date.getTime() - offset * 60_000;
  // A real date, but beyond what a Date holds (Go's years go further).
  if (!Number.isFinite(at)) return year > 1970 ? Infinity : -Infinity;
  if (at > MAX_TIME_MS) return Infinity;
  return at;
}

function daysIn(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parse an `expires_at` as sup's kv stores it (Go's `time.Time.String()`,
 * or SQLite's `YYYY-MM-DD HH:MM:SS` text) into ms since the epoch, or
 * `null` when it is neither or names no real time (February 30th, hour
 * 24). A real time beyond what a JavaScript `Date` holds is `Infinity` (or
 * `-Infinity` in the far past).
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
  kind?: Keyspace,
): Keyspace {
  const resolved = kindOf(path, kind);
  openSup(path).close();
  return resolved;
}

/** The keyspace a sup file feeds, from its name, unless given. */
function kindOf(path: string, kind: Keyspace | undefined) {
  if (kind) return kind;
  const name = basename(path);
  if (name === "cache.db") return "cache";
  if (name === "store.db") return "store";
  throw new InvalidInputError(
    `cannot tell from the name ${
      JSON.stringify(name)
    } whether it is sup's cache or its store; pass kind "cache" or "store" (--kind on the command line)`,
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
 * import { createSupCache } from "@sup/cache";
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
      notUtf8: 0,
    };
    let done = 0;
    const writer = new EntryWriter<string>(
      cache,
      options,
      (_entry, reason, key) => {
        report.skipped.push({ key, reason });
        options.onProgress?.(++done, total);
      },
      (entry) => {
        report.moved++;
        report.namespaces[entry.namespace] =
          (report.namespaces[entry.namespace] ?? 0) + 1;
        options.onProgress?.(++done, total);
      },
    );
    // CAST: the key's stored bytes, not a decoding of them.
    const rows = db.prepare(
      "SELECT CAST(key AS BLOB) AS key, value, expires_at FROM key_values ORDER BY key",
    );
    for (const row of rows.iterate()) {
      const entry = toEntry(kind, row);
      if (typeof entry === "string") {
        const shown = row.key instanceof Uint8Array
          ? showKey(row.key)
          : String(row.key);
        if (entry === NOT_UTF8) report.notUtf8++;
        report.skipped.push({ key: shown, reason: entry });
        options.onProgress?.(++done, total);
      } else await writer.add(entry, label(entry));
    }
    await writer.flush();
    report.skipped.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    return report;
  } finally {
    db.close();
  }
}

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const NOT_UTF8 =
  "the key is not valid UTF-8; sup-cache keys are text, and decoding it with replacement characters could make it collide with another key";

function label(entry: Entry): string {
  return `${entry.namespace}:${entry.key}`;
}

/** A key for a report: as text when it is UTF-8, else with `\xNN` escapes. */
function showKey(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return [...bytes].map((b) =>
      b >= 0x20 && b < 0x7f && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, "0")}`
    ).join("");
  }
}

/** The entry a sup row becomes, or why it cannot move. */
function toEntry(
  kind: Keyspace,
  row: Record<string, unknown>,
): Entry | string {
  if (!(row.key instanceof Uint8Array)) return "the key is not text";
  let text: string;
  try {
    text = utf8.decode(row.key);
  } catch {
    return NOT_UTF8;
  }
  if (text.includes("\0")) {
    return "the key contains a NUL character, which sup-cache keys cannot hold";
  }
  const split = splitSupKey(text);
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
      } is not a real time as sup's kv writes it (Go time.Time.String() or YYYY-MM-DD HH:MM:SS)`;
    }
    if (expiresAt === -Infinity) {
      return `expired at ${row.expires_at}`;
    }
    if (expiresAt > 0 && !isExpiryInRange(expiresAt)) {
      // Infinity included: Go writes years past 275760, a Date stops there.
      return `expires_at ${
        JSON.stringify(row.expires_at)
      } is past the latest time a JavaScript Date holds (+275760-09-13)`;
    }
  }
  // kv binds values as BLOB; another writer may have left TEXT.
  const value = row.value instanceof Uint8Array
    ? row.value
    : typeof row.value === "string"
    ? encoder.encode(row.value)
    : null;
  if (value === null) return "the value is neither bytes nor text";
  return { kind, namespace: split.namespace, key: split.key, value, expiresAt };
}
