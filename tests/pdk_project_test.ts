/**
 * The plugin kit used from a plugin author's own repository, as
 * docs/writing-plugins.md tells it: a real project in a temporary folder
 * outside this repository writes the tutorial's plugin (which imports
 * `@sup/pdk`), builds it with the documented step, loads it with
 * `loadPlugin` and checks what it stored. Four ways: the guide's `jsr:`
 * build task (JSR reached through `"links"`, as import_test.ts does for
 * mod.ts), the build step loaded from a server as JSR would serve it (so
 * the kit's sources are fetched), the build step run by path from a clone,
 * and the kit installed with npm and compiled by plain `asc`. Commands and
 * sources are taken from the guide, so the guide cannot drift from what
 * works.
 */
import { run } from "./support/command.ts";
import assert from "node:assert/strict";
import { relative } from "node:path";
import { createSupCache, loadPlugin } from "../mod.ts";
import { buildPlugin, PluginBuildError } from "../plugins/pdk/build.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const GUIDE = await Deno.readTextFile(`${ROOT}/docs/writing-plugins.md`);

/** The fenced block of `lang` that follows `marker` in the guide. */
function blockAfter(marker: string, lang: string): string {
  const at = GUIDE.indexOf(marker);
  assert.ok(at >= 0, `marker not found: ${marker}`);
  const m = GUIDE.slice(at).match(
    new RegExp("^( *)```" + lang + "[^\\n]*\\n([\\s\\S]*?)^\\1```", "m"),
  );
  assert.ok(m, `no ${lang} block after: ${marker}`);
  return m[2].replace(new RegExp(`^${m[1]}`, "gm"), "");
}

/** An inline command of the guide (it may wrap over lines). */
function inlineCommand(pattern: RegExp): string[] {
  const m = GUIDE.match(pattern);
  assert.ok(m, `no command matching ${pattern} in the guide`);
  return m[1].split(/\s+/);
}

/** The tutorial's plugin: the same source serves a clone and a project of its own. */
const PLUGIN = blockAfter("Make a folder with an `index.ts`", "ts");

/** A project folder outside the repository with the plugin at greeter/index.ts. */
async function project(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sup-pdk-project-" });
  await Deno.mkdir(`${dir}/greeter`);
  await Deno.writeTextFile(`${dir}/greeter/index.ts`, PLUGIN);
  return dir;
}

/** Load the built greeter twice over one data dir; the count must persist. */
async function assertGreets(wasm: string, dataDir: string): Promise<void> {
  for (const count of [1, 2]) {
    await using cache = await createSupCache({ dataDir });
    await using greeter = await loadPlugin(wasm, { cache });
    const out = await greeter.handleMessage({ message: "", sender: "ada" });
    assert.equal(out.reply, `Hello! That's ${count} time(s) now.`);
  }
  await using cache = await createSupCache({ dataDir });
  const stored = await cache.namespace("greeter").get("seen:ada");
  assert.equal(new TextDecoder().decode(stored!), "2");
  // Nothing an Extism host lacks: the kit's abort replaced env.abort.
  const module = new WebAssembly.Module(await Deno.readFile(wasm));
  assert.deepEqual(
    WebAssembly.Module.imports(module).filter((i) => i.module === "env"),
    [],
  );
}

