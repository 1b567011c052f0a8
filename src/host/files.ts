/**
 * File access for the sup host functions `read_file` and `list_directory`,
 * confined to one plugin's data directory. Paths are read like sup's Go host
 * reads them (`os.Root` after stripping a leading `/`): `/notes.txt` means
 * `<dir>/notes.txt`. Anything that would leave the directory, through `..`
 * or through a symlink, is refused; so are files that are not regular
 * (FIFOs, devices, sockets), files with more than one name (hard links),
 * and files larger than the caller's cap.
 *
 * ## Why a read cannot be redirected out of the folder
 *
 * Deno has no `openat`, no `O_BENEATH`/`openat2`, and no way to list or open
 * anything relative to a directory handle; `/proc/self/fd` paths need
 * `--allow-all`, and under a scoped `--allow-read` Deno resolves symlinks
 * itself before it opens (so `O_NOFOLLOW` does not reach the last component).
 * Checking a path and then opening it is therefore never enough. Instead,
 * every read proves after the fact that the file it holds open is an entry
 * of the folder:
 *
 * 1. The path is resolved with `lstat` on names directly in the folder,
 *    following symlinks by hand (`readlink`) only while they stay inside.
 * 2. The file is opened (`O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`, so a FIFO or
 *    terminal swapped in at the last moment cannot block or attach) and
 *    `fstat` on the open descriptor must show a regular file with exactly
 *    one link.
 * 3. `lstat` of the same name, taken after the open, must show the same
 *    device and inode.
 *
 * The descriptor pins its inode, so inode numbers cannot be reused while it
 * is open. The folder is created by the host, and whoever can write inside
 * it cannot move the folder itself, so the `lstat` in step 3 looks the name
 * up in the folder and follows nothing: "same inode" means the opened file
 * *is* that entry of the folder at that moment, and "one link" means it has
 * no other name anywhere (a file only reachable through a symlink out of
 * the folder would need a second name inside to pass step 3). A swap at any
 * moment either changes the inode, and the read is refused, or was undone
 * to a file that was inside all along. This holds whatever the attacker
 * knows of this code. (One assumption: `fs.protected_hardlinks`, on by
 * default on Linux, so nobody can hard-link a file they may not read into
 * the folder and unlink it again between steps 2 and 3.)
 *
 * Deeper paths (`sub/file`) cannot be made safe this way: a lookup of
 * `sub/file` by path resolves `sub` again, and a folder swapped for a
 * symlink and back between two system calls keeps its inode (and Linux does
 * not move its ctime within one clock tick), so no check made of paths sees
 * it; the attack test got one read of `/etc/passwd` in 3,000 with checks of
 * every folder on the way before and after the open. They need a lookup
 * relative to a directory the host holds open, which Deno offers in one
 * case: under `--allow-all` it passes `/proc/self/fd/<fd>/<name>` to the
 * kernel unchanged, and the kernel resolves `<fd>` to the open directory
 * itself. The host then walks like `openat` (and Go's `os.Root`, which sup
 * uses) does: each folder is opened `O_DIRECTORY | O_NOFOLLOW` relative to
 * the one before, so a swap can only change which entry of a folder the
 * host already holds is opened, never lead out of it. Under narrower flags
 * (the ones the docs recommend), files in subfolders are not served and
 * `list_directory` lists the folder itself only; the refusal says so.
 * (`..` and symlinks are resolved by hand in both cases, as long as they
 * stay inside: `sub/../a.txt` reads `a.txt`.)
 *
 * @module
 */
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { isAbsolute, normalize, relative, sep } from "node:path";

/** A refused or failed file operation; the message is safe to show the plugin. */
export class FileAccessError extends Error {}

/**
 * Characters kept as they are when a plugin name becomes a directory name;
 * everything else (including `.`, `/` and `:`) is percent-encoded, so
 * `a:b`, `a/b`, `..` and `a` map to distinct, harmless directories.
 */
