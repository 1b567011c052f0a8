/**
 * `mod.ts` imported the ways users import it, each from a real project: by
 * relative path and by `file://` URL from a project outside this repository
 * with no `deno.json`, an empty one, and `"nodeModulesDir": "auto"`; as
 * `jsr:@sup/cache` through `"links"` (how a JSR user's project resolves it);
 * and from a script that uses this repository's own `deno.json`. Each case
 * runs `deno check` and then `deno run` on a script that opens a cache, loads
 * the counter plugin built from source and calls it, in child processes.
 *
 * Why: this repository's import map applies only inside it, so a bare
 * specifier in `src/` works in our own tests and breaks for everyone else.
 * The children share the parent's `DENO_DIR`, so npm packages are not
 * downloaded again.
 */
import { deno } from "./support/command.ts";
import assert from "node:assert/strict";
import { relative } from "node:path";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";

await buildPlugins({ only: ["counter"] });
const WASM = wasmPathOf("counter");
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const MOD_URL = new URL("../mod.ts", import.meta.url).href;

/** Opens a cache, loads and calls the counter twice, prints what it saw. */
function script(specifier: string): string {
  return `import { createSupCache, loadPlugin, type SupPlugin } from ${
    JSON.stringify(specifier)
  };
const [dataDir, wasm] = Deno.args;
await using cache = await createSupCache({ dataDir });
await using counter: SupPlugin = await loadPlugin(wasm, { cache });
const replies: (string | undefined)[] = [];
for (let i = 0; i < 2; i++) {
  const out = await counter.handleMessage({ message: "inc", sender: "ada" });
  replies.push(out.reply);
}
const stored = await cache.namespace("counter").get("counter:ada");
console.log(JSON.stringify({ replies, stored: new TextDecoder().decode(stored!) }));
`;
}

interface Project {
  /** `deno.json` text (or how to make it from the project directory), or `null` for none. */
  config: string | null | ((dir: string) => string);
  /** Scripts by file name, each naming the module its own way. */
  specifiers: Record<string, (dir: string) => string>;
  /** Extra `deno` flags (the in-repository case points at our config). */
  flags?: string[];
}

async function tryProject(project: Project): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sup-import-" });
  try {
    const config = typeof project.config === "function"
      ? project.config(dir)
      : project.config;
    if (config !== null) await Deno.writeTextFile(`${dir}/deno.json`, config);
    const scripts = Object.keys(project.specifiers);
    for (const [file, specifier] of Object.entries(project.specifiers)) {
      await Deno.writeTextFile(`${dir}/${file}`, script(specifier(dir)));
    }
    const flags = project.flags ?? [];
    // One type check for all of a project's scripts: it is the slow part.
    const check = await deno(["check", ...flags, ...scripts], dir);
    assert.equal(check.code, 0, `deno check failed:\n${check.stderr}`);
    for (const file of scripts) {
      const data = `${dir}/data-${file}`;
      // No -A: no network, FFI or subprocesses, as a plugin host should run.
      const run = await deno([
        "run",
        ...flags,
        `--allow-read=${dir},${WASM},/dev/null`,
        `--allow-write=${dir},/dev/null`,
        "--allow-env",
        file,
        data,
        WASM,
      ], dir);
      assert.equal(run.code, 0, `deno run ${file} failed:\n${run.stderr}`);
      assert.deepEqual(JSON.parse(run.stdout), {
        replies: ["Counter incremented to 1", "Counter incremented to 2"],
        stored: "2",
      });
      // The cache really is a file in the importer's data directory.
      assert.ok((await Deno.stat(`${data}/cache.db`)).isFile);
    }
    if (config?.includes('"nodeModulesDir"')) {
      // The npm packages really came from the importer's node_modules
      // (Binaryen comes through assemblyscript's re-export, see sandbox.ts).
      for (const pkg of ["@extism/extism", "assemblyscript"]) {
        assert.ok((await Deno.stat(`${dir}/node_modules/${pkg}`)).isDirectory);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const byPath = (dir: string) => relative(dir, `${ROOT}/mod.ts`);
const byUrl = () => MOD_URL;
const CONFIGS: [string, string | null][] = [
  ["no deno.json", null],
  ["an empty deno.json", "{}"],
  ['"nodeModulesDir": "auto"', '{ "nodeModulesDir": "auto" }'],
];

for (const [label, config] of CONFIGS) {
  Deno.test(`import by relative path and by file:// URL from a project with ${label}`, async () => {
    await tryProject({
      config,
      specifiers: { "by_path.ts": byPath, "by_url.ts": byUrl },
    });
  });
}

Deno.test('import as jsr:@sup/cache through "links"', async () => {
  await tryProject({
    // Relative, as a project next to a clone would write it.
    config: (dir) => JSON.stringify({ links: [relative(dir, ROOT)] }),
    specifiers: { "main.ts": () => "jsr:@sup/cache" },
  });
});

Deno.test("import with this repository's deno.json", async () => {
  await tryProject({
    config: null,
    specifiers: { "main.ts": byUrl },
    flags: [`--config=${ROOT}/deno.json`],
  });
});
