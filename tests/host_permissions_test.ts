// The module runs under `deno run` with exactly the documented flags (no -A).
import assert from "node:assert/strict";
import { writeFixture } from "./fixtures/wat.ts";

const child =
  new URL("./fixtures/permission_child.ts", import.meta.url).pathname;

async function runChild(
  flags: string[],
  dataDir: string,
  wasm: string,
  wasi: string,
) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, child, dataDir, wasm, wasi],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** The flags the README documents, for a data directory and one plugin file. */
function documentedFlags(dataDir: string, ...wasm: string[]): string[] {
  return [
    `--allow-read=${dataDir},${wasm.join(",")},/dev/null`,
    `--allow-write=${dataDir},/dev/null`,
    "--allow-env=EXTISM_ENABLE_WASI_OUTPUT,__MINIMATCH_TESTING_PLATFORM__",
  ];
}

Deno.test("deno run with only the documented flags loads and calls a plugin with the cache", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sup-perm-data-" });
  const pluginDir = await Deno.makeTempDir({ prefix: "sup-perm-plugin-" });
  const wasm = await writeFixture(pluginDir, "bridge");
  const wasi = await writeFixture(pluginDir, "wasi");
  for (const run of [1, 2]) {
    const r = await runChild(
      documentedFlags(dataDir, wasm, wasi),
      dataDir,
      wasm,
      wasi,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      env: "SUP_TEST_GREETING=hi\0",
      increment: String(run),
      get: `{"success":true,"data":"${run}"}`,
      file: "hi",
      list: '{"success":true,"files":["hello.txt"]}',
    });
  }
});

Deno.test("without write permission on the data directory the child fails with a message naming it", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sup-perm-data-" });
  const pluginDir = await Deno.makeTempDir({ prefix: "sup-perm-plugin-" });
  const wasm = await writeFixture(pluginDir, "bridge");
  const wasi = await writeFixture(pluginDir, "wasi");
  const flags = documentedFlags(dataDir, wasm, wasi).filter((f) =>
    !f.startsWith("--allow-write")
  );
  const r = await runChild(flags, dataDir, wasm, wasi);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /write/i);
});
