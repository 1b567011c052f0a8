/**
 * Backup and restore of a whole database file, safe while plugins write.
 *
 * - `backupDatabase` runs SQLite's online backup API (`node:sqlite`'s
 *   `backup()`) on its own connection, copying every page in one step
 *   (`rate: -1`): one read transaction, so the copy is a consistent
 *   snapshot (every commit before it, none after) even while other
 *   processes write, and a busy database cannot make it restart forever as
 *   a page-by-page backup can. The copy is switched out of WAL mode, so it
 *   is one self-contained file with no `-wal` to forget. It is written
 *   beside the target, flushed to disk, then moved into place (see
 *   `output.ts`). (`VACUUM INTO` would do too, but Deno's `node:sqlite`
 *   forbids `ATTACH`, which it uses, unless the process has every
 *   permission.)
 * - `restoreDatabase` refuses a database that any process has open (see
 *   {@link isInUse}), checks the backup on a temporary copy first (it must
 *   open as a sup-cache database and pass `PRAGMA quick_check`), keeps the
 *   current database as a snapshot beside it, then copies the backup in
 *   with SQLite's online backup API (`node:sqlite`'s `backup()`), which
 *   writes through SQLite's own locking and write-ahead log, so no stale
 *   `-wal` file can be replayed over the restored pages.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { backup, DatabaseSync } from "node:sqlite";
import { createSupCache } from "../cache/cache.ts";
import {
  DatabaseInUseError,
  DatabaseNotFoundError,
  InputFormatError,
  OutputRefusedError,
} from "./errors.ts";
import { writeOutput } from "./output.ts";
import { StorageError } from "../errors.ts";

/** How to back up. */
export interface BackupOptions {
  /** Replace an existing file (an older backup). Default `false`. */
  force?: boolean;
}

/** What a backup wrote. */
export interface BackupReport {
  /** The database copied. */
  database: string;
  /** The backup file. */
  output: string;
  /** Its size in bytes. */
  bytes: number;
}

/** What a restore did. */
export interface RestoreReport {
  /** The backup read. */
  backup: string;
  /** The database written. */
  database: string;
  /** Where the database as it was before the restore was kept, or `null` when there was none. */
  previous: string | null;
}

/** How to restore. */
export interface RestoreOptions {
  /** Keep the current database as `<name>.before-restore-<time>` beside it. Default `true`. */
  keepPrevious?: boolean;
}

const SQLITE_MAGIC = "SQLite format 3\0";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Fail unless `path` is a sup-cache database: it opens, and nothing in it changes. */
async function checkOurs(path: string): Promise<void> {
  // createSupCache refuses files that are not ours and migrates old ones.
  const cache = await createSupCache({ path, sweepIntervalMs: 0 });
  await cache.close();
}

