/**
 * The build step of sup-cache's AssemblyScript plugin kit: compiles a
 * plugin's entry file to a `.wasm` with the pinned `npm:assemblyscript`
 * compiler, so a plugin author's project needs nothing but Deno.
 *
 * In the plugin, import the kit as the package `@sup/pdk`
 * (`import { Cache, SupPlugin } from "@sup/pdk";`). The compiler looks for
 * it in the project's `node_modules/@sup/pdk` first (an author who installed
 * the kit with npm gets that copy), then uses the kit this module was loaded
 * with, read relative to `import.meta.url`: a clone or a JSR download.
 *
 * From the command line (`--allow-read`/`--allow-write` for the project;
 * run from JSR it also needs `--allow-net=jsr.io` to read the kit):
 *
 * ```sh
 * deno run --allow-read --allow-write jsr:@sup/cache/build-plugin src/index.ts greeter.wasm
 * ```
 *
 * @module
 */
import asc from "npm:assemblyscript@0.28.20/asc";
import { dirname, isAbsolute, join, resolve } from "node:path";

/** The package name plugins import the kit by. */
export const PDK_PACKAGE = "@sup/pdk";

/**
 * The compiler flags every plugin gets. `--use abort=pdkAbort` routes
 * AssemblyScript's `abort` to the kit's (a `@global` function in
 * `abort.ts`) instead of importing `env.abort`, which no Extism host
 * provides; `--runtime incremental` is AssemblyScript's default collector.
 */
export const ASC_FLAGS: readonly string[] = [
  "--optimize",
  "--runtime",
  "incremental",
  "--use",
  "abort=pdkAbort",
];

/**
 * A folder given to the compiler as a package path; reads under it never
 * touch the disk: `<it>/@sup/pdk/*.ts` are answered from this kit.
 */
const KIT_MOUNT = "/__sup_pdk_kit__";
const KIT_PREFIX = `${KIT_MOUNT}/${PDK_PACKAGE}/`;
const KIT_URL = new URL("./", import.meta.url);

/** Options of {@link buildPlugin}. */
export interface BuildPluginOptions {
  /**
   * The project folder: relative `entry`/`outFile` paths start here, and
   * `node_modules/@sup/pdk` is looked for here and above. Default: the
   * current directory.
   */
  root?: string;
  /** Extra `asc` flags after {@link ASC_FLAGS}, e.g. `["--debug"]`. */
  ascFlags?: string[];
}

/** What {@link buildPlugin} wrote. */
export interface BuiltModule {
  /** Absolute path of the `.wasm` file. */
  outFile: string;
  /** Its size in bytes. */
  size: number;
}

/**
 * A plugin did not compile (the message carries the compiler's
 * diagnostics), or the build was asked for something it cannot do.
 */
export class PluginBuildError extends Error {
  /** Create one; `message` says what to fix. */
  constructor(message: string) {
    super(message);
    this.name = "PluginBuildError";
  }
}

const OPTION_NAMES = new Set(["root", "ascFlags"]);