Deno.test("own repository: the guide's jsr: build task and host script", async () => {
  const dir = await project();
  try {
    const config = JSON.parse(
      blockAfter("with a build task", "json"),
    );
    // JSR cannot be reached from the test; "links" makes jsr:@sup/cache
    // this checkout, which is how JSR's own copy would be laid out.
    config.links = [relative(dir, ROOT)];
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config));
    const build = await run(Deno.execPath(), ["task", "build"], dir);
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stdout, /built .*greeter\.wasm \(\d+ bytes\)/);

    const host = blockAfter("A host script in", "ts");
    assert.match(host, /from "jsr:@sup\/cache"/);
    await Deno.writeTextFile(`${dir}/main.ts`, host);
    const command = blockAfter('loadPlugin("greeter.wasm"', "sh")
      .trim().split(/\s+/);
    assert.deepEqual([command[0], command.at(-1)], ["deno", "main.ts"]);
    for (const count of [1, 2]) {
      const out = await run(Deno.execPath(), command.slice(1), dir);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `Hello! That's ${count} time(s) now.\n`);
    }
    await using cache = await createSupCache({ dataDir: `${dir}/.data` });
    const stored = await cache.namespace("greeter").get("seen:ada");
    assert.equal(new TextDecoder().decode(stored!), "2");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("own repository: the build step run by path from a clone", async () => {
  const dir = await project();
  try {
    const command = inlineCommand(
      /`(deno run [^`]*?\.\.\/sup-cache\/plugins\/pdk\/build\.ts[^`]*)`/,
    ).map((a) => a.replace("../sup-cache", relative(dir, ROOT)));
    const build = await run(Deno.execPath(), command.slice(1), dir);
    assert.equal(build.code, 0, build.stderr);
    await assertGreets(`${dir}/greeter.wasm`, `${dir}/data`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The kit's folder served over HTTP by a child process (the tests get no network). */
async function serveKit() {
  const script = `
    const root = ${JSON.stringify(`${ROOT}/plugins/pdk/`)};
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen({ port }) {
      console.log(port);
    } }, async (req) => {
      const name = new URL(req.url).pathname.replace("/plugins/pdk/", "");
      console.log(name);
      if (!/^[a-z_]+[.]ts$/.test(name)) return new Response("", { status: 404 });
      try {
        return new Response(await Deno.readFile(root + name));
      } catch {
        return new Response("", { status: 404 });
      }
    });
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=${ROOT}/plugins/pdk`,
      "-",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  // Everything the server prints: its port first, then each path asked for.
  let text = "";
  const output = (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      text += chunk;
    }
  })();
  while (!text.includes("\n")) {
    await new Promise((r) => setTimeout(r, 20));
    const status = await Promise.race([child.status, Promise.resolve(null)]);
    assert.equal(status, null, "the kit server exited");
  }
  let stopped: Promise<string[]> | null = null;
  return {
    port: Number(text.split("\n")[0]),
    /** Stop the server (once); the names of the files it was asked for. */
    stop(): Promise<string[]> {
      stopped ??= (async () => {
        child.kill();
        await child.status;
        await output;
        return text.split("\n").slice(1).filter((l) => l !== "");
      })();
      return stopped;
    },
  };
}

Deno.test("own repository: the build step loaded from a server reads the kit from it", async () => {
  // What running jsr:@sup/cache/build-plugin from JSR does: the module and
  // the kit's sources come from a server, and the project grants read and
  // write on itself only. A local server stands in for JSR.
  const server = await serveKit();
  const origin = `127.0.0.1:${server.port}`;
  const dir = await project();
  let served: string[] = [];
  try {
    const build = await run(Deno.execPath(), [
      "run",
      `--allow-import=${origin}`,
      `--allow-net=${origin}`,
      "--allow-read=.",
      "--allow-write=.",
      "--allow-env=CI",
      `http://${origin}/plugins/pdk/build.ts`,
      "greeter/index.ts",
      "greeter.wasm",
    ], dir);
    served = await server.stop();
    assert.equal(build.code, 0, build.stderr);
    // The kit's AssemblyScript sources were fetched, not read from disk.
    for (const file of ["build.ts", "index.ts", "cache.ts", "plugin.ts"]) {
      assert.ok(served.includes(file), `${file} not fetched: ${served}`);
    }
    await assertGreets(`${dir}/greeter.wasm`, `${dir}/data`);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

const npm = await run("npm", ["--version"], ROOT).catch(() => null);

Deno.test({
  name: "own repository: the kit installed with npm, compiled by plain asc",
  ignore: npm?.code !== 0,
  async fn() {
    const dir = await project();
    try {
      const install = await run("npm", [
        "install",
        "--no-audit",
        "--no-fund",
        `${relative(dir, ROOT)}/plugins/pdk`,
      ], dir);
      assert.equal(install.code, 0, install.stderr);
      const asc = inlineCommand(/`(asc greeter\/index\.ts [^`]*)`/);
      const compile = await run(Deno.execPath(), [
        "run",
        "-A",
        "npm:assemblyscript@0.28.20/asc",
        ...asc.slice(1),
      ], dir);
      assert.equal(compile.code, 0, compile.stderr);
      await assertGreets(`${dir}/greeter.wasm`, `${dir}/data`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("buildPlugin: a project's node_modules/@sup/pdk wins over the bundled kit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-pdk-pinned-" });
  try {
    // A stand-in copy with an export the bundled kit does not have: the
    // plugin compiles only if the compiler took this one.
    await Deno.mkdir(`${dir}/node_modules/@sup/pdk`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/node_modules/@sup/pdk/index.ts`,
      "export function pinnedCopy(): i32 { return 7; }\n" +
        "// @ts-ignore: decorator\n@global export function pdkAbort(" +
        "m: string | null = null, f: string | null = null, l: u32 = 0, c: u32 = 0): void { unreachable(); }\n",
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      'import { pinnedCopy } from "@sup/pdk";\nexport function seven(): i32 { return pinnedCopy(); }\n',
    );
    const built = await buildPlugin("main.ts", "out/seven.wasm", { root: dir });
    assert.equal(built.outFile, `${dir}/out/seven.wasm`);
    const { instance } = await WebAssembly.instantiate(
      await Deno.readFile(built.outFile),
    );
    assert.equal((instance.exports.seven as () => number)(), 7);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildPlugin: compiler errors and bad arguments are PluginBuildErrors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-pdk-errors-" });
  try {
    await Deno.writeTextFile(
      `${dir}/bad.ts`,
      'import { Cache } from "@sup/pdk";\nexport function f(): i32 { return Cache.nope(); }\n',
    );
    await assert.rejects(
      buildPlugin("bad.ts", "bad.wasm", { root: dir }),
      (err: Error) =>
        err instanceof PluginBuildError && /bad\.ts/.test(err.message) &&
        /nope/.test(err.message),
    );
    await assert.rejects(
      buildPlugin(
        "bad.ts",
        "bad.wasm",
        {
          root: dir,
          optimise: true,
        } as Parameters<typeof buildPlugin>[2],
      ),
      /unknown option "optimise"; buildPlugin takes root, ascFlags/,
    );
    await assert.rejects(
      buildPlugin("bad.ts", "bad.wat", { root: dir }),
      /the output must be a \.wasm file/,
    );
    // Nothing was written for the failed build.
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["bad.ts"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
