/**
 * The on-disk schema and its version. The version lives in
 * `PRAGMA user_version` so any SQLite tool can read it; a file from a newer
 * sup-cache is refused rather than guessed at.
 *
 * @module
 */
import { SchemaVersionError, StorageError } from "../errors.ts";
import type { SqlDatabase } from "./driver.ts";

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = 1;

// `written_at` (ms since the epoch) lets operators see how old a
// namespace's data is. `size` (key bytes + value bytes) is stored so quota checks and usage
// triggers never read a value just to measure it. `version` comes from the
// namespace's `seq`, which survives deletes, so a re-created key never gets
// an old version back (no ABA for atomic checks). Usage is kept by triggers
// so a quota check is one indexed lookup instead of a COUNT over the table.
const SCHEMA_V1 = `
CREATE TABLE entries (
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  version INTEGER NOT NULL,
  expires_at INTEGER,
  size INTEGER NOT NULL,
  written_at INTEGER NOT NULL,
  PRIMARY KEY (space, ns, key)
) WITHOUT ROWID;
CREATE INDEX entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE namespaces (
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  keys INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0,
  hits INTEGER NOT NULL DEFAULT 0,
  misses INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (space, ns)
) WITHOUT ROWID;
CREATE TRIGGER entries_insert AFTER INSERT ON entries BEGIN
  INSERT INTO namespaces (space, ns, keys, bytes, seq)
  VALUES (NEW.space, NEW.ns, 1, NEW.size, NEW.version)
  ON CONFLICT (space, ns) DO UPDATE SET
    keys = keys + 1, bytes = bytes + excluded.bytes, seq = max(seq, excluded.seq);
END;
CREATE TRIGGER entries_update AFTER UPDATE ON entries BEGIN
  UPDATE namespaces SET bytes = bytes + NEW.size - OLD.size, seq = max(seq, NEW.version)
  WHERE space = NEW.space AND ns = NEW.ns;
END;
CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN
  UPDATE namespaces SET keys = keys - 1, bytes = bytes - OLD.size
  WHERE space = OLD.space AND ns = OLD.ns;
END;
`;

/** Pragmas every connection sets; shared with the benchmark's raw baseline. */
export function connectionPragmas(durability: "normal" | "full"): string {
  // The busy timeout comes first: it makes a second writer wait instead of
  // failing with SQLITE_BUSY, and switching a new file to WAL already takes
  // a lock that other processes opening it may hold. WAL lets readers and
  // one writer work at once across processes.
  return `PRAGMA busy_timeout = 10000;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = ${durability === "full" ? "FULL" : "NORMAL"};`;
}

/**
 * Create the schema in a fresh file, accept a current one, refuse a newer
 * one. Runs under the write lock so two processes opening a new file at once
 * do not both create it.
 */
export function migrate(db: SqlDatabase, path: string): void {
  const read = () =>
    Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
  const found = read();
  if (found > SCHEMA_VERSION) {
    throw new SchemaVersionError(path, found, SCHEMA_VERSION);
  }
  if (found === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    const now = read();
    if (now > SCHEMA_VERSION) {
      throw new SchemaVersionError(path, now, SCHEMA_VERSION);
    }
    if (now === 0) {
      const tables = db.prepare(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'",
      ).get();
      if (Number(tables?.n) > 0) {
        throw new StorageError(
          path,
          `${path} is an SQLite database but not a sup-cache one (it has tables and no schema version); point sup-cache at its own file, or use the CLI's import-sup to migrate a sup database`,
        );
      }
      db.exec(SCHEMA_V1);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
