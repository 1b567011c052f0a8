/**
 * The SQLite backend: the {@link Backend} operations as prepared statements
 * over any {@link SqlDatabase} binding. Every write is one statement (or one
 * `BEGIN IMMEDIATE` transaction), so several processes can share one file.
 *
 * @module
 */
import { StorageError } from "../errors.ts";
import type {
  Backend,
  KeyedEntry,
  KeyRange,
  NamespaceUsage,
  Quota,
  Space,
  StoredEntry,
} from "./backend.ts";
import type { SqlDatabase, SqlRow, SqlStatement, SqlValue } from "./driver.ts";
import { connectionPragmas, migrate } from "./schema.ts";

/** SQLite's own words for the failures a user can act on. */
const KNOWN_FAILURES: [RegExp, string][] = [
  [/not a database/i, "is not an SQLite database (or is encrypted)"],
  [
    /malformed|corrupt/i,
    "is corrupt; restore it from a backup (the CLI's export/import) or move it aside",
  ],
  [
    /disk is full|database or disk is full/i,
    "cannot grow: the disk (or the database's size limit) is full; free space or purge expired entries",
  ],
  [
    /readonly|read-only/i,
    "is read-only; give the process write permission on the file and its directory",
  ],
  [
    /unable to open/i,
    "cannot be opened; check that its directory exists and is readable and writable",
  ],
  [/locked|busy/i, "stayed locked by another process past the busy timeout"],
];

/** Turn a SQLite error into a {@link StorageError} that names the file. */
export function storageError(path: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  const known = KNOWN_FAILURES.find(([re]) => re.test(detail));
  const what = known ? known[1] : "failed";
  return new StorageError(path, `${path} ${what} (SQLite: ${detail})`, {
    cause: err,
  });
}

/** The upsert without a quota; exported so the benchmark's raw baseline runs the same SQL. */
export const SET_UNLIMITED = `
INSERT INTO entries (space, ns, key, value, version, expires_at, size, written_at)
SELECT ?1, ?2, ?3, ?4, coalesce(n.seq, 0) + 1, ?5, ?6, ?7
FROM (SELECT 1) LEFT JOIN namespaces AS n ON n.space = ?1 AND n.ns = ?2
WHERE true
ON CONFLICT (space, ns, key) DO UPDATE SET
  value = excluded.value, version = excluded.version,
  expires_at = excluded.expires_at, size = excluded.size,
  written_at = excluded.written_at`;

// The quota is checked inside the insert, so no other process can slip a
// write between the check and the write.
const SET_WITH_QUOTA = `
INSERT INTO entries (space, ns, key, value, version, expires_at, size, written_at)
SELECT ?1, ?2, ?3, ?4, coalesce(n.seq, 0) + 1, ?5, ?6, ?7
FROM (SELECT 1) LEFT JOIN namespaces AS n ON n.space = ?1 AND n.ns = ?2
LEFT JOIN entries AS old ON old.space = ?1 AND old.ns = ?2 AND old.key = ?3
WHERE coalesce(n.bytes, 0) - coalesce(old.size, 0) + ?6 <= ?8
  AND coalesce(n.keys, 0) + (old.key IS NULL) <= ?9
ON CONFLICT (space, ns, key) DO UPDATE SET
  value = excluded.value, version = excluded.version,
  expires_at = excluded.expires_at, size = excluded.size,
  written_at = excluded.written_at`;

const LIVE = "(expires_at IS NULL OR expires_at > ?4)";

function usageOf(
  row: SqlRow | undefined,
  space: Space,
  ns: string,
): NamespaceUsage {
  return {
    space,
    ns,
    keys: Number(row?.keys ?? 0),
    bytes: Number(row?.bytes ?? 0),
    hits: Number(row?.hits ?? 0),
    misses: Number(row?.misses ?? 0),
    nextExpiry: row?.next_expiry == null ? null : Number(row.next_expiry),
    oldest: row?.oldest == null ? null : Number(row.oldest),
  };
}

function entryOf(row: SqlRow): StoredEntry {
  return {
    value: row.value as Uint8Array,
    version: Number(row.version),
    expiresAt: row.expires_at == null ? null : Number(row.expires_at),
    writtenAt: Number(row.written_at),
  };
}

/** {@link Backend} over SQLite. */
export class SqliteBackend implements Backend {
  readonly path: string;
  #db: SqlDatabase;
  #stmts = new Map<string, SqlStatement>();
  #inTransaction = false;

  /**
   * Wrap an open connection: set pragmas and create or check the schema.
   * Throws {@link StorageError} naming `path` when the file is unusable.
   */
  constructor(db: SqlDatabase, path: string, durability: "normal" | "full") {
    this.path = path;
    this.#db = db;
    try {
      db.exec(connectionPragmas(durability));
      migrate(db, path);
    } catch (err) {
      db.close();
      throw storageError(path, err);
    }
  }

