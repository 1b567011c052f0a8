/**
 * File access for the sup host functions `read_file` and `list_directory`,
 * confined to one plugin's data directory. Paths are read like sup's Go host
 * reads them (`os.Root` after stripping a leading `/`): `/notes.txt` means
 * `<dir>/notes.txt`. Anything that would leave the directory, through `..`
 * or through a symlink, is refused.
 *
 * @module
 */
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, normalize, relative, sep } from "node:path";

/** A refused or failed file operation; the message is safe to show the plugin. */
export class FileAccessError extends Error {}

/**
 * Characters kept as they are when a plugin name becomes a directory name;
 * everything else (including `.`, `/` and `:`) is percent-encoded, so
 * `a:b`, `a/b`, `..` and `a` map to distinct, harmless directories.
 */
const SAFE = /[A-Za-z0-9_-]/;

/**
 * The directory name used for a plugin name.
 *
 * @example
 * ```ts
 * import { pluginDirName } from "./files.ts";
 * console.log(pluginDirName("a:b")); // a%3Ab
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
  return out;
}

/**
 * Resolve `requested` inside `root` (which must exist), following symlinks,
 * and refuse results outside `root`.
 */
export function resolveInside(root: string, requested: string): string {
  if (requested.includes("\0")) {
    throw new FileAccessError("path contains a NUL byte");
  }
  // sup strips the leading slash so absolute paths name files in the root.
  const cleaned = normalize(requested.replace(/^\/+/, "") || ".");
  if (
    cleaned === ".." || cleaned.startsWith(".." + sep) || isAbsolute(cleaned)
  ) {
    throw new FileAccessError(
      `path escapes the plugin data directory: ${requested}`,
    );
  }
  const realRoot = realpathSync(root);
  let real: string;
  try {
    real = realpathSync(join(realRoot, cleaned));
  } catch (cause) {
    throw new FileAccessError(`${requested}: ${describe(cause)}`);
  }
  const rel = relative(realRoot, real);
  if (rel === ".." || rel.startsWith(".." + sep) || isAbsolute(rel)) {
    throw new FileAccessError(
      `path leads out of the plugin data directory (through a symlink): ${requested}`,
    );
  }
  return real;
}

function describe(cause: unknown): string {
  const code = (cause as { code?: string }).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || cause instanceof Deno.errors.NotCapable) {
    return "permission denied";
  }
  return (cause as Error).message;
}

/**
 * Read a file inside `root`.
 *
 * @example
 * ```ts
 * import { readConfined } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * console.log(new TextDecoder().decode(readConfined(dir, "/a.txt"))); // hi
 * ```
 */
export function readConfined(root: string, requested: string): Uint8Array {
  const path = resolveInside(root, requested);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new FileAccessError(`${requested}: ${describe(cause)}`);
  }
}

/**
 * List the names in a directory inside `root`, sorted.
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
  const path = resolveInside(root, requested);
  if (!statSync(path).isDirectory()) {
    throw new FileAccessError("Path is not a directory");
  }
  try {
    return readdirSync(path).sort();
  } catch (cause) {
    throw new FileAccessError(`${requested}: ${describe(cause)}`);
  }
}
