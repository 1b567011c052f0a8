/**
 * The SQLite backend: the {@link Backend} operations as prepared statements
 * over any {@link SqlDatabase} binding. Every write is one statement (or one
 * `BEGIN IMMEDIATE` transaction), so several processes can share one file.
 *
 * @module
 */
import { StorageError } from "../errors.ts";
import {
  type AttributionCursor,
  type Backend,
  type BatchWrite,
  type EvictionResult,
  type ForgetCandidate,
  type KeyedEntry,
  type KeyRange,
  type NamespaceUsage,
  type PurgeStep,
  type Quota,
  QuotaRefusal,
  type Space,
  type StoredEntry,
  type SweepCursor,
  type UsedValue,
} from "./backend.ts";
import type { SqlDatabase, SqlRow, SqlStatement, SqlValue } from "./driver.ts";
import type { ValuesStatement } from "./node_sqlite.ts";
import { EPOCH_BITS, openSchema, WRITTEN_AT, writtenFor } from "./schema.ts";

/** SQLite's own words for the failures a user can act on. */
const KNOWN_FAILURES: [RegExp, string][] = [
  [/not a database/i, "is not an SQLite database (or is encrypted)"],
  [
    /malformed|corrupt/i,
    "is corrupt; restore it from a backup (the CLI's export/import) or move it aside",
  ],
  [
    /disk is full|database or disk is full|SQLITE_FULL|no space left/i,
    "cannot grow: the disk is full (or the database reached its page limit); nothing of the failed write was stored. Free disk space, or purge expired entries",
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

const EPOCH = 2 ** EPOCH_BITS;
// `written_at` for a row that expires at ?5 and is written at ?6 (schema 5
// stores the write time relative to the expiry; see WRITTEN_AT).
const WRITTEN_5_6 = writtenFor("?5", "?6");
const LOW = EPOCH - 1;
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

// A single insert no lease covers (the namespace's first key, near the
// quota, inside a transaction): the quota is read by the insert itself,
// which takes the next epoch, and COUNT_INSERT counts it (and that epoch)
// in the same transaction. ?7 is the key's size in bytes.
const SET_INSERT = `
INSERT OR IGNORE INTO entries
  (space, ns, key, expires_at, version, written_at, value)
SELECT ?1, ?2, ?3, ?5, (coalesce(n.seq, 0) + 1) << ${EPOCH_BITS},
  ${WRITTEN_5_6}, ?4
FROM (SELECT 1) LEFT JOIN namespaces AS n ON n.space = ?1 AND n.ns = ?2
WHERE coalesce(n.keys, 0) + 1 <= ?9
  AND coalesce(n.bytes, 0) + ?7 + length(?4) <= ?8`;
const COUNT_INSERT = `
INSERT INTO namespaces (space, ns, keys, bytes, seq) VALUES (?1, ?2, 1, ?3, 1)
ON CONFLICT (space, ns) DO UPDATE SET
  keys = keys + 1, bytes = bytes + excluded.bytes, seq = seq + 1`;

// The common cache write overwrites a key that exists with a value of the
// same length: one UPDATE of one row, no namespace row read or written.
// A miss (no such key, another length, the last version of an epoch)
// falls through to #overwrite's other paths.
const OVERWRITE_SAME = `
UPDATE entries SET expires_at = ?5, version = version + 1,
  written_at = ${WRITTEN_5_6}, value = ?4
WHERE space = ?1 AND ns = ?2 AND key = ?3 AND length(value) = length(?4)
  AND (version & ${LOW}) <> ${LOW}`;
// What an overwrite that changes a value's length needs to count it.
const READ_OLD = `
SELECT length(value) AS len, version,
  (SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2) AS gen
FROM entries WHERE space = ?1 AND ns = ?2 AND key = ?3`;
// The row as READ_OLD saw it (its version), and, when ?8 is not NULL, the
// lease the growth is taken from still valid (no recount since: gen).
const OVERWRITE_AT = `
UPDATE entries SET expires_at = ?5, version = version + 1,
  written_at = ${WRITTEN_5_6}, value = ?4
WHERE space = ?1 AND ns = ?2 AND key = ?3 AND version = ?7
  AND (?8 IS NULL
    OR (SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2) = ?8)`;
// Under the write lock: any length, the quota read by the write itself,
// then ADJUST counts the change (and the new epoch, when the version ran
// out of its epoch's 4,095 overwrites).
const ADJUST = `
UPDATE namespaces SET bytes = bytes + ?3, seq = max(seq, ?4 >> ${EPOCH_BITS})
WHERE space = ?1 AND ns = ?2`;
const OVERWRITE = `
UPDATE entries SET
  expires_at = ?5,
  version = CASE WHEN (version & ${LOW}) <> ${LOW} THEN version + 1
    ELSE ((SELECT seq FROM namespaces WHERE space = ?1 AND ns = ?2) + 1)
      << ${EPOCH_BITS} END,
  written_at = ${WRITTEN_5_6}, value = ?4
WHERE space = ?1 AND ns = ?2 AND key = ?3
  AND (length(?4) <= length(value)
    OR (SELECT bytes FROM namespaces WHERE space = ?1 AND ns = ?2)
      - length(value) + length(?4) <= ?7)
RETURNING version`;

// Quota leases: a connection counts a block of keys, bytes and epochs as
// used in one write, then inserts new keys against it without writing the
// namespace row each time (one page per insert instead of two). The stored
// usage therefore never falls below what the rows use, so quotas stay safe
// across processes; unused lease is handed back on flush (the sweep tick,
// after deletes, close), and a recount (gen + 1) voids every lease, which
// the insert itself checks. Leases are only taken far from the quota.
const LEASE_KEYS = 64;
const LEASE_BYTES = 64 * 1024;
const TAKE_LEASE = `
UPDATE namespaces SET keys = keys + ?3, bytes = bytes + ?4, seq = seq + ?3
WHERE space = ?1 AND ns = ?2
  AND keys + 4 * ?3 <= ?5 AND bytes + 4 * ?4 <= ?6
RETURNING gen, seq`;
const LEASE_INSERT = `
INSERT OR IGNORE INTO entries
  (space, ns, key, expires_at, version, written_at, value)
SELECT ?1, ?2, ?3, ?5, ?7, ${WRITTEN_5_6}, ?4 FROM namespaces
WHERE space = ?1 AND ns = ?2 AND gen = ?8`;
const RETURN_LEASE = `
UPDATE namespaces SET keys = keys - ?3, bytes = bytes - ?4
WHERE space = ?1 AND ns = ?2 AND gen = ?5`;

// Bulk rows carry a version reserved up front (low bits 1), and usage is
// folded in once at the end (there are no triggers). Rows go in
// BULK_ROWS at a time through one multi-row INSERT OR IGNORE (one call and
// one statement step instead of BULK_ROWS); when fewer rows than that
// changed, each row's stored version tells whether it went in (its own,
// freshly reserved version) or met an existing key, which then gets a
// plain UPDATE. RETURNING would say the same per row but costs an
// ephemeral table per row (half the speed of a raw insert). 16 rows, not
// 32: raw SQL on this schema, 10,000 sorted rows in one transaction, took
// 13.6 ms at 8 or 16 rows per statement, 15.8 ms at 32, 20.9 ms at 64 and
// 24.9 ms one by one (docs/benchmarks.md, "Schema 5").
const BULK_ROWS = 16;
function bulkInsert(rows: number): string {
  const values = [];
  for (let i = 0; i < rows; i++) {
    const p = 4 + 4 * i;
    values.push(
      `(?1, ?2, ?${p}, ?${p + 1}, ?${p + 2}, ${
        writtenFor(`?${p + 1}`, "?3")
      }, ?${p + 3})`,
    );
  }
  return `INSERT OR IGNORE INTO entries
  (space, ns, key, expires_at, version, written_at, value)
VALUES ${values.join(", ")}`;
}
const BULK_INSERT_MANY = bulkInsert(BULK_ROWS);
const BULK_INSERT = bulkInsert(1);
const BULK_SEEN = `
SELECT version, length(value) AS len FROM entries
WHERE space = ?1 AND ns = ?2 AND key = ?3`;
const BULK_UPDATE = `
UPDATE entries SET
  expires_at = ?4,
  version = CASE WHEN (version & ${LOW}) < ${LOW - 1}
    THEN version + 1 ELSE ?5 + 1 END,
  written_at = ${writtenFor("?4", "?6")}, value = ?7
WHERE space = ?1 AND ns = ?2 AND key = ?3`;

// An import's "only if absent": a key whose row has expired is replaced
// (the caller counts a change of length); a live one is left alone.
const BULK_REPLACE_EXPIRED = `
UPDATE entries SET
  expires_at = ?4,
  version = CASE WHEN (version & ${LOW}) < ${LOW - 1}
    THEN version + 1 ELSE ?5 + 1 END,
  written_at = ${writtenFor("?4", "?6")}, value = ?7
WHERE space = ?1 AND ns = ?2 AND key = ?3
  AND expires_at IS NOT NULL AND expires_at <= ?6`;

// One statement instead of read-check-write: the old value is parsed and
// checked in SQL (canonical decimal, result within ±(2^53-1)); when a check
// fails nothing is written, nothing is returned, and the caller finds out
// why. A live counter keeps its expiry; a missing or expired one starts
// from `by` with the expiry given.
const LIVE_ROW = "(expires_at IS NULL OR expires_at > ?6)";
const OLD_INT = "CAST(CAST(value AS TEXT) AS INTEGER)";
const BY = "CAST(?4 AS INTEGER)";
const NEW_VALUE =
  `CASE WHEN ${LIVE_ROW} THEN CAST(CAST(${OLD_INT} + ${BY} AS TEXT) AS BLOB) ELSE excluded.value END`;
// The common increment: a live, valid counter whose length does not
// change, or, when ?7 is the generation of this connection's lease (no
// recount since), any length: the caller then takes the change (at most
// 17 bytes) out of the lease, or folds a shrink in later. A miss (missing,
// expired, not a number, overflow, the epoch's last version) falls
// through to INCREMENT, which counts what changed.
const INCREMENT_LIVE = `
UPDATE entries SET
  value = CAST(CAST(${OLD_INT} + ${BY} AS TEXT) AS BLOB),
  version = version + 1,
  written_at = ${writtenFor("expires_at", "?6")}
WHERE space = ?1 AND ns = ?2 AND key = ?3 AND ${LIVE_ROW}
  AND CAST(${OLD_INT} AS TEXT) = CAST(value AS TEXT)
  AND abs(${OLD_INT} + ${BY}) <= ${Number.MAX_SAFE_INTEGER}
  AND (length(CAST(${OLD_INT} + ${BY} AS TEXT)) = length(value)
    OR (SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2) = ?7)
  AND (version & ${LOW}) <> ${LOW}
RETURNING CAST(value AS TEXT) AS value`;

// The expiry an increment leaves: a live counter keeps its own.
const KEPT_EXPIRY =
  `(CASE WHEN ${LIVE_ROW} THEN expires_at ELSE excluded.expires_at END)`;
const INCREMENT = `
INSERT INTO entries (space, ns, key, expires_at, version, written_at, value)
SELECT ?1, ?2, ?3, ?5, (coalesce(n.seq, 0) + 1) << ${EPOCH_BITS},
  ${WRITTEN_5_6}, CAST(CAST(${BY} AS TEXT) AS BLOB)
FROM (SELECT 1) LEFT JOIN namespaces AS n ON n.space = ?1 AND n.ns = ?2
WHERE (coalesce(n.keys, 0) + 1 <= ?9
    AND coalesce(n.bytes, 0) + ?7 + length(CAST(${BY} AS TEXT)) <= ?8)
  OR EXISTS (SELECT 1 FROM entries WHERE space = ?1 AND ns = ?2 AND key = ?3)
ON CONFLICT (space, ns, key) DO UPDATE SET
  value = ${NEW_VALUE},
  expires_at = ${KEPT_EXPIRY},
  version = CASE WHEN (version & ${LOW}) <> ${LOW}
    THEN version + 1 ELSE excluded.version END,
  written_at = ${writtenFor(KEPT_EXPIRY, "?6")}
WHERE (NOT ${LIVE_ROW} OR (CAST(${OLD_INT} AS TEXT) = CAST(value AS TEXT)
    AND abs(${OLD_INT} + ${BY}) <= ${Number.MAX_SAFE_INTEGER}))
  AND (length(${NEW_VALUE}) <= length(value)
    OR (SELECT bytes FROM namespaces WHERE space = ?1 AND ns = ?2)
      - length(value) + length(${NEW_VALUE}) <= ?8)
RETURNING CAST(value AS TEXT) AS value, version`;

/** Lease bytes an increment needs: a counter has at most 17 characters. */
const LEASED_INCREMENT = 32;

const SIZE = "length(CAST(key AS BLOB)) + length(value)";
const LIVE = "(expires_at IS NULL OR expires_at > ?4)";
const GET_VALUE = `SELECT value FROM entries
  WHERE space = ?1 AND ns = ?2 AND key = ?3 AND ${LIVE}`;

// Deletes fold their usage change in later (see #pending); the namespace's
// `gen` tells whether a recount has since made that change part of the count.
const DELETE = `
DELETE FROM entries WHERE space = ?1 AND ns = ?2 AND key = ?3
RETURNING ${SIZE} AS size, ${LIVE} AS live,
  (SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2) AS gen`;

const FOLD = `
UPDATE namespaces SET keys = keys + ?3, bytes = bytes + ?4
WHERE space = ?1 AND ns = ?2 AND gen = ?5`;

const FOLD_CHECKED = `
UPDATE namespaces SET keys = keys + ?3, bytes = bytes + ?4
WHERE space = ?1 AND ns = ?2 AND keys + ?3 <= ?5 AND bytes + ?4 <= ?6`;

const RESERVE = `
INSERT INTO namespaces (space, ns, seq) VALUES (?1, ?2, ?3)
ON CONFLICT (space, ns) DO UPDATE SET seq = seq + excluded.seq
RETURNING seq`;

// Eviction (schema 3). An entry was last used at the later of its last
// write and its last recorded read; reads are recorded coarsely (see
// src/cache/eviction.ts). There is no index on it (one would cost a page on
// every write): eviction looks at a window of EVICT_WINDOW rows after a hand
// that moves round the namespace in key order (a CLOCK-style sweep) and
// deletes the expired rows there, then the least recently used, at most a
// quarter of the window, so whatever was used lately in the window stays.
// Redis approximates LRU the same way, from a sample of keys.
const USED = `max(${WRITTEN_AT}, coalesce(accessed_at, 0))`;
const GET_VALUE_USED = `SELECT value, ${USED} AS used FROM entries
  WHERE space = ?1 AND ns = ?2 AND key = ?3 AND ${LIVE}`;
const TOUCH = `UPDATE entries SET accessed_at = ?4
  WHERE space = ?1 AND ns = ?2 AND key = ?3
    AND (accessed_at IS NULL OR accessed_at < ?4)`;
const EVICT_WINDOW = 256;
/** Windows one eviction may look at before it gives up. */
const EVICT_MAX_WINDOWS = 64;

/** How many rows one purge step may look at, per row it may delete. */
const SCAN_FACTOR = 20;

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
    evictions: Number(row?.evictions ?? 0),
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

/** Usage this connection changed and has not yet written to the file. */
interface Pending {
  space: Space;
  ns: string;
  gen: number;
  keys: number;
  bytes: number;
}

/** Quota this connection counted as used and has not yet used. */
interface Lease {
  space: Space;
  ns: string;
  gen: number;
  keys: number;
  bytes: number;
  /** The next reserved epoch; `keys` of them are left. */
  epoch: number;
}

/** {@link Backend} over SQLite. */
export class SqliteBackend implements Backend {
  readonly path: string;
  #db: SqlDatabase;
  #stmts = new Map<string, SqlStatement>();
  #inTransaction = false;
  #pending = new Map<string, Pending>();
  #leases = new Map<string, Lease>();
  /** Namespaces whose last single write was an insert. */
  #inserting = new Set<string>();
  /** Namespaces whose last overwrite changed a value's length. */
  #resizing = new Set<string>();
  /** Inserts left before a namespace near its quota may try a lease again. */
  #nearQuota = new Map<string, number>();
  /** Where the next eviction window starts, per namespace. */
  #hands = new Map<string, string>();
  #lastNs = "";
  #lastSpace: Space | -1 = -1;
  #lastId = "";

  /**
   * Wrap an open connection: refuse a file that is not ours before
   * changing it, then set pragmas and create or upgrade the schema.
   * Throws {@link StorageError} naming `path` when the file is unusable.
   */
  constructor(db: SqlDatabase, path: string, durability: "normal" | "full") {
    this.path = path;
    this.#db = db;
    try {
      openSchema(db, path, durability);
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
      if (err instanceof QuotaRefusal) throw err;
      throw storageError(this.path, err);
    }
  }

  get(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): StoredEntry | undefined {
    try {
      const row = this.#stmt(
        `SELECT value, version, expires_at, ${WRITTEN_AT} AS written_at FROM entries
         WHERE space = ?1 AND ns = ?2 AND key = ?3 AND ${LIVE}`,
      ).get(space, ns, key, now);
      return row ? entryOf(row) : undefined;
    } catch (err) {
      throw storageError(this.path, err);
    }
  }

  getValue(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Uint8Array | undefined {
    // No closure on the hottest path, and the row as an array when the
    // binding offers it (an object with a named column costs ~0.6 µs more).
    try {
      const stmt = this.#stmt(GET_VALUE);
      if (stmt.row !== undefined) {
        const row = stmt.row(space, ns, key, now);
        return row === undefined ? undefined : row[0] as Uint8Array;
      }
      const row = stmt.get(space, ns, key, now);
      return row ? row.value as Uint8Array : undefined;
    } catch (err) {
      throw storageError(this.path, err);
    }
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
    const keySize = size - value.length;
    const maxBytes = quota?.maxBytes ?? NO_LIMIT;
    // A write that matches nothing still opens and closes a write
    // transaction, so try first what the last write here turned out to be:
    // streams of new keys and streams of overwrites each cost one statement.
    const id = this.#idOf(space, ns);
    // The common case first, with no closure: an overwrite of the same length.
    const same = !this.#inserting.has(id) && !this.#resizing.has(id);
    if (same) {
      try {
        if (
          this.#stmt(OVERWRITE_SAME).run(
            space,
            ns,
            key,
            value,
            expiresAt,
            now,
          ) > 0
        ) return true;
      } catch (err) {
        throw storageError(this.path, err);
      }
    }
    const overwrite = (trySame: boolean) =>
      this.#overwrite(
        space,
        ns,
        id,
        key,
        value,
        expiresAt,
        now,
        quota,
        trySame,
      );
    const insert = () =>
      this.#leasedInsert(space, ns, key, value, expiresAt, size, now, quota);
    return this.#run(() => {
      if (this.#inserting.has(id)) {
        if (insert()) return true;
        // Near the quota SET alone does it (insert or overwrite): trying an
        // overwrite first would cost a statement on every new key.
        if (!this.#nearQuota.has(id) && overwrite(true)) {
          this.#inserting.delete(id);
          return true;
        }
      } else {
        if (overwrite(!same)) return true;
        if (insert()) {
          this.#inserting.add(id);
          return true;
        }
      }
      // Insert-or-overwrite under one write lock: a key that appears or
      // vanishes meanwhile is still written exactly once, and counted.
      return this.transaction(() => {
        const inserted = this.#stmt(SET_INSERT).run(
          space,
          ns,
          key,
          value,
          expiresAt,
          now,
          keySize,
          maxBytes,
          quota?.maxKeys ?? NO_LIMIT,
        );
        if (inserted === 1) {
          this.#stmt(COUNT_INSERT).run(space, ns, size);
          return true;
        }
        return this.#overwriteCounted(
          space,
          ns,
          key,
          value,
          expiresAt,
          now,
          maxBytes,
        );
      });
    });
  }

  /**
   * Overwrite `key` if it is there, counting a change of the value's
   * length; `false` when there is no such key (or, in a transaction, the
   * quota refused the growth). Same length: one statement. Shorter: the
   * row as last read, and the bytes freed folded in later like a delete's
   * (usage reads high meanwhile, never low). Longer: the growth comes out
   * of this connection's lease (already counted as used), or is counted
   * under the write lock with the quota read by the write itself.
   */
  #overwrite(
    space: Space,
    ns: string,
    id: string,
    key: string,
    value: Uint8Array,
    expiresAt: number | null,
    now: number,
    quota: Quota | null,
    trySame: boolean,
  ): boolean {
    const maxBytes = quota?.maxBytes ?? NO_LIMIT;
    if (
      trySame && !this.#resizing.has(id) &&
      this.#stmt(OVERWRITE_SAME).run(space, ns, key, value, expiresAt, now) > 0
    ) return true;
    if (!this.#inTransaction) {
      // Another writer may change the row between the read and the write;
      // the write then matches nothing and the row is read again.
      for (let tries = 0; tries < 3; tries++) {
        const old = this.#stmt(READ_OLD).get(space, ns, key);
        if (old === undefined) return false;
        const version = Number(old.version);
        const delta = value.length - Number(old.len);
        if (delta === 0) this.#resizing.delete(id);
        else this.#resizing.add(id);
        if ((version & LOW) === LOW) break;
        let gen: number | null = null;
        if (delta > 0) {
          const lease = this.#leaseFor(space, ns, id, delta, quota);
          if (lease === undefined) break;
          if (lease.gen !== Number(old.gen)) {
            // A recount voided it.
            this.#leases.delete(id);
            break;
          }
          gen = lease.gen;
        }
        const changed = this.#stmt(OVERWRITE_AT).run(
          space,
          ns,
          key,
          value,
          expiresAt,
          now,
          version,
          gen,
        );
        if (changed === 0) continue;
        if (delta > 0) this.#leases.get(id)!.bytes -= delta;
        else if (delta < 0) {
          this.#addPending(space, ns, Number(old.gen ?? 0), 0, delta);
        }
        return true;
      }
    }
    return this.transaction(() =>
      this.#overwriteCounted(space, ns, key, value, expiresAt, now, maxBytes)
    );
  }

  /** An overwrite of any length under the write lock, counted exactly. */
  #overwriteCounted(
    space: Space,
    ns: string,
    key: string,
    value: Uint8Array,
    expiresAt: number | null,
    now: number,
    maxBytes: number,
  ): boolean {
    const old = this.#stmt(READ_OLD).get(space, ns, key);
    if (old === undefined) return false;
    const row = this.#stmt(OVERWRITE).get(
      space,
      ns,
      key,
      value,
      expiresAt,
      now,
      maxBytes,
    );
    if (row === undefined) return false;
    const delta = value.length - Number(old.len);
    const version = Number(row.version);
    if (delta !== 0 || (version & LOW) === 0) {
      this.#stmt(ADJUST).run(space, ns, delta, version);
    }
    return true;
  }

  /**
   * This connection's lease on `ns` with at least `bytes` left, taking a
   * new one when needed; `undefined` near the quota or in a transaction
   * (a lease taken in a transaction that rolls back would not exist).
   */
  #leaseFor(
    space: Space,
    ns: string,
    id: string,
    bytes: number,
    quota: Quota | null,
  ): Lease | undefined {
    if (this.#inTransaction || bytes > LEASE_BYTES / 4) return undefined;
    // A lease refused near the quota is not asked for again for a while:
    // each refusal is a write transaction that writes nothing.
    const wait = this.#nearQuota.get(id);
    if (wait !== undefined) {
      if (wait > 1) this.#nearQuota.set(id, wait - 1);
      else this.#nearQuota.delete(id);
      return undefined;
    }
    let lease = this.#leases.get(id);
    if (lease && lease.keys >= 1 && lease.bytes >= bytes) return lease;
    if (lease) this.#returnLease(lease);
    const row = this.#stmt(TAKE_LEASE).get(
      space,
      ns,
      LEASE_KEYS,
      LEASE_BYTES,
      quota?.maxKeys ?? NO_LIMIT,
      quota?.maxBytes ?? NO_LIMIT,
    );
    // No namespace row yet, or near the quota: count exactly instead.
    if (!row) {
      this.#nearQuota.set(id, LEASE_KEYS);
      return undefined;
    }
    lease = {
      space,
      ns,
      gen: Number(row.gen),
      keys: LEASE_KEYS,
      bytes: LEASE_BYTES,
      epoch: Number(row.seq) - LEASE_KEYS + 1,
    };
    this.#leases.set(id, lease);
    return lease;
  }

  /** Insert a new key against this connection's lease; `false` = use SET. */
  #leasedInsert(
    space: Space,
    ns: string,
    key: string,
    value: Uint8Array,
    expiresAt: number | null,
    size: number,
    now: number,
    quota: Quota | null,
  ): boolean {
    const id = `${space}\u0000${ns}`;
    const lease = this.#leaseFor(space, ns, id, size, quota);
    if (lease === undefined) return false;
    const inserted = this.#stmt(LEASE_INSERT).run(
      space,
      ns,
      key,
      value,
      expiresAt,
      now,
      lease.epoch * EPOCH + 1,
      lease.gen,
    );
    if (inserted === 1) {
      lease.epoch++;
      lease.keys--;
      lease.bytes -= size;
      return true;
    }
    // The key appeared meanwhile, or a recount voided the lease.
    const gen = this.#stmt(
      "SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2",
    ).get(space, ns);
    if (Number(gen?.gen) !== lease.gen) this.#leases.delete(id);
    return false;
  }

  #returnLease(lease: Lease): void {
    this.#leases.delete(`${lease.space}\u0000${lease.ns}`);
    if (lease.keys === 0 && lease.bytes === 0) return;
    this.#stmt(RETURN_LEASE).run(
      lease.space,
      lease.ns,
      lease.keys,
      lease.bytes,
      lease.gen,
    );
  }

  /**
   * Insert `rows` (sets, in key order) with versions `epoch`, `epoch + 1`,
   * ... (low bits 1), BULK_ROWS per statement; `met(row, reserved, len)`
   * is called, in order, for each row whose key was already there, with
   * the version reserved for the row and the length of the value stored.
   * Returns the keys and bytes the inserts added.
   */
  #insertRows(
    space: Space,
    ns: string,
    rows: readonly BatchWrite[],
    epoch: number,
    now: number,
    met: (row: BatchWrite, reserved: number, len: number, at: number) => void,
  ): { keys: number; bytes: number } {
    let keys = 0;
    let bytes = 0;
    const many = this.#stmt(BULK_INSERT_MANY);
    const one = this.#stmt(BULK_INSERT);
    const seen = this.#stmt(BULK_SEEN);
    const params: SqlValue[] = [space, ns, now];
    for (let at = 0; at < rows.length;) {
      const n = rows.length - at >= BULK_ROWS ? BULK_ROWS : 1;
      params.length = 3;
      let size = 0;
      for (let i = at; i < at + n; i++) {
        const w = rows[i];
        params.push(w.key, w.expiresAt, (epoch + i) * EPOCH + 1, w.value);
        size += w.size;
      }
      const changed = (n === 1 ? one : many).run(...params);
      if (changed === n) {
        keys += n;
        bytes += size;
      } else {
        // Some keys were there: the row holds our version only where the
        // insert went in (versions are reserved, so never seen before).
        for (let i = at; i < at + n; i++) {
          const w = rows[i];
          const row = seen.get(space, ns, w.key)!;
          const reserved = (epoch + i) * EPOCH + 1;
          if (Number(row.version) === reserved) {
            keys++;
            bytes += w.size;
          } else met(w, reserved, Number(row.len), i);
        }
      }
      at += n;
    }
    return { keys, bytes };
  }

  writeMany(
    space: Space,
    ns: string,
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
  ): void {
    this.transaction(() =>
      this.#run(() => {
        let sets = 0;
        for (const w of writes) if (w.value !== null) sets++;
        let epoch = 0;
        if (sets > 0) {
          const row = this.#stmt(RESERVE).get(space, ns, sets);
          epoch = Number(row!.seq) - sets + 1;
        }
        let keys = 0;
        let bytes = 0;
        const update = this.#stmt(BULK_UPDATE);
        const del = this.#stmt(DELETE);
        // Key order visits each B-tree page once instead of jumping around
        // (a stable sort keeps the order of writes to the same key).
        let sorted = true;
        for (let i = 1; sorted && i < writes.length; i++) {
          sorted = writes[i - 1].key < writes[i].key;
        }
        const ordered = sorted
          ? writes
          : [...writes].sort((a, b) =>
            a.key < b.key ? -1 : a.key > b.key ? 1 : 0
          );
        const met = (w: BatchWrite, reserved: number, len: number) => {
          update.run(space, ns, w.key, w.expiresAt, reserved, now, w.value);
          bytes += w.value!.length - len;
        };
        // Runs of sets between deletes go in together.
        let from = 0;
        const insertRun = (to: number) => {
          if (to > from) {
            const added = this.#insertRows(
              space,
              ns,
              ordered.slice(from, to),
              epoch,
              now,
              met,
            );
            epoch += to - from;
            keys += added.keys;
            bytes += added.bytes;
          }
        };
        for (let i = 0; i < ordered.length; i++) {
          const w = ordered[i];
          if (w.value !== null) continue;
          insertRun(i);
          from = i + 1;
          const row = del.get(space, ns, w.key, now);
          if (row) {
            keys--;
            bytes -= Number(row.size);
          }
        }
        insertRun(ordered.length);
        this.#foldPendingIn(space, ns);
        if (sets === 0 || quota === null) {
          this.#stmt(FOLD_CHECKED).run(
            space,
            ns,
            keys,
            bytes,
            NO_LIMIT,
            NO_LIMIT,
          );
          return;
        }
        const changed = this.#stmt(FOLD_CHECKED).run(
          space,
          ns,
          keys,
          bytes,
          quota.maxKeys,
          quota.maxBytes,
        );
        if (changed === 0) throw new QuotaRefusal(space, ns);
      })
    );
  }

  writeManyIfAbsent(
    space: Space,
    ns: string,
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
  ): number[] {
    return this.transaction(() =>
      this.#run(() => {
        const skipped: number[] = [];
        if (writes.length === 0) return skipped;
        for (const w of writes) {
          if (w.value === null) {
            throw new TypeError("writeManyIfAbsent writes values only");
          }
        }
        const row = this.#stmt(RESERVE).get(space, ns, writes.length);
        const epoch = Number(row!.seq) - writes.length + 1;
        let bytes = 0;
        const replace = this.#stmt(BULK_REPLACE_EXPIRED);
        // Key order, as in writeMany; the position of each write is kept so
        // the caller can name what was skipped (a key twice: the first one
        // wins, as one by one). Sorting positions by a key array is about
        // twice as fast as sorting the writes by a property.
        const keys = writes.map((w) => w.key);
        const order = keys.map((_, i) => i);
        // An export lists keys in order already: then the sort is skipped.
        let sorted = true;
        for (let i = 1; sorted && i < keys.length; i++) {
          sorted = keys[i - 1] < keys[i];
        }
        if (!sorted) {
          order.sort((a, b) => {
            const x = keys[a];
            const y = keys[b];
            return x < y ? -1 : x > y ? 1 : a - b;
          });
        }
        const ordered = order.map((i) => writes[i]);
        const added = this.#insertRows(
          space,
          ns,
          ordered,
          epoch,
          now,
          (w, reserved, len, at) => {
            // INSERT OR IGNORE was the only-if-absent test itself: one
            // statement per new key; only keys found there cost more.
            const changed = replace.run(
              space,
              ns,
              w.key,
              w.expiresAt,
              reserved,
              now,
              w.value,
            );
            if (changed === 1) bytes += w.value!.length - len;
            else skipped.push(order[at]);
          },
        );
        bytes += added.bytes;
        this.#foldPendingIn(space, ns);
        // Nothing written, nothing to check (a namespace already over a
        // lowered quota must not refuse a no-op).
        const wrote = skipped.length < writes.length && quota !== null;
        const changed = this.#stmt(FOLD_CHECKED).run(
          space,
          ns,
          added.keys,
          bytes,
          wrote ? quota.maxKeys : NO_LIMIT,
          wrote ? quota.maxBytes : NO_LIMIT,
        );
        if (changed === 0) throw new QuotaRefusal(space, ns);
        skipped.sort((a, b) => a - b);
        return skipped;
      })
    );
  }

  increment(
    space: Space,
    ns: string,
    key: string,
    by: number,
    expiresAt: number | null,
    keySize: number,
    now: number,
    quota: Quota | null,
  ): string | undefined {
    // No closure on this hot path (like getValue): try/catch inline.
    let value: string | undefined;
    try {
      let lease: Lease | undefined;
      if (!this.#inTransaction && this.#leases.size > 0) {
        lease = this.#leases.get(this.#idOf(space, ns));
        if (lease !== undefined && lease.bytes < LEASED_INCREMENT) {
          lease = undefined;
        }
      }
      value = this.#incrementLive(space, ns, key, by, expiresAt, now, lease);
      // One more digit, say, with no lease to take it from: take one.
      if (value === undefined && lease === undefined && !this.#inTransaction) {
        const id = this.#idOf(space, ns);
        lease = this.#leaseFor(space, ns, id, LEASED_INCREMENT, quota);
        if (lease !== undefined) {
          value = this.#incrementLive(
            space,
            ns,
            key,
            by,
            expiresAt,
            now,
            lease,
          );
        }
      }
    } catch (err) {
      throw storageError(this.path, err);
    }
    if (value !== undefined) return value;
    const row = this.#run(() =>
      // Anything else counts what it changed in the same transaction.
      this.transaction(() => {
        const old = this.#stmt(READ_OLD).get(space, ns, key);
        const made = this.#stmt(INCREMENT).get(
          space,
          ns,
          key,
          by,
          expiresAt,
          now,
          keySize,
          quota?.maxBytes ?? NO_LIMIT,
          quota?.maxKeys ?? NO_LIMIT,
        );
        if (made === undefined) return made;
        const len = String(made.value).length;
        if (old === undefined) {
          this.#stmt(COUNT_INSERT).run(space, ns, keySize + len);
        } else {
          const delta = len - Number(old.len);
          const version = Number(made.version);
          if (delta !== 0 || (version & LOW) === 0) {
            this.#stmt(ADJUST).run(space, ns, delta, version);
          }
        }
        return made;
      })
    );
    return row === undefined ? undefined : String(row.value);
  }

  /**
   * INCREMENT_LIVE, answering the new value's text; with `lease`, a change
   * of length is allowed and taken out of it (growth) or folded in later (a
   * shrink).
   */
  #incrementLive(
    space: Space,
    ns: string,
    key: string,
    by: number,
    expiresAt: number | null,
    now: number,
    lease: Lease | undefined,
  ): string | undefined {
    const stmt = this.#stmt(INCREMENT_LIVE);
    const gen = lease === undefined ? null : lease.gen;
    // The row as an array when the binding offers it (as getValue).
    let value: string;
    if (stmt.row !== undefined) {
      const row = stmt.row(space, ns, key, by, expiresAt, now, gen);
      if (row === undefined) return undefined;
      value = row[0] as string;
    } else {
      const row = stmt.get(space, ns, key, by, expiresAt, now, gen);
      if (row === undefined) return undefined;
      value = String(row.value);
    }
    if (lease === undefined) return value;
    // A canonical counter: the old text is the new value minus `by`.
    const delta = value.length - String(Number(value) - by).length;
    if (delta > 0) lease.bytes -= delta;
    else if (delta < 0) this.#addPending(space, ns, lease.gen, 0, delta);
    return value;
  }

  /** `space` and `ns` as one map key; the last one is kept, not rebuilt. */
  #idOf(space: Space, ns: string): string {
    if (ns !== this.#lastNs || space !== this.#lastSpace) {
      this.#lastNs = ns;
      this.#lastSpace = space;
      this.#lastId = `${space}\u0000${ns}`;
    }
    return this.#lastId;
  }

  delete(space: Space, ns: string, key: string, now: number): boolean {
    // No closure and the row as an array when the binding offers it (as
    // getValue): this runs once per deleted key.
    let size: number;
    let live: number;
    let gen: number;
    try {
      const stmt = this.#stmt(DELETE);
      if (stmt.row !== undefined) {
        const row = stmt.row(space, ns, key, now);
        if (row === undefined) return false;
        size = Number(row[0]);
        live = Number(row[1]);
        gen = Number(row[2] ?? 0);
      } else {
        const row = stmt.get(space, ns, key, now);
        if (row === undefined) return false;
        size = Number(row.size);
        live = Number(row.live);
        gen = Number(row.gen ?? 0);
      }
    } catch (err) {
      throw storageError(this.path, err);
    }
    this.#addPending(space, ns, gen, -1, -size);
    if (this.#inTransaction) this.#foldPendingIn(space, ns);
    return live === 1;
  }

  #addPending(
    space: Space,
    ns: string,
    gen: number,
    keys: number,
    bytes: number,
  ): void {
    const id = this.#idOf(space, ns);
    let p = this.#pending.get(id);
    // A recount since the last change already counted it: start over.
    if (!p || p.gen !== gen) {
      p = { space, ns, gen, keys: 0, bytes: 0 };
      this.#pending.set(id, p);
    }
    p.keys += keys;
    p.bytes += bytes;
  }

  #foldPendingIn(space: Space, ns: string): void {
    const id = `${space}\u0000${ns}`;
    const p = this.#pending.get(id);
    if (!p) return;
    this.#stmt(FOLD).run(space, ns, p.keys, p.bytes, p.gen);
    this.#pending.delete(id);
  }

  flush(returnLeases = true): void {
    if (this.#inTransaction) {
      for (const p of [...this.#pending.values()]) {
        this.#run(() => this.#foldPendingIn(p.space, p.ns));
      }
      return;
    }
    if (returnLeases && this.#leases.size > 0) {
      // Each return is one statement; a failed one leaves usage counted
      // too high (safe), which a recount corrects.
      for (const lease of [...this.#leases.values()]) {
        this.#run(() => this.#returnLease(lease));
      }
    }
    if (this.#pending.size === 0) return;
    this.transaction(() => this.flush(false));
  }

  #rangeStmt(columns: string, r: KeyRange): SqlStatement {
    return this.#run(() =>
      this.#stmt(`SELECT ${columns} FROM entries
      WHERE space = ?1 AND ns = ?2 AND key ${r.exclusive ? ">" : ">="} ?3
      AND ${LIVE}${r.before === null ? "" : " AND key < ?6"}
      ORDER BY key LIMIT ?5`)
    );
  }

  #rangeParams(r: KeyRange): SqlValue[] {
    const params: SqlValue[] = [r.space, r.ns, r.from, r.now, r.limit];
    if (r.before !== null) params.push(r.before);
    return params;
  }

  #range(columns: string, r: KeyRange): SqlRow[] {
    const stmt = this.#rangeStmt(columns, r);
    return this.#run(() => stmt.all(...this.#rangeParams(r)));
  }

  list(range: KeyRange): string[] {
    const stmt = this.#rangeStmt("key", range);
    const params = this.#rangeParams(range);
    return this.#run(() => {
      if ("values" in stmt) {
        const rows = (stmt as ValuesStatement).values(...params);
        const keys = new Array<string>(rows.length);
        for (let i = 0; i < rows.length; i++) keys[i] = rows[i][0] as string;
        return keys;
      }
      return stmt.all(...params).map((row) => row.key as string);
    });
  }

  scan(range: KeyRange): KeyedEntry[] {
    return this.#range(
      `key, value, version, expires_at, ${WRITTEN_AT} AS written_at`,
      range,
    )
      .map((row) => ({ key: row.key as string, ...entryOf(row) }));
  }

  clear(space: Space, ns: string): number {
    return this.transaction(() =>
      this.#run(() => {
        const n = this.#stmt(
          "DELETE FROM entries WHERE space = ?1 AND ns = ?2",
        ).run(space, ns);
        // Zero and a new gen: unshared deletes of other connections are
        // part of the zero now and must not be subtracted again.
        this.#stmt(
          `UPDATE namespaces SET keys = 0, bytes = 0, gen = gen + 1
           WHERE space = ?1 AND ns = ?2`,
        ).run(space, ns);
        this.#pending.delete(`${space}\u0000${ns}`);
        this.#leases.delete(`${space}\u0000${ns}`);
        return n;
      })
    );
  }

  #adjusted(row: SqlRow | undefined, space: Space, ns: string) {
    const usage = usageOf(row, space, ns);
    const p = this.#pending.get(`${space}\u0000${ns}`);
    if (p && row && Number(row.gen) === p.gen) {
      usage.keys += p.keys;
      usage.bytes += p.bytes;
    }
    const lease = this.#leases.get(`${space}\u0000${ns}`);
    if (lease && row && Number(row.gen) === lease.gen) {
      usage.keys -= lease.keys;
      usage.bytes -= lease.bytes;
    }
    return usage;
  }

  usage(space: Space, ns: string): NamespaceUsage {
    const row = this.#run(() =>
      this.#stmt(
        `SELECT keys, bytes, hits, misses, gen, evictions,
          (SELECT min(expires_at) FROM entries WHERE space = ?1 AND ns = ?2) AS next_expiry,
          (SELECT min(${WRITTEN_AT}) FROM entries WHERE space = ?1 AND ns = ?2) AS oldest
         FROM namespaces WHERE space = ?1 AND ns = ?2`,
      ).get(space, ns)
    );
    return this.#adjusted(row, space, ns);
  }

  namespaces(): NamespaceUsage[] {
    const rows = this.#run(() =>
      this.#stmt(
        `SELECT n.space, n.ns, n.keys, n.bytes, n.hits, n.misses, n.gen,
          n.evictions,
          (SELECT min(e.expires_at) FROM entries AS e
           WHERE e.space = n.space AND e.ns = n.ns) AS next_expiry,
          (SELECT min(CASE WHEN e.written_at < 0
             THEN e.expires_at + e.written_at ELSE e.written_at END)
           FROM entries AS e
           WHERE e.space = n.space AND e.ns = n.ns) AS oldest
         FROM namespaces AS n ORDER BY n.ns, n.space`,
      ).all()
    );
    return rows.map((row) =>
      this.#adjusted(row, Number(row.space) as Space, row.ns as string)
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

  /**
   * Delete the rows of `candidates` that are still expired, in one short
   * transaction, and fold the usage change in at its commit.
   */
  #deleteExpired(
    candidates: (SweepCursor & { size: number })[],
    now: number,
  ): number {
    if (candidates.length === 0) return 0;
    return this.transaction(() =>
      this.#run(() => {
        // The size seen by the scan is checked by the delete itself, so
        // the common case needs no RETURNING (an ephemeral table per row,
        // which made a purge step several times slower); a row rewritten
        // since the scan is deleted with RETURNING to get its real size.
        const del = this.#stmt(
          `DELETE FROM entries
           WHERE space = ?1 AND ns = ?2 AND key = ?3 AND expires_at <= ?4
             AND ${SIZE} = ?5`,
        );
        const delAny = this.#stmt(
          `DELETE FROM entries
           WHERE space = ?1 AND ns = ?2 AND key = ?3 AND expires_at <= ?4
           RETURNING ${SIZE} AS size`,
        );
        const freed = new Map<string, Pending>();
        let deleted = 0;
        for (const c of candidates) {
          let size = c.size;
          if (del.run(c.space, c.ns, c.key, now, c.size) === 0) {
            const row = delAny.get(c.space, c.ns, c.key, now);
            if (!row) continue;
            size = Number(row.size);
          }
          deleted++;
          const id = `${c.space}\u0000${c.ns}`;
          let f = freed.get(id);
          if (!f) {
            f = { space: c.space, ns: c.ns, gen: 0, keys: 0, bytes: 0 };
            freed.set(id, f);
          }
          f.keys--;
          f.bytes -= size;
        }
        const fold = this.#stmt(
          `UPDATE namespaces SET keys = keys + ?3, bytes = bytes + ?4
           WHERE space = ?1 AND ns = ?2`,
        );
        for (const f of freed.values()) {
          fold.run(f.space, f.ns, f.keys, f.bytes);
        }
        return deleted;
      })
    );
  }

  // One step looks at a window of at most `limit * SCAN_FACTOR` rows after
  // the cursor: the window's end is found by walking the key index (no row
  // is built), then only its expired rows are read. Reading needs no write
  // lock (WAL readers run beside a writer); only the deletes take it.
  #step<C>(
    windowEnd: SqlRow | undefined,
    dead: SqlRow[],
    limit: number,
    now: number,
    cursorOf: (row: SqlRow) => C,
  ): PurgeStep<C> {
    const deleted = this.#deleteExpired(
      dead.map((row) => ({
        space: Number(row.space) as Space,
        ns: row.ns as string,
        key: row.key as string,
        size: Number(row.size),
      })),
      now,
    );
    // A full batch stops at its last row; otherwise at the window's end,
    // and a window that reached the last row ends the pass.
    const next = dead.length >= limit
      ? cursorOf(dead[dead.length - 1])
      : windowEnd === undefined
      ? null
      : cursorOf(windowEnd);
    return { deleted, next };
  }

  purgeExpired(
    now: number,
    limit: number,
    after: SweepCursor | null,
  ): PurgeStep<SweepCursor> {
    const scan = limit * SCAN_FACTOR;
    const from = after ?? { space: -1, ns: "", key: "" };
    return this.#run(() => {
      const end = this.#stmt(
        `SELECT space, ns, key FROM entries
         WHERE (space, ns, key) > (?1, ?2, ?3)
         ORDER BY space, ns, key LIMIT 1 OFFSET ?4`,
      ).get(from.space, from.ns, from.key, scan - 1);
      // Two shapes, so the window's end is an index bound, not a filter.
      const dead = end === undefined
        ? this.#stmt(
          `SELECT space, ns, key, ${SIZE} AS size FROM entries
           WHERE (space, ns, key) > (?1, ?2, ?3) AND expires_at <= ?4
           ORDER BY space, ns, key LIMIT ?5`,
        ).all(from.space, from.ns, from.key, now, limit)
        : this.#stmt(
          `SELECT space, ns, key, ${SIZE} AS size FROM entries
           WHERE (space, ns, key) > (?1, ?2, ?3)
             AND (space, ns, key) <= (?6, ?7, ?8) AND expires_at <= ?4
           ORDER BY space, ns, key LIMIT ?5`,
        ).all(
          from.space,
          from.ns,
          from.key,
          now,
          limit,
          end.space,
          end.ns,
          end.key,
        );
      return this.#step(end, dead, limit, now, (row) => ({
        space: Number(row.space) as Space,
        ns: row.ns as string,
        key: row.key as string,
      }));
    });
  }

  purgeExpiredIn(
    space: Space,
    ns: string,
    now: number,
    limit: number,
    after: string | null,
  ): PurgeStep<string> {
    const scan = limit * SCAN_FACTOR;
    return this.#run(() => {
      const end = this.#stmt(
        `SELECT key FROM entries WHERE space = ?1 AND ns = ?2 AND key > ?3
         ORDER BY key LIMIT 1 OFFSET ?4`,
      ).get(space, ns, after ?? "", scan - 1);
      const dead = end === undefined
        ? this.#stmt(
          `SELECT ?1 AS space, ?2 AS ns, key, ${SIZE} AS size FROM entries
           WHERE space = ?1 AND ns = ?2 AND key > ?3 AND expires_at <= ?4
           ORDER BY key LIMIT ?5`,
        ).all(space, ns, after ?? "", now, limit)
        : this.#stmt(
          `SELECT ?1 AS space, ?2 AS ns, key, ${SIZE} AS size FROM entries
           WHERE space = ?1 AND ns = ?2 AND key > ?3 AND key <= ?6
             AND expires_at <= ?4
           ORDER BY key LIMIT ?5`,
        ).all(space, ns, after ?? "", now, limit, end.key);
      return this.#step(end, dead, limit, now, (row) => row.key as string);
    });
  }

  recount(space: Space, ns: string): boolean {
    const counted = `SELECT
        (SELECT count(*) FROM entries WHERE space = ?1 AND ns = ?2) AS keys,
        (SELECT coalesce(sum(${SIZE}), 0) FROM entries
          WHERE space = ?1 AND ns = ?2) AS bytes,
        (SELECT keys FROM namespaces WHERE space = ?1 AND ns = ?2) AS stored_keys,
        (SELECT bytes FROM namespaces WHERE space = ?1 AND ns = ?2) AS stored_bytes`;
    // Count first without the write lock (a WAL reader blocks no writer);
    // only a count below the stored one (deletes of a crashed process that
    // were never shared) needs the locked recount, which holds the lock for
    // one pass over the namespace.
    const seen = this.#run(() => this.#stmt(counted).get(space, ns));
    if (
      seen && seen.stored_keys !== null &&
      Number(seen.keys) >= Number(seen.stored_keys) &&
      Number(seen.bytes) >= Number(seen.stored_bytes)
    ) return false;
    this.transaction(() =>
      this.#run(() => {
        this.#stmt(
          `UPDATE namespaces SET
            keys = (SELECT count(*) FROM entries WHERE space = ?1 AND ns = ?2),
            bytes = (SELECT coalesce(sum(${SIZE}), 0) FROM entries
              WHERE space = ?1 AND ns = ?2),
            gen = gen + 1
           WHERE space = ?1 AND ns = ?2`,
        ).run(space, ns);
        this.#pending.delete(`${space}\u0000${ns}`);
        this.#leases.delete(`${space}\u0000${ns}`);
      })
    );
    return true;
  }

  getValueUsed(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): UsedValue | undefined {
    try {
      const stmt = this.#stmt(GET_VALUE_USED);
      if (stmt.row !== undefined) {
        const row = stmt.row(space, ns, key, now);
        return row === undefined
          ? undefined
          : { value: row[0] as Uint8Array, usedAt: Number(row[1]) };
      }
      const row = stmt.get(space, ns, key, now);
      return row
        ? { value: row.value as Uint8Array, usedAt: Number(row.used) }
        : undefined;
    } catch (err) {
      throw storageError(this.path, err);
    }
  }

  touch(space: Space, ns: string, reads: ReadonlyMap<string, number>): void {
    if (reads.size === 0) return;
    this.transaction(() =>
      this.#run(() => {
        const touch = this.#stmt(TOUCH);
        for (const [key, at] of reads) touch.run(space, ns, key, at);
      })
    );
  }

  counts(space: Space, ns: string): { keys: number; bytes: number } {
    const row = this.#run(() =>
      this.#stmt(
        "SELECT keys, bytes FROM namespaces WHERE space = ?1 AND ns = ?2",
      ).get(space, ns)
    );
    return { keys: Number(row?.keys ?? 0), bytes: Number(row?.bytes ?? 0) };
  }

  attribute(space: Space, ns: string, key: string, sender: string): void {
    this.#run(() =>
      this.#stmt(
        `INSERT INTO attributions (sender, space, ns, key, epoch)
         SELECT ?4, ?1, ?2, ?3, version >> ${EPOCH_BITS} FROM entries
         WHERE space = ?1 AND ns = ?2 AND key = ?3
         ON CONFLICT (sender, space, ns, key) DO UPDATE SET epoch = excluded.epoch`,
      ).run(space, ns, key, sender)
    );
  }

  forgetCandidates(sender: string): ForgetCandidate[] {
    return this.#run(() => {
      const found = new Map<string, ForgetCandidate>();
      const add = (rows: SqlRow[], rule: ForgetCandidate["rule"]) => {
        for (const r of rows) {
          const c: ForgetCandidate = {
            space: Number(r.space) as Space,
            ns: r.ns as string,
            key: r.key as string,
            rule,
          };
          const id = `${c.space}\u0000${c.ns}\u0000${c.key}`;
          if (!found.has(id)) found.set(id, c);
        }
      };
      // Only while the entry is the one written for them: same epoch.
      add(
        this.#stmt(
          `SELECT a.space, a.ns, a.key FROM attributions AS a
           JOIN entries AS e ON e.space = a.space AND e.ns = a.ns
             AND e.key = a.key AND (e.version >> ${EPOCH_BITS}) = a.epoch
           WHERE a.sender = ?1 ORDER BY a.ns, a.space, a.key`,
        ).all(sender),
        "sender",
      );
      // A whole segment, compared as text (no LIKE: a sender id may hold
      // % or _). Reads every key once: an operator's command, not a hot path.
      add(
        this.#stmt(
          `SELECT space, ns, key FROM entries
           WHERE key = ?1 OR substr(key, 1, length(?1) + 1) = ?1 || ':'
             OR (length(key) > length(?1)
               AND substr(key, -length(?1) - 1) = ':' || ?1)
             OR instr(key, ':' || ?1 || ':') > 0
           ORDER BY ns, space, key`,
        ).all(sender),
        "key-segment",
      );
      return [...found.values()];
    });
  }

  pruneAttributions(
    after: AttributionCursor | null,
    limit: number,
  ): AttributionCursor | null {
    const from = after ?? { sender: "", space: -1, ns: "", key: "" };
    const rows = this.#run(() =>
      this.#stmt(
        `SELECT a.sender, a.space, a.ns, a.key,
           NOT EXISTS (SELECT 1 FROM entries AS e WHERE e.space = a.space
             AND e.ns = a.ns AND e.key = a.key
             AND (e.version >> ${EPOCH_BITS}) = a.epoch) AS stale
         FROM attributions AS a
         WHERE (a.sender, a.space, a.ns, a.key) > (?1, ?2, ?3, ?4)
         ORDER BY a.sender, a.space, a.ns, a.key LIMIT ?5`,
      ).all(from.sender, from.space, from.ns, from.key, limit)
    );
    const stale = rows.filter((r) => Number(r.stale) === 1);
    if (stale.length > 0) {
      this.transaction(() =>
        this.#run(() => {
          // Checked again under the lock: the entry may be back meanwhile.
          const del = this.#stmt(
            `DELETE FROM attributions AS a
             WHERE sender = ?1 AND space = ?2 AND ns = ?3 AND key = ?4
               AND NOT EXISTS (SELECT 1 FROM entries AS e
                 WHERE e.space = ?2 AND e.ns = ?3 AND e.key = ?4
                   AND (e.version >> ${EPOCH_BITS}) = a.epoch)`,
          );
          for (const r of stale) del.run(r.sender, r.space, r.ns, r.key);
        })
      );
    }
    if (rows.length < limit) return null;
    const last = rows[rows.length - 1];
    return {
      sender: last.sender as string,
      space: Number(last.space) as Space,
      ns: last.ns as string,
      key: last.key as string,
    };
  }

  dropAttributions(sender: string): void {
    this.#run(() =>
      this.#stmt("DELETE FROM attributions WHERE sender = ?1").run(sender)
    );
  }

  evict(
    space: Space,
    ns: string,
    keys: number,
    bytes: number,
    quota: Quota,
    atLeast: number,
    maxRows: number,
    now: number,
  ): EvictionResult {
    return this.#run(() => {
      const used = this.counts(space, ns);
      const needKeys = used.keys + keys - quota.maxKeys;
      const needBytes = used.bytes + bytes - quota.maxBytes;
      const id = `${space}\u0000${ns}`;
      let hand = this.#hands.get(id) ?? "";
      const window = this.#stmt(
        `SELECT key, expires_at, ${USED} AS used, ${SIZE} AS size
         FROM entries WHERE space = ?1 AND ns = ?2 AND key > ?3
         ORDER BY key LIMIT ?4`,
      );
      const del = this.#stmt(
        "DELETE FROM entries WHERE space = ?1 AND ns = ?2 AND key = ?3",
      );
      let freedKeys = 0;
      let freedBytes = 0;
      let evicted = 0;
      const enough = () =>
        freedKeys >= needKeys && freedBytes >= needBytes &&
        freedKeys >= atLeast;
      for (let w = 0; w < EVICT_MAX_WINDOWS && !enough(); w++) {
        const rows = window.all(space, ns, hand, EVICT_WINDOW);
        if (rows.length === 0) {
          if (hand === "") break; // the namespace is empty
          hand = "";
          continue;
        }
        // The next window starts after this one, or wraps round.
        hand = rows.length < EVICT_WINDOW
          ? ""
          : rows[rows.length - 1].key as string;
        const expired = (r: SqlRow) =>
          r.expires_at !== null && Number(r.expires_at) <= now;
        rows.sort((a, b) =>
          (expired(a) ? 0 : 1) - (expired(b) ? 0 : 1) ||
          Number(a.used) - Number(b.used)
        );
        let live = 0;
        const liveCap = Math.max(1, rows.length >> 2);
        for (const r of rows) {
          if (enough() || freedKeys >= maxRows) break;
          const dead = expired(r);
          if (!dead && live >= liveCap) break;
          del.run(space, ns, r.key as string);
          freedKeys++;
          freedBytes += Number(r.size);
          if (!dead) {
            live++;
            evicted++;
          }
        }
        if (freedKeys >= maxRows) break;
      }
      this.#hands.set(id, hand);
      // The room made may be enough for a lease again.
      this.#nearQuota.delete(id);
      if (freedKeys > 0) {
        this.#stmt(
          `UPDATE namespaces SET keys = keys - ?3, bytes = bytes - ?4,
             evictions = evictions + ?5
           WHERE space = ?1 AND ns = ?2`,
        ).run(space, ns, freedKeys, freedBytes, evicted);
      }
      return { keys: freedKeys, bytes: freedBytes };
    });
  }

  transaction<T>(fn: () => T): T {
    // Nested use (an increment inside a larger transaction) joins the outer one.
    if (this.#inTransaction) return fn();
    this.#run(() => this.#db.exec("BEGIN IMMEDIATE"));
    this.#inTransaction = true;
    // Pending usage folded inside a transaction that rolls back is still pending.
    const saved = new Map(
      [...this.#pending].map(([id, p]) => [id, { ...p }]),
    );
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
      this.#pending = saved;
      throw err;
    } finally {
      this.#inTransaction = false;
    }
  }

  close(): void {
    try {
      this.flush();
    } finally {
      this.#run(() => this.#db.close());
    }
  }
}