  #stmt(sql: string): SqlStatement {
    let stmt = this.#stmts.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#stmts.set(sql, stmt);
    }
    return stmt;
  }

  #run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storageError(this.path, err);
    }
  }

  get(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): StoredEntry | undefined {
    const row = this.#run(() =>
      this.#stmt(
        `SELECT value, version, expires_at, written_at FROM entries
         WHERE space = ?1 AND ns = ?2 AND key = ?3 AND ${LIVE}`,
      ).get(space, ns, key, now)
    );
    return row ? entryOf(row) : undefined;
  }

  set(
    space: Space,
    ns: string,
    key: string,
    value: Uint8Array,
    expiresAt: number | null,
    size: number,
    now: number,
    quota: Quota | null,
  ): boolean {
    const params: SqlValue[] = [space, ns, key, value, expiresAt, size, now];
    return this.#run(() => {
      if (!quota) {
        this.#stmt(SET_UNLIMITED).run(...params);
        return true;
      }
      const { maxBytes, maxKeys } = quota;
      return this.#stmt(SET_WITH_QUOTA).run(...params, maxBytes, maxKeys) > 0;
    });
  }

  delete(space: Space, ns: string, key: string, now: number): boolean {
    return this.#run(() => {
      const row = this.#stmt(
        `DELETE FROM entries WHERE space = ?1 AND ns = ?2 AND key = ?3
         RETURNING ${LIVE} AS live`,
      ).get(space, ns, key, now);
      return row !== undefined && Number(row.live) === 1;
    });
  }

  #range(columns: string, r: KeyRange): SqlRow[] {
    const sql = `SELECT ${columns} FROM entries
      WHERE space = ?1 AND ns = ?2 AND key ${r.exclusive ? ">" : ">="} ?3
      AND ${LIVE}${r.before === null ? "" : " AND key < ?6"}
      ORDER BY key LIMIT ?5`;
    const params: SqlValue[] = [r.space, r.ns, r.from, r.now, r.limit];
    if (r.before !== null) params.push(r.before);
    return this.#run(() => this.#stmt(sql).all(...params));
  }

  list(range: KeyRange): string[] {
    return this.#range("key", range).map((row) => row.key as string);
  }

  scan(range: KeyRange): KeyedEntry[] {
    return this.#range("key, value, version, expires_at, written_at", range)
      .map((row) => ({ key: row.key as string, ...entryOf(row) }));
  }

  clear(space: Space, ns: string): number {
    return this.#run(() =>
      this.#stmt("DELETE FROM entries WHERE space = ?1 AND ns = ?2").run(
        space,
        ns,
      )
    );
  }

  usage(space: Space, ns: string): NamespaceUsage {
    const row = this.#run(() =>
      this.#stmt(
        `SELECT keys, bytes, hits, misses,
          (SELECT min(expires_at) FROM entries WHERE space = ?1 AND ns = ?2) AS next_expiry,
          (SELECT min(written_at) FROM entries WHERE space = ?1 AND ns = ?2) AS oldest
         FROM namespaces WHERE space = ?1 AND ns = ?2`,
      ).get(space, ns)
    );
    return usageOf(row, space, ns);
  }

  namespaces(): NamespaceUsage[] {
    const rows = this.#run(() =>
      this.#stmt(
        `SELECT n.space, n.ns, n.keys, n.bytes, n.hits, n.misses,
          (SELECT min(e.expires_at) FROM entries AS e
           WHERE e.space = n.space AND e.ns = n.ns) AS next_expiry,
          (SELECT min(e.written_at) FROM entries AS e
           WHERE e.space = n.space AND e.ns = n.ns) AS oldest
         FROM namespaces AS n ORDER BY n.ns, n.space`,
      ).all()
    );
    return rows.map((row) =>
      usageOf(row, Number(row.space) as Space, row.ns as string)
    );
  }

  addCounters(space: Space, ns: string, hits: number, misses: number): void {
    this.#run(() =>
      this.#stmt(
        `INSERT INTO namespaces (space, ns, hits, misses) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (space, ns) DO UPDATE SET
           hits = hits + excluded.hits, misses = misses + excluded.misses`,
      ).run(space, ns, hits, misses)
    );
  }

  purgeExpired(now: number, limit: number): number {
    return this.#run(() =>
      this.#stmt(
        `DELETE FROM entries WHERE (space, ns, key) IN (
           SELECT space, ns, key FROM entries
           WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)`,
      ).run(now, limit)
    );
  }

  purgeExpiredIn(space: Space, ns: string, now: number): number {
    return this.#run(() =>
      this.#stmt(
        `DELETE FROM entries
         WHERE space = ?1 AND ns = ?2 AND expires_at <= ?3`,
      ).run(space, ns, now)
    );
  }

  transaction<T>(fn: () => T): T {
    // Nested use (an increment inside a larger transaction) joins the outer one.
    if (this.#inTransaction) return fn();
    this.#run(() => this.#db.exec("BEGIN IMMEDIATE"));
    this.#inTransaction = true;
    try {
      const result = fn();
      this.#run(() => this.#db.exec("COMMIT"));
      return result;
    } catch (err) {
      try {
        this.#db.exec("ROLLBACK");
      } catch (rollbackErr) {
        // After some errors (SQLITE_FULL, SQLITE_IOERR) SQLite has already
        // rolled back by itself; only a rollback that really failed is news.
        if (!/no transaction is active/i.test(String(rollbackErr))) {
          throw storageError(this.path, rollbackErr);
        }
      }
      throw err;
    } finally {
      this.#inTransaction = false;
    }
  }

  close(): void {
    this.#run(() => this.#db.close());
  }
}