const SAFE = /[A-Za-z0-9_-]/;
/** Longest file name Linux and macOS accept (bytes; the encoding is ASCII). */
const NAME_MAX = 255;
/** How much of a hashed name's encoding is kept in front, for people. */
const READABLE_PREFIX = 120;

/**
 * The directory name used for a plugin name. Names are percent-encoded;
 * when that is longer than a file name may be (a name of 86 bytes that all
 * need escaping is already too long), the directory is the start of the
 * encoding, a `.` and the SHA-256 of the whole name. A `.` never appears in
 * an encoded name, so hashed and unhashed directories cannot collide, and
 * every name that fitted before keeps its directory.
 *
 * @example
 * ```ts
 * import { pluginDirName } from "./files.ts";
 * console.log(pluginDirName("a:b")); // a%3Ab
 * console.log(pluginDirName("é".repeat(50)).length); // 185
 * ```
 */
export function pluginDirName(name: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(name)) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(ch)
      ? ch
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  if (out.length <= NAME_MAX) return out;
  let prefix = out.slice(0, READABLE_PREFIX);
  // Do not cut an escape in half.
  const pct = prefix.lastIndexOf("%");
  if (pct > prefix.length - 3) prefix = prefix.slice(0, pct);
  return `${prefix}.${createHash("sha256").update(name).digest("hex")}`;
}

/** Symlinks followed in one lookup before giving up, as Linux does. */
const MAX_SYMLINKS = 40;
/** Cap of {@link readConfined} when the caller gives none. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A directory lookups start from: by path (the plugin folder itself), or by
 * a descriptor the host holds (`/proc/self/fd/<fd>`, see the module comment).
 */
interface Base {
  /** Prefix of lookups in this directory. */
  base: string;
}

/** Where a plugin path leads. */
type Walked =
  | { kind: "file"; path: string; rel: string; stat: BigIntStats }
  | { kind: "dir"; base: string; rel: string; depth: number };

function parts(path: string): string[] {
  return path.split("/").filter((p) => p !== "" && p !== ".");
}

function fail(rel: string, what: string): never {
  throw new FileAccessError(`${rel}: ${what}`);
}

/** An errno-style error as words, without the host path Node puts in messages. */
function describe(cause: unknown): string {
  if (cause instanceof Deno.errors.NotCapable) {
    return "permission denied (the host process may not read here)";
  }
  const code = (cause as { code?: string }).code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "ENOTDIR":
      return "not a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ELOOP":
      return "is a symbolic link";
    case "ENAMETOOLONG":
      return "file name too long";
    default:
      return `cannot open (${code ?? "unknown error"})`;
  }
}

function lstatOf(path: string, rel: string): BigIntStats {
  try {
    return lstatSync(path, { bigint: true });
  } catch (cause) {
    fail(rel, describe(cause));
  }
}

function kind(st: BigIntStats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "an unknown kind of file";
}

const SUBFOLDER =
  "only the top level of the plugin folder is served (Deno cannot open deeper paths race-free without --allow-all)";

/**
 * Follow `requested` inside the folder one component at a time, expanding
 * symlinks by hand so that no lookup the host relies on follows one. By
 * path (`fds` false) every lookup is of a name directly in the folder; with
 * descriptors each lookup is relative to the directory the walk holds open,
 * and `held` collects those descriptors for the caller to close.
 */
