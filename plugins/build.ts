/**
 * Builds the example plugins from their AssemblyScript sources with the
 * pinned `npm:assemblyscript` compiler, so a fresh clone needs nothing but
 * Deno. A plugin is a folder under `plugins/` with an `index.ts`; its output
 * is `plugins/<name>/<name>.wasm` (git-ignored). Builds are incremental: a
 * plugin is rebuilt only when a source of its own, of the PDK, or this
 * script is newer than its `.wasm`.
 *
 * Run: `deno task build:plugins` (add `--force` to rebuild everything).
 *
 * @module
 */
import asc from "assemblyscript/asc";

/** The `plugins/` folder this script lives in. */
export const PLUGINS_DIR: string = new URL(".", import.meta.url).pathname;

/** Folders under `plugins/` that are not plugins. */
const NOT_PLUGINS = new Set(["pdk"]);

/**
 * Compiler flags shared by every plugin. `--use abort=` routes
 * AssemblyScript's `abort` to the PDK instead of importing `env.abort`,
 * which no Extism host provides.
 */
const ASC_FLAGS = [
  "--optimize",
  "--runtime",
  "incremental",
  "--use",
  "abort=pdk/abort/pdkAbort",
];

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
  return `${PLUGINS_DIR}${name}/${name}.wasm`;
}

/** Names of the plugin folders (those with an `index.ts`), sorted. */
export async function listPlugins(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(PLUGINS_DIR)) {
    if (!entry.isDirectory || NOT_PLUGINS.has(entry.name)) continue;
    if (await exists(`${PLUGINS_DIR}${entry.name}/index.ts`)) {
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
    await newestSource(`${PLUGINS_DIR}${name}`),
    await newestSource(`${PLUGINS_DIR}pdk`),
    (await Deno.stat(new URL(import.meta.url))).mtime!.getTime(),
  );
  return built > sources;
}

/**
 * Compile one plugin. The output is written to a temporary file and renamed,
 * so a test or a host reading the `.wasm` never sees half a module even
 * when several processes build at once.
 */
async function compile(name: string): Promise<void> {
  let binary: Uint8Array | null = null;
  const { error, stderr } = await asc.main(
    [
      `${name}/index.ts`,
      "--baseDir",
      PLUGINS_DIR,
      "--outFile",
      `${name}/${name}.wasm`,
      ...ASC_FLAGS,
    ],
    {
      readFile: async (file: string, baseDir: string) => {
        try {
          return await Deno.readTextFile(resolve(baseDir, file));
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) return null; // asc probes paths
          throw err;
        }
      },
      writeFile: (file: string, contents: Uint8Array | string) => {
        if (!file.endsWith(".wasm") || typeof contents === "string") {
          throw new Error(`unexpected compiler output ${file}`);
        }
        binary = contents;
      },
      listFiles: async (dir: string, baseDir: string) => {
        const names: string[] = [];
        try {
          for await (const e of Deno.readDir(resolve(baseDir, dir))) {
            if (e.isFile && e.name.endsWith(".ts")) names.push(e.name);
          }
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) return null;
          throw err;
        }
        return names;
      },
    } as Parameters<typeof asc.main>[1],
  );
  if (error) {
    throw new Error(
      `building plugin "${name}" failed: ${error.message}\n${stderr.toString()}`,
    );
  }
  if (binary === null) {
    throw new Error(`building plugin "${name}": the compiler wrote no .wasm`);
  }
  const target = wasmPathOf(name);
  const tmp = `${target}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, binary);
  await Deno.rename(tmp, target);
}

/** asc passes paths relative to `--baseDir` (PLUGINS_DIR). */
function resolve(baseDir: string, file: string): string {
  if (file.startsWith("/")) return file;
  return new URL(
    file,
    `file://${baseDir.endsWith("/") ? baseDir : baseDir + "/"}`,
  )
    .pathname;
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
  for (const name of names) {
    if (!all.includes(name)) {
      throw new Error(
        `no plugin "${name}" in ${PLUGINS_DIR} (have: ${all.join(", ")})`,
      );
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
