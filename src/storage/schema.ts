/**
 * The on-disk schema and its version. The version lives in
 * `PRAGMA user_version` so any SQLite tool can read it; a file from a newer
 * sup-cache is refused rather than guessed at, and a file from 0.1.0
 * (schema 1), from before the insert trigger was dropped (schema 2), from
 * before the update trigger was dropped (schema 3) or from before the
 * write time was stored relative to the expiry (schema 4) is migrated in
 * one transaction.
 *
 * @module
 */
import { SchemaVersionError, StorageError } from "../errors.ts";
import type { SqlDatabase } from "./driver.ts";

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = 5;

/**
 * A version is `epoch << 12 | n`: each insert takes a fresh per-namespace
 * epoch (`namespaces.seq`), each overwrite adds one within it. Versions of a
 * key only grow, and a key deleted and written again gets a later epoch, so
 * an old version never comes back (no ABA for `atomic().check`), yet an
 * overwrite never has to write the namespace row.
 */
export const EPOCH_BITS = 12;

/** The last millisecond a JavaScript `Date` can hold; no stored expiry is later. */
const MAX_EXPIRY = 8_640_000_000_000_000;

/**
 * The write time of an entry from its `written_at` column. Schema 5 stores
 * a row written before its expiry as the (negative) time from its expiry
 * back to the write: with the default one-hour TTL that is -3,600,000, a
 * 4-byte integer where a timestamp takes 6. A row that never expires, or
 * was written at or after its expiry, keeps the timestamp (never negative).
 * The sign tells the two apart, so a timestamp written by a schema-4
 * process still running on an upgraded file is read right too.
 */
export const WRITTEN_AT =
  "(CASE WHEN written_at < 0 THEN expires_at + written_at ELSE written_at END)";

/**
 * What to store in `written_at` for a row written at `at` that expires at
 * `expires` (SQL expressions), the inverse of {@link WRITTEN_AT}.
 */
export function writtenFor(expires: string, at: string): string {
  return `(CASE WHEN ${expires} > ${at} THEN ${at} - ${expires} ELSE ${at} END)`;
}

// Why this shape (schema 5), measured against a minimal
// `PRIMARY KEY(ns, key) WITHOUT ROWID` table (docs/benchmarks.md):
// - No index on expires_at: with the default TTL every row expires, so such
//   an index costs a second random page per write. The sweep walks the
//   primary key instead (bounded rows per tick).
// - No `size` column: key bytes + length(value) is computed (length() of a
//   blob reads only its header).
// - expires_at sits before value, so reading it never pulls a large value's
//   overflow pages.
// - No triggers. SQLite runs a trigger's program for every row even when
//   its WHEN is false: the insert trigger (dropped in schema 3) cost bulk
//   loads about 12%, the update trigger (dropped in schema 4) cost every
//   overwrite about 13%. Every write counts its own usage (see
//   SqliteBackend): bulk writes and leased inserts fold usage in once, the
//   rare single insert counts itself in the same transaction, an overwrite
//   that changes a value's length takes the growth from the connection's
//   lease or counts it in a transaction, and shrinking and deletes are
//   folded in by the connection later (usage never reads too low).
// - The write time is stored relative to the expiry (WRITTEN_AT), two bytes
//   a row fewer than a timestamp; it is read only by eviction, `oldest`,
//   getEntry and scans, never by a get or a list.
const SCHEMA = `
CREATE TABLE entries (
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  expires_at INTEGER,
  version INTEGER NOT NULL,
  written_at INTEGER NOT NULL,
  value BLOB NOT NULL,
  accessed_at INTEGER,
  PRIMARY KEY (space, ns, key)
) WITHOUT ROWID;
CREATE TABLE namespaces (
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  keys INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0,
  gen INTEGER NOT NULL DEFAULT 0,
  hits INTEGER NOT NULL DEFAULT 0,
  misses INTEGER NOT NULL DEFAULT 0,
  evictions INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (space, ns)
) WITHOUT ROWID;
CREATE TABLE attributions (
  sender TEXT NOT NULL,
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  PRIMARY KEY (sender, space, ns, key)
) WITHOUT ROWID;
`;

