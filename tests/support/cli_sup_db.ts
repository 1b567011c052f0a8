/**
 * Builds a sup database the way sup's kv package (github.com/rubiojr/kv,
 * driver/sqlite with modernc.org/sqlite) does: its CREATE TABLE, its upsert,
 * values bound as BLOB, and times bound as Go `time.Time` values, which
 * that driver writes as `time.Time.String()` text. sup prefixes every key
 * with `plugin:` (cache.Namespace / store.Namespace), sets cache expiry to
 * `time.Now().Add(ttl)` (local time, with a monotonic reading) and store
 * expiry to NULL.
 */
import { DatabaseSync } from "node:sqlite";

/** kv's table, verbatim in shape (driver/sqlite Init with TABLE_NAME). */
export const KV_TABLE = `
CREATE TABLE IF NOT EXISTS key_values(
  'key' varchar(255) NOT NULL,
  'value' blob NOT NULL,
  'created_at' datetime NOT NULL,
  'updated_at' datetime NOT NULL,
  'expires_at' datetime DEFAULT NULL,
  PRIMARY KEY ('key')
);`;

/** kv's MSet statement for one row. */
const KV_UPSERT =
  "INSERT INTO key_values (`key`, value, created_at, updated_at, expires_at) VALUES (?,?,?,?,?) ON CONFLICT(`key`) DO UPDATE SET updated_at=excluded.updated_at,value=excluded.value,expires_at=excluded.expires_at";

/**
 * Go's `time.Time.String()` for the instant `ms` in a zone `offsetMinutes`
 * east of UTC named `zone`, with nanoseconds `nanos` (0-999,999,999 within
 * the second; Go drops trailing zeros) and an optional monotonic suffix.
 */
export function goTimeString(
  ms: number,
  options: {
    offsetMinutes?: number;
    zone?: string;
    nanos?: number;
    mono?: string;
  } = {},
): string {
  const offset = options.offsetMinutes ?? 0;
  const local = new Date(ms + offset * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const nanos = options.nanos ?? (ms % 1000) * 1_000_000;
  const frac = nanos === 0 ? "" : "." + p(nanos, 9).replace(/0+$/, "");
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const zone = options.zone ??
    (offset === 0 ? "UTC" : `${sign}${p(abs / 60 | 0)}`);
  return `${local.getUTCFullYear()}-${p(local.getUTCMonth() + 1)}-${
    p(local.getUTCDate())
  } ${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${
    p(local.getUTCSeconds())
  }${frac} ${sign}${p(abs / 60 | 0)}${p(abs % 60)} ${zone}${
    options.mono ? ` m=${options.mono}` : ""
  }`;
}

/** One row as sup writes it. */
export interface SupRow {
  key: string;
  value: Uint8Array | string;
  /** Already formatted `expires_at`, or null (the store). */
  expiresAt: string | null;
}

/** Create `path` with kv's table and `rows`, written with kv's upsert. */
export function createSupDb(
  path: string,
  rows: SupRow[],
  options: { wal?: boolean } = {},
): void {
  const db = new DatabaseSync(path);
  try {
    if (options.wal) db.exec("PRAGMA journal_mode = WAL");
    db.exec(KV_TABLE);
    const now = goTimeString(Date.now()); // time.Now().UTC(): no monotonic part
    const upsert = db.prepare(KV_UPSERT);
    for (const row of rows) {
      const value = typeof row.value === "string"
        ? new TextEncoder().encode(row.value)
        : row.value;
      upsert.run(row.key, value, now, now, row.expiresAt);
    }
  } finally {
    db.close();
  }
}