function walk(
  realRoot: string,
  requested: string,
  fds: { rootFd: number; held: number[] } | null,
): Walked {
  if (requested.includes("\0")) {
    throw new FileAccessError("path contains a NUL byte");
  }
  // sup strips the leading slash so absolute paths name files in the folder.
  const pending = parts(requested);
  const root: Base = {
    base: fds ? `/proc/self/fd/${fds.rootFd}` : realRoot,
  };
  // The directories walked into, below the folder; `names` says which.
  const dirs: Base[] = [root];
  const names: string[] = [];
  let links = 0;
  // Descriptors stay open (in `held`) until the caller is done.
  const leave = (keep: number) => {
    dirs.length = keep;
    names.length = keep - 1;
  };
  const escape = (): never => {
    throw new FileAccessError(
      links > 0
        ? `${
          requested.replace(/^\/+/, "")
        }: leads out of the plugin data directory (through a symlink)`
        : `path escapes the plugin data directory: ${requested}`,
    );
  };
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === "..") {
      // `dirs` holds real directories only, so `..` is arithmetic.
      if (names.length === 0) escape();
      leave(dirs.length - 1);
      continue;
    }
    const rel = [...names, name].join("/");
    if (fds === null && names.length > 0) {
      fail(rel, `is in a subfolder; ${SUBFOLDER}`);
    }
    const path = `${dirs.at(-1)!.base}/${name}`;
    const st = lstatOf(path, rel);
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) {
        fail(rel, "too many levels of symbolic links");
      }
      let target: string;
      try {
        target = readlinkSync(path);
      } catch (cause) {
        fail(rel, describe(cause));
      }
      if (isAbsolute(target)) {
        // Allowed only when it names a place inside the folder.
        target = relative(realRoot, normalize(target));
        if (
          target === ".." || target.startsWith(".." + sep) || isAbsolute(target)
        ) escape();
        leave(1);
      }
      // A relative target starts in the directory that holds the link.
      pending.unshift(...parts(target));
      continue;
    }
    if (!st.isDirectory()) {
      if (pending.length > 0) fail(rel, "not a directory");
      return { kind: "file", path, rel, stat: st };
    }
    if (fds === null) {
      // Nothing is opened: only `..` may follow (checked above).
      dirs.push({ base: path });
    } else {
      let fd: number;
      try {
        fd = openSync(
          path,
          constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
        );
      } catch (cause) {
        fail(rel, describe(cause));
      }
      fds.held.push(fd);
      dirs.push({ base: `/proc/self/fd/${fd}` });
    }
    names.push(name);
  }
  return {
    kind: "dir",
    base: dirs.at(-1)!.base,
    rel: names.join("/") || ".",
    depth: names.length,
  };
}

/**
 * Whether this process may look names up relative to a directory it holds
 * open, through `/proc/self/fd/<fd>/<name>`. Deno allows those paths only
 * under `--allow-all`, and then hands them to the kernel unchanged, which
 * resolves `<fd>` to the open directory itself (an `openat` in all but
 * name). Asked once per process.
 */
let fdLookups: boolean | undefined;
function fdLookupsWork(rootFd: number): boolean {
  if (fdLookups === undefined) {
    try {
      lstatSync(`/proc/self/fd/${rootFd}`);
      fdLookups = true;
    } catch {
      fdLookups = false;
    }
  }
  return fdLookups;
}

/**
 * Run `fn` on the walk of `requested`, with directory descriptors when the
 * process may use them, and close every descriptor afterwards.
 */