// Schema 4 stored the write time as a timestamp (6 bytes a row); schema 5
// stores it as the negative time back from the expiry (4 bytes with TTLs
// under 24 days; see WRITTEN_AT), which brings a row within 1.2x the bytes
// of a minimal one (docs/benchmarks.md, "Schema 5"). A schema-4 process
// still running on an upgraded file keeps working: the timestamps it
// writes are read right; it reads the new rows' write times as negative
// (its eviction takes them for the oldest, its `oldest` is wrong), nothing
// else. Every row that expires is rewritten, under the write lock, once.
const MIGRATE_V4 = `
UPDATE entries SET written_at = written_at - expires_at
WHERE expires_at > written_at AND written_at >= 0;
`;

// Schema 3 counted byte changes of overwrites with this trigger; schema 4
// counts them in the write. An older process still running when its file
// is upgraded (it reads user_version only when it opens the file) would
// overwrite values without counting a change of length, so upgrade every
// process on a file together (docs/benchmarks.md, "Schema 4").
const MIGRATE_V3 = `DROP TRIGGER IF EXISTS entries_update;`;

// Schema 3 adds what eviction needs (see eviction in SqliteBackend): a read
// stamp, written only while a namespace is near its quota and at most once
// per key per few seconds, so it is NULL for most rows and costs nothing on
// the usual write; it sits after value because nothing hot reads it. And a
// persistent eviction counter per namespace. ADD COLUMN changes only the
// schema text, not a row, so the upgrade is instant at any size. And who an
// entry was written for (`forget`): a row per (sender, entry) written while
// a plugin handled that sender's message, with the entry's epoch (version
// >> EPOCH_BITS), so an entry deleted and created again by someone else is
// no longer theirs. Writes outside a message add nothing. Schema 2 also
// counted single inserts with a trigger; schema 3 counts them in the write.
// An older process still running when its file is upgraded (it reads
// user_version only when it opens the file) would insert new single keys
// uncounted, so upgrade every process on a file together.
const MIGRATE_V2 = `
DROP TRIGGER IF EXISTS entries_insert;
DROP TRIGGER IF EXISTS entries_update;
ALTER TABLE entries ADD COLUMN accessed_at INTEGER;
ALTER TABLE namespaces ADD COLUMN evictions INTEGER NOT NULL DEFAULT 0;
CREATE TABLE attributions (
  sender TEXT NOT NULL,
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  PRIMARY KEY (sender, space, ns, key)
) WITHOUT ROWID;
`;

// Schema 1 (0.1.0) kept a size column, an expiry index and three per-row
// triggers; versions were the namespace sequence. Shifting them by
// EPOCH_BITS keeps every key's versions growing across the upgrade.
const MIGRATE_V1 = `
DROP TRIGGER IF EXISTS entries_insert;
DROP TRIGGER IF EXISTS entries_update;
DROP TRIGGER IF EXISTS entries_delete;
DROP INDEX IF EXISTS entries_expiry;
ALTER TABLE entries RENAME TO entries_v1;
ALTER TABLE namespaces RENAME TO namespaces_v1;
${SCHEMA}
INSERT INTO namespaces (space, ns, seq, hits, misses)
  SELECT space, ns, seq, hits, misses FROM namespaces_v1;
INSERT INTO entries (space, ns, key, expires_at, version, written_at, value)
  SELECT space, ns, key, expires, version << 12,
    ${writtenFor("expires", "written_at")}, value
  FROM (SELECT space, ns, key, version, written_at, value,
    -- 0.1.0 stored any expiry a plugin asked for; one past what a JavaScript
    -- Date holds broke listing and export, so it becomes the latest valid one.
    CASE WHEN expires_at > ${MAX_EXPIRY} THEN ${MAX_EXPIRY}
      WHEN expires_at < 0 THEN 0 ELSE expires_at END AS expires
    FROM entries_v1) WHERE true
  ON CONFLICT DO NOTHING;
UPDATE namespaces SET
  keys = (SELECT count(*) FROM entries AS e
    WHERE e.space = namespaces.space AND e.ns = namespaces.ns),
  bytes = (SELECT coalesce(sum(length(CAST(e.key AS BLOB)) + length(e.value)), 0)
    FROM entries AS e WHERE e.space = namespaces.space AND e.ns = namespaces.ns),
  seq = max(seq, (SELECT coalesce(max(e.version >> 12), 0) FROM entries AS e
    WHERE e.space = namespaces.space AND e.ns = namespaces.ns));
DROP TABLE entries_v1;
DROP TABLE namespaces_v1;
`;