/**
 * Whether a process has the database at `path` open. Every connection to a
 * database in WAL mode (as sup-cache's always is) holds a shared lock on
 * the file from its first read until it closes; this asks SQLite for an
 * exclusive lock without waiting and gives it straight back. A process
 * that opened the file but never read it is not seen; `createSupCache`
 * reads on open, so every sup-cache user is.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { isInUse } from "./backup.ts";
 * const dir = await Deno.makeTempDir();
 * const cache = await createSupCache({ dataDir: dir });
 * console.log(isInUse(`${dir}/cache.db`)); // true
 * await cache.close();
 * console.log(isInUse(`${dir}/cache.db`)); // false
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function isInUse(path: string): boolean {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("ROLLBACK");
    return false;
  } catch (err) {
    if (/locked|busy/i.test((err as Error).message)) return true;
    throw new StorageError(
      path,
      `cannot check whether ${path} is in use: ${
        (err as Error).message
      }; is it an SQLite database?`,
      { cause: err },
    );
  } finally {
    db.close();
  }
}

/**
 * Copy the database at `database` into one consistent file at `output`,
 * while other processes keep writing. `output` must not exist unless
 * `force`; the live database and its side files are always refused.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { backupDatabase } from "./backup.ts";
 * const dir = await Deno.makeTempDir();
 * await using cache = await createSupCache({ dataDir: dir });
 * await cache.namespace("counter").set("visits", "41");
 * const report = await backupDatabase(`${dir}/cache.db`, `${dir}/backup.db`);
 * console.log(report.bytes > 0); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function backupDatabase(
  database: string,
  output: string,
  options: BackupOptions = {},
): Promise<BackupReport> {
  if (!exists(database)) {
    throw new DatabaseNotFoundError(database, "check the data directory");
  }
  const target = {
    force: options.force,
    protect: [database],
    refuseSqlite: false,
  };
  await writeOutput(output, target, async (_file, temp) => {
    if (temp === null) {
      throw new OutputRefusedError(
        output,
        "a backup must be a regular file (SQLite writes it by name); name a file",
      );
    }
    await checkOurs(database);
    await snapshot(database, temp);
  });
  return { database, output, bytes: Deno.statSync(output).size };
}

/** Copy `database` consistently into the (new or empty) file `to`. */
async function snapshot(database: string, to: string): Promise<void> {
  const db = new DatabaseSync(database, { readOnly: true });
  try {
    // Wait for a writer's checkpoint rather than fail, as the library does.
    db.exec("PRAGMA busy_timeout = 5000");
    await backup(db, to, { rate: -1 });
  } finally {
    db.close();
  }
  const copy = new DatabaseSync(to);
  try {
    copy.exec("PRAGMA journal_mode = DELETE");
  } finally {
    copy.close();
  }
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

function removeWithSides(path: string): void {
  for (const side of ["", "-wal", "-shm", "-journal"]) {
    try {
      Deno.removeSync(path + side);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/**
 * Replace the database at `database` with the backup at `from` (made by
 * {@link backupDatabase}). Throws {@link DatabaseInUseError} when any
 * process has the database open, and {@link InputFormatError} when the
 * backup is not a sound sup-cache database; either way nothing changed.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { backupDatabase, restoreDatabase } from "./backup.ts";
 * const dir = await Deno.makeTempDir();
 * const cache = await createSupCache({ dataDir: dir });
 * await cache.namespace("counter").set("visits", "41");
 * await backupDatabase(`${dir}/cache.db`, `${dir}/backup.db`);
 * await cache.namespace("counter").set("visits", "99");
 * await cache.close();
 * const report = await restoreDatabase(`${dir}/backup.db`, `${dir}/cache.db`);
 * console.log(report.previous !== null); // true
 * await using again = await createSupCache({ dataDir: dir });
 * console.log(new TextDecoder().decode((await again.namespace("counter").get("visits"))!)); // "41"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function restoreDatabase(
  from: string,
  database: string,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  const info = Deno.statSync(from);
  if (!info.isFile) {
    throw new InputFormatError(
      from,
      "is not a regular file; name a backup file made by sup-cache backup",
    );
  }
  const head = new Uint8Array(16);
  {
    using file = Deno.openSync(from);
    file.readSync(head);
  }
  if (new TextDecoder().decode(head) !== SQLITE_MAGIC) {
    throw new InputFormatError(
      from,
      "is not an SQLite database, so not a backup made by sup-cache backup (an export made by sup-cache export goes back with sup-cache import)",
    );
  }
  const present = exists(database);
  if (present) {
    const target = Deno.statSync(database);
    if (target.dev === info.dev && target.ino === info.ino) {
      throw new InputFormatError(
        from,
        "is the database itself; name a backup file",
      );
    }
    if (isInUse(database)) throw new DatabaseInUseError(database);
  }
  // Check a copy, never the backup itself: opening it could change it.
  const dir = dirname(database);
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(
    dir,
    `.${basename(database)}.restore-${crypto.randomUUID().slice(0, 8)}`,
  );
  try {
    Deno.copyFileSync(from, temp);
    try {
      await checkOurs(temp);
      const check = new DatabaseSync(temp, { readOnly: true });
      try {
        const row = check.prepare("PRAGMA quick_check").get();
        const result = row ? Object.values(row)[0] : null;
        if (result !== "ok") throw new Error(String(result));
      } finally {
        check.close();
      }
    } catch (cause) {
      throw new InputFormatError(
        from,
        `is not a sound sup-cache backup (${
          (cause as Error).message
        }); nothing was changed`,
        { cause },
      );
    }
    let previous: string | null = null;
    if (present && (options.keepPrevious ?? true)) {
      previous = `${database}.before-restore-${stamp()}`;
      await snapshot(database, previous);
    }
    // Refused again at the last moment: the check above may be minutes old.
    if (present && isInUse(database)) throw new DatabaseInUseError(database);
    const source = new DatabaseSync(temp, { readOnly: true });
    try {
      await backup(source, database, { rate: -1 });
    } finally {
      source.close();
    }
    await checkOurs(database);
    return { backup: from, database, previous };
  } finally {
    removeWithSides(temp);
  }
}
