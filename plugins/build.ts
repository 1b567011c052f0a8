/**
 * Builds the example plugins from their AssemblyScript sources with the
 * pinned `npm:assemblyscript` compiler, so a fresh clone needs nothing but
 * Deno. A plugin is a folder under `plugins/` (or, for the tests' fixtures,
 * `tests/fixtures/plugins/`) with an `index.ts`; its output is
 * `<folder>/<name>.wasm` (git-ignored). Builds are incremental: a
 * plugin is rebuilt only when a source of its own, of the PDK, or this
 * script is newer than its `.wasm`.
 *
 * Run: `deno task build:plugins` (add `--force` to rebuild everything).
 *
 * @module
 */
import { buildPlugin } from "./pdk/build.ts";

/** The `plugins/` folder this script lives in. */
export const PLUGINS_DIR: string = new URL(".", import.meta.url).pathname;

/**
 * Plugins the tests build the same way, which are not examples to copy
 * (`tests/fixtures/plugins/<name>/index.ts`).
 */
export const FIXTURES_DIR: string =
  new URL("../tests/fixtures/plugins/", import.meta.url).pathname;

/** Folders under `plugins/` that are not plugins. */
const NOT_PLUGINS = new Set(["pdk"]);

/** The folder holding plugin `name`'s folder: an example's or a fixture's. */
function dirOf(name: string): string {
  try {
    Deno.statSync(`${PLUGINS_DIR}${name}/index.ts`);
    return PLUGINS_DIR;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return FIXTURES_DIR;
}

/** What happened to one plugin. */
export interface BuiltPlugin {
  /** Folder name, also the plugin's default namespace in sup-cache. */
  name: string;
  /** Absolute path of the `.wasm` file. */
  wasmPath: string;
  /** `true` when it was compiled now, `false` when it was up to date. */
  compiled: boolean;
}

/** Options of {@link buildPlugins}. */
export interface BuildOptions {
  /** Only these plugins (folder names); default: every plugin folder. */
  only?: string[];
  /** Rebuild even when up to date. */
  force?: boolean;
  /** Where progress lines go; default: nowhere. */
  log?: (line: string) => void;
}

/** Path of a plugin's built module. */
export function wasmPathOf(name: string): string {
  return `${dirOf(name)}${name}/${name}.wasm`;
}

/** Names of the plugin folders (those with an `index.ts`), sorted. */
export async function listPlugins(
  dir: string = PLUGINS_DIR,
): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory || NOT_PLUGINS.has(entry.name)) continue;
    if (await exists(`${dir}${entry.name}/index.ts`)) {
      names.push(entry.name);
    }
  }
  return names.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Newest modification time among the `.ts` files of a folder (recursive). */
async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      newest = Math.max(newest, await newestSource(path));
    } else if (entry.isFile && entry.name.endsWith(".ts")) {
      newest = Math.max(newest, (await Deno.stat(path)).mtime!.getTime());
    }
  }
  return newest;
}

async function isUpToDate(name: string): Promise<boolean> {
  let built: number;
  try {
    built = (await Deno.stat(wasmPathOf(name))).mtime!.getTime();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
  const sources = Math.max(
    await newestSource(`${dirOf(name)}${name}`),
    await newestSource(`${PLUGINS_DIR}pdk`),
    (await Deno.stat(new URL(import.meta.url))).mtime!.getTime(),
  );
  return built > sources;
}

/** Compile one plugin with the kit's build step (`pdk/build.ts`). */
async function compile(name: string): Promise<void> {
  const dir = dirOf(name);
  await buildPlugin(`${name}/index.ts`, `${name}/${name}.wasm`, { root: dir });
}

/**
 * Build the plugins that are out of date (or all with `force`) and return
 * where each `.wasm` is. Throws with the compiler's diagnostics when a
 * plugin does not compile. Plugins are compiled one at a time (the compiler
 * is not re-entrant).
 */
export async function buildPlugins(
  options: BuildOptions = {},
): Promise<BuiltPlugin[]> {
  const all = await listPlugins();
  const names = options.only ?? all;
  if (names.some((name) => !all.includes(name))) {
    // Fixtures are looked up only when asked for, so the build task needs
    // no access to tests/.
    const known = [...all, ...await listPlugins(FIXTURES_DIR)];
    for (const name of names) {
      if (!known.includes(name)) {
        throw new Error(
          `no plugin "${name}" in ${PLUGINS_DIR} or ${FIXTURES_DIR} (have: ${
            known.join(", ")
          })`,
        );
      }
    }
  }
  const results: BuiltPlugin[] = [];
  for (const name of names) {
    const fresh = !options.force && await isUpToDate(name);
    if (!fresh) {
      options.log?.(`compiling ${name}`);
      await compile(name);
    }
    options.log?.(`${fresh ? "up to date" : "built"}: ${wasmPathOf(name)}`);
    results.push({ name, wasmPath: wasmPathOf(name), compiled: !fresh });
  }
  return results;
}

if (import.meta.main) {
  const force = Deno.args.includes("--force");
  const only = Deno.args.filter((a) => !a.startsWith("--"));
  await buildPlugins({
    force,
    only: only.length > 0 ? only : undefined,
    log: (line) => console.log(line),
  });
}