function walking<T>(
  root: string,
  requested: string,
  fn: (w: Walked) => T,
): T {
  const realRoot = realRootOf(root);
  // By path, nothing needs holding open (once the process knows).
  if (fdLookups === false) return fn(walk(realRoot, requested, null));
  let rootFd: number;
  try {
    rootFd = openSync(realRoot, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (cause) {
    throw new FileAccessError(
      `the plugin data directory is not available: ${describe(cause)}`,
    );
  }
  const held: number[] = [];
  try {
    const fds = fdLookupsWork(rootFd) ? { rootFd, held } : null;
    return fn(walk(realRoot, requested, fds));
  } finally {
    for (const fd of held) closeSync(fd);
    closeSync(rootFd);
  }
}

/** Step 3 for the entry: the open descriptor is the entry the walk found. */
function sameEntry(w: { path: string; rel: string }, held: BigIntStats): void {
  let now: BigIntStats | undefined;
  try {
    now = lstatSync(w.path, { bigint: true });
  } catch { /* reported below */ }
  if (now === undefined || now.dev !== held.dev || now.ino !== held.ino) {
    fail(w.rel, "changed while being opened; refused");
  }
}

function realRootOf(root: string): string {
  try {
    return realpathSync(root);
  } catch (cause) {
    throw new FileAccessError(
      `the plugin data directory is not available: ${describe(cause)}`,
    );
  }
}

function openNoFollow(w: { path: string; rel: string }, extra: number): number {
  try {
    return openSync(
      w.path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK |
        constants.O_NOCTTY | extra,
    );
  } catch (cause) {
    fail(w.rel, describe(cause));
  }
}

/** Read from `fd` until end of file, but never more than `maxBytes + 1` bytes. */
function readAtMost(
  fd: number,
  expected: number,
  maxBytes: number,
  rel: string,
): Uint8Array {
  const limit = maxBytes + 1;
  let buf = new Uint8Array(Math.min(limit, expected + 1));
  let used = 0;
  for (;;) {
    if (used === buf.length) {
      if (buf.length === limit) break;
      const bigger = new Uint8Array(Math.min(limit, buf.length * 2));
      bigger.set(buf);
      buf = bigger;
    }
    const n = readSync(fd, buf, used, buf.length - used, null);
    if (n === 0) break;
    used += n;
  }
  if (used > maxBytes) tooLarge(rel, maxBytes);
  return buf.subarray(0, used);
}

function tooLarge(rel: string, maxBytes: number): never {
  fail(
    rel,
    `the file is larger than ${maxBytes.toLocaleString("en-US")} bytes${
      maxBytes === 0 ? "" : " (the plugin's remaining memory for this call)"
    }`,
  );
}

/** Options of {@link readConfined}. */
export interface ReadConfinedOptions {
  /** Largest file returned; larger ones are refused after reading at most one byte more. Default 64 MiB. */
  maxBytes?: number;
}

/**
 * Read a regular file inside `root`, race-free as the module comment
 * explains. Refuses symlinks out of `root`, hard links, FIFOs, devices,
 * sockets and files over `maxBytes`; messages name paths relative to `root`.
 *
 * @example
 * ```ts
 * import { readConfined } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * console.log(new TextDecoder().decode(readConfined(dir, "/a.txt"))); // hi
 * ```
 */
export function readConfined(
  root: string,
  requested: string,
  options: ReadConfinedOptions = {},
): Uint8Array {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return walking(root, requested, (w) => {
    if (w.kind === "dir") fail(w.rel, "not a regular file (a directory)");
    // Refuse what is plainly not a regular file before opening it: opening
    // a device can have effects of its own.
    if (!w.stat.isFile()) fail(w.rel, `not a regular file (${kind(w.stat)})`);
    const fd = openNoFollow(w, 0);
    try {
      const held = fstatSync(fd, { bigint: true });
      if (!held.isFile()) fail(w.rel, `not a regular file (${kind(held)})`);
      if (held.nlink !== 1n) {
        fail(
          w.rel,
          `the file has ${held.nlink} hard links (another name may be outside the plugin folder); refused`,
        );
      }
      sameEntry(w, held);
      if (held.size > BigInt(maxBytes)) tooLarge(w.rel, maxBytes);
      return readAtMost(fd, Number(held.size), maxBytes, w.rel);
    } finally {
      closeSync(fd);
    }
  });
}

/**
 * List the names in the plugin folder, sorted. `requested` must lead to the
 * folder itself (`.`, `/`, `sub/..`): a subfolder cannot be listed
 * race-free without `openat` (see the module comment), so it is refused.
 *
 * @example
 * ```ts
 * import { listConfined } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * console.log(listConfined(dir, ".")); // [ "a.txt" ]
 * ```
 */
export function listConfined(root: string, requested: string): string[] {
  return walking(root, requested, (w) => {
    if (w.kind === "file") {
      throw new FileAccessError("Path is not a directory");
    }
    // A subfolder by path could be swapped between check and listing.
    if (w.depth > 0 && !w.base.startsWith("/proc/self/fd/")) {
      fail(w.rel, `is a subfolder; ${SUBFOLDER}`);
    }
    try {
      return readdirSync(w.base).sort();
    } catch (cause) {
      fail(w.rel, describe(cause));
    }
  });
}