/** Pragmas every connection sets; shared with the benchmark's baseline. */
export function connectionPragmas(durability: "normal" | "full"): string {
  return `${BUSY_TIMEOUT}
${filePragmas(durability)}`;
}

// The busy timeout comes first: it makes a second writer wait instead of
// failing with SQLITE_BUSY. It only affects this connection, so it is safe
// to set before the file is known to be ours.
const BUSY_TIMEOUT = "PRAGMA busy_timeout = 10000;";

// WAL lets readers and one writer work at once across processes. Switching
// to WAL changes the file, so it runs only once the file is known to be ours.
function filePragmas(durability: "normal" | "full"): string {
  return `PRAGMA journal_mode = WAL;
PRAGMA synchronous = ${durability === "full" ? "FULL" : "NORMAL"};`;
}

function notOurs(path: string, why: string): StorageError {
  return new StorageError(
    path,
    `${path} is an SQLite database but not a sup-cache one (${why}); it was left untouched. Point sup-cache at its own file or data directory, or use the CLI's import-sup to copy a sup database`,
  );
}

/**
 * Check that `db` is empty or ours, without changing it: reads only the
 * schema table and `user_version`. Throws {@link StorageError} for another
 * program's database and {@link SchemaVersionError} for a newer sup-cache.
 */
export function checkOwnership(db: SqlDatabase, path: string): number {
  // One statement, so the version and the tables come from the same
  // snapshot even while another process is creating the schema.
  const row = db.prepare(
    `SELECT user_version AS version,
       (SELECT count(*) FROM sqlite_master
        WHERE type = 'table' AND name NOT LIKE 'sqlite_%') AS tables,
       (SELECT count(*) FROM sqlite_master
        WHERE type = 'table' AND name IN ('entries', 'namespaces')) AS ours
     FROM pragma_user_version`,
  ).get();
  const version = Number(row?.version ?? 0);
  const tables = Number(row?.tables ?? 0);
  const ours = Number(row?.ours ?? 0);
  if (version === 0) {
    if (tables > 0) {
      throw notOurs(path, "it has tables and no sup-cache schema version");
    }
    return 0;
  }
  if (ours < 2) {
    throw notOurs(
      path,
      `user_version is ${version} but it has no entries and namespaces tables`,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new SchemaVersionError(path, version, SCHEMA_VERSION);
  }
  return version;
}

/**
 * Open `db` as a sup-cache: refuse a foreign or newer file before changing
 * anything, then set the file pragmas and create or upgrade the schema.
 * Creation and upgrade run under the write lock, so two processes opening a
 * new file at once do not both create it.
 */
export function openSchema(
  db: SqlDatabase,
  path: string,
  durability: "normal" | "full",
): void {
  db.exec(BUSY_TIMEOUT);
  const found = checkOwnership(db, path);
  db.exec(filePragmas(durability));
  if (found === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Another process may have created or upgraded it meanwhile.
    const now = checkOwnership(db, path);
    if (now === 0) db.exec(SCHEMA);
    else if (now === 1) db.exec(MIGRATE_V1);
    else {
      // Each step takes the file one version further, all in this transaction.
      if (now === 2) db.exec(MIGRATE_V2);
      if (now === 3) db.exec(MIGRATE_V3);
      if (now <= 4) db.exec(MIGRATE_V4);
    }
    if (now !== SCHEMA_VERSION) {
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    }
    db.exec("COMMIT");
  } catch (err) {
    try {
      db.exec("ROLLBACK");
    } catch {
      // Already rolled back by SQLite (disk full, I/O error).
    }
    throw err;
  }
}
