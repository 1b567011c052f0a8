/**
 * Writing an output file (an export, a backup) without destroying anything:
 * the live database, its `-wal`/`-shm` files and any other SQLite file are
 * refused, an existing file only replaced when asked, and the new file
 * written beside the target and moved into place only once complete, so a
 * failed write leaves the old file as it was.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { OutputRefusedError } from "./errors.ts";

/** How to treat an existing file. */
export interface OutputOptions {
  /** Replace an existing regular file (never a database). Default `false`. */
  force?: boolean;
  /** Database files that must never be written: each is protected with its `-wal`, `-shm` and `-journal`. */
  protect?: string[];
  /** Refuse an existing SQLite file even with `force` (an export is not a database). Default `true`. */
  refuseSqlite?: boolean;
}

const SQLITE_MAGIC = new TextEncoder().encode("SQLite format 3\0");
const WAL_MAGIC = [0x377f0682, 0x377f0683];

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino !== null && a.ino === b.ino;
}

/** What the first bytes of a regular file say it is. */
function sqliteKind(path: string): "database" | "wal" | null {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    // Unreadable: we cannot tell, so refuse rather than guess.
    if (err instanceof Deno.errors.PermissionDenied) return "database";
    throw err;
  }
  try {
    const head = new Uint8Array(16);
    let got = 0;
    while (got < 16) {
      const n = file.readSync(head.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (
      got === 16 && head.every((b, i) => b === SQLITE_MAGIC[i])
    ) return "database";
    const word = new DataView(head.buffer).getUint32(0);
    if (got >= 4 && WAL_MAGIC.includes(word)) return "wal";
    return null;
  } finally {
    file.close();
  }
}

/**
 * Check `path` as an output target. Resolves to `"new"` (nothing there),
 * `"replace"` (a regular file `force` allows replacing) or `"stream"` (a
 * device or pipe, written in place). Throws {@link OutputRefusedError}
 * otherwise; nothing is written either way.
 *
 * @example
 * ```ts
 * import { checkOutput } from "./output.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(checkOutput(`${dir}/backup.jsonl`)); // "new"
 * await Deno.writeTextFile(`${dir}/backup.jsonl`, "old");
 * try { checkOutput(`${dir}/backup.jsonl`); } catch (err) { console.log((err as Error).name); } // "OutputRefusedError"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function checkOutput(
  path: string,
  options: OutputOptions = {},
): "new" | "replace" | "stream" {
  const info = statOrNull(path);
  for (const db of options.protect ?? []) {
    for (const side of ["", "-wal", "-shm", "-journal"]) {
      const protectedInfo = statOrNull(db + side);
      if (
        resolve(path) === resolve(db + side) ||
        (info && protectedInfo && sameFile(info, protectedInfo))
      ) {
        throw new OutputRefusedError(
          path,
          `it is the live database${
            side ? `'s ${side} file` : ""
          } (${db}); writing there would destroy the cache. Choose another file`,
        );
      }
    }
  }
  if (info === null) {
    const dir = dirname(resolve(path));
    if (!statOrNull(dir)?.isDirectory) {
      throw new OutputRefusedError(
        path,
        `its directory ${dir} does not exist; create it first`,
      );
    }
    return "new";
  }
  if (info.isDirectory) {
    throw new OutputRefusedError(path, "it is a directory; name a file");
  }
  if (!info.isFile) return "stream";
  const kind = sqliteKind(path);
  if (kind !== null && (options.refuseSqlite ?? true)) {
    throw new OutputRefusedError(
      path,
      `it is an SQLite ${
        kind === "wal" ? "write-ahead log" : "database"
      }, not an earlier output; choose another file (even --force does not replace a database)`,
    );
  }
  if (!options.force) {
    throw new OutputRefusedError(
      path,
      "the file exists; choose a new name, or pass --force to replace it",
    );
  }
  return "replace";
}

/**
 * Write `path` through `write` (given an open file), safely: checked with
 * {@link checkOutput} first, then written to a temporary file beside it,
 * flushed to disk and moved into place only when `write` succeeds. A new
 * file is linked into place, so a file that appears meanwhile is not
 * replaced either. Devices and pipes are written directly.
 *
 * @example
 * ```ts
 * import { writeOutput } from "./output.ts";
 * const dir = await Deno.makeTempDir();
 * await writeOutput(`${dir}/out.txt`, {}, async (file) => {
 *   await file.write(new TextEncoder().encode("hello\n"));
 * });
 * console.log(await Deno.readTextFile(`${dir}/out.txt`)); // "hello\n"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeOutput<T>(
  path: string,
  options: OutputOptions,
  write: (file: Deno.FsFile, tempPath: string | null) => Promise<T>,
): Promise<T> {
  const mode = checkOutput(path, options);
  if (mode === "stream") {
    using file = await Deno.open(path, { write: true });
    return await write(file, null);
  }
  const temp = join(
    dirname(path),
    `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  let done = false;
  try {
    let result: T;
    {
      using file = await Deno.open(temp, { write: true, createNew: true });
      result = await write(file, temp);
      await file.sync();
    }
    // Checked again: the target may have changed while we wrote.
    const again = checkOutput(path, options);
    if (again === "new") {
      try {
        // link, not rename: it fails if a file appeared meanwhile.
        await Deno.link(temp, path);
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) {
          throw new OutputRefusedError(
            path,
            "a file of that name appeared while writing; choose another name, or pass --force",
          );
        }
        // A file system without hard links: rename, just checked above.
        await Deno.rename(temp, path);
        done = true;
      }
    } else {
      await Deno.rename(temp, path);
      done = true;
    }
    return result;
  } finally {
    if (!done) await Deno.remove(temp).catch(() => {});
  }
}