/**
 * Compile the AssemblyScript plugin `entry` to `outFile`. The `.wasm` is
 * written to a temporary file and renamed, so a host never reads half a
 * module. Throws {@link PluginBuildError} with the compiler's diagnostics
 * when the plugin does not compile. Calls run one at a time (the compiler
 * is not re-entrant), so concurrent calls queue.
 *
 * @example Build a plugin that uses the kit
 * ```ts
 * import { buildPlugin } from "./build.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(
 *   `${dir}/index.ts`,
 *   `import { Cache, outputString } from "@sup/pdk";
 * export function hello(): i32 {
 *   const seen = Cache.increment("seen", 1);
 *   outputString(seen.error !== null ? seen.error! : seen.value.toString());
 *   return 0;
 * }
 * `,
 * );
 * const built = await buildPlugin("index.ts", "hello.wasm", { root: dir });
 * const module = new WebAssembly.Module(await Deno.readFile(built.outFile));
 * if (!WebAssembly.Module.exports(module).some((e) => e.name === "hello")) {
 *   throw new Error("no hello export");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function buildPlugin(
  entry: string,
  outFile: string,
  options: BuildPluginOptions = {},
): Promise<BuiltModule> {
  const run = queue.then(() => compile(entry, outFile, options));
  queue = run.then(() => {}, () => {});
  return run;
}

let queue: Promise<void> = Promise.resolve();

async function compile(
  entry: string,
  outFile: string,
  options: BuildPluginOptions,
): Promise<BuiltModule> {
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      throw new PluginBuildError(
        `unknown option "${key}"; buildPlugin takes ${
          [...OPTION_NAMES].join(", ")
        }`,
      );
    }
  }
  if (!entry.endsWith(".ts")) {
    throw new PluginBuildError(
      `the entry must be an AssemblyScript .ts file; got "${entry}"`,
    );
  }
  if (!outFile.endsWith(".wasm")) {
    throw new PluginBuildError(
      `the output must be a .wasm file; got "${outFile}"`,
    );
  }
  const root = resolve(options.root ?? Deno.cwd());
  const entryPath = resolve(root, entry);
  const target = resolve(root, outFile);
  let binary: Uint8Array | null = null;
  const { error, stderr } = await asc.main(
    [
      entryPath,
      "--baseDir",
      root,
      "--path",
      KIT_MOUNT,
      "--outFile",
      target,
      ...ASC_FLAGS,
      ...(options.ascFlags ?? []),
    ],
    {
      readFile: (file: string, baseDir: string) =>
        readSource(isAbsolute(file) ? file : join(baseDir, file)),
      writeFile: (file: string, contents: Uint8Array | string) => {
        // Only the module is wanted; flags like --textFile would land here.
        if (file.endsWith(".wasm") && typeof contents !== "string") {
          binary = contents;
        }
      },
      // Only `--lib` folders are listed, and the kit passes none.
      listFiles: () => null,
    } as Parameters<typeof asc.main>[1],
  );
  if (error) {
    throw new PluginBuildError(
      `building ${entryPath} failed: ${error.message}\n${stderr.toString()}`,
    );
  }
  if (binary === null) {
    throw new PluginBuildError(
      `building ${entryPath}: the compiler wrote no .wasm`,
    );
  }
  const bytes: Uint8Array = binary;
  await Deno.mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, target);
  return { outFile: target, size: bytes.length };
}

/** A source file's text, or `null` where the compiler probes for one that is not there. */
async function readSource(path: string): Promise<string | null> {
  if (path.startsWith(KIT_PREFIX)) {
    return await readKit(path.slice(KIT_PREFIX.length));
  }
  if (path.startsWith(`${KIT_MOUNT}/`)) return null;
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    // The compiler probes node_modules folders up to `/`; one the build
    // may not read is not part of the project.
    if (
      err instanceof Deno.errors.NotFound ||
      err instanceof Deno.errors.NotCapable
    ) return null;
    throw err;
  }
}

/** A file of the kit this module came with (a clone, or JSR over https). */
async function readKit(name: string): Promise<string | null> {
  if (!/^[a-z_]+\.ts$/.test(name)) return null; // the kit is one flat folder
  const url = new URL(name, KIT_URL);
  if (url.protocol === "file:") {
    try {
      return await Deno.readTextFile(url);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  }
  const res = await fetch(url);
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new PluginBuildError(
      `reading the plugin kit from ${url} failed: HTTP ${res.status}`,
    );
  }
  return await res.text();
}

const USAGE = `usage: build.ts <entry.ts> <out.wasm> [asc flags...]
Compiles an AssemblyScript plugin that imports "${PDK_PACKAGE}".`;

if (import.meta.main) {
  const [entry, out, ...flags] = Deno.args;
  if (entry === undefined || out === undefined || entry === "--help") {
    console.error(USAGE);
    Deno.exit(entry === "--help" ? 0 : 2);
  }
  try {
    const built = await buildPlugin(entry, out, { ascFlags: flags });
    console.log(`built ${built.outFile} (${built.size} bytes)`);
  } catch (err) {
    if (!(err instanceof PluginBuildError)) throw err;
    console.error(err.message);
    Deno.exit(1);
  }
}
