// Permissions, with real `deno run` children and explicit flags (never -A):
// the documented minimal flags work, each missing flag yields a message
// naming it, and a plugin reaches neither the network nor host files
// unless the caller grants them — even when the process itself may.
import assert from "node:assert/strict";
import { join } from "node:path";
import { compileWat, writeFixture } from "../fixtures/wat.ts";
import { fetchWat } from "./support/hostile_wat.ts";
import {
  cacheFlags,
  report,
  runDeno,
  supportScript,
  withTempDir,
} from "./support/common.ts";

const CACHE_CHILD = supportScript("perm_cache_child.ts");
const HOST_CHILD = supportScript("perm_host_child.ts");
const NET_CHILD = supportScript("net_child.ts");

/** The variables the npm Extism build reads at import (issue 3, README). */
const EXTISM_ENV = "EXTISM_ENABLE_WASI_OUTPUT,__MINIMATCH_TESTING_PLATFORM__";

/** The host's documented flags, as separate parts so each can be dropped. */
function hostFlags(dataDir: string, wasm: string, wasi: string) {
  return {
    read: [dataDir, wasm, wasi, "/dev/null"],
    write: [dataDir, "/dev/null"],
    env: EXTISM_ENV.split(","),
  };
}

function render(f: ReturnType<typeof hostFlags>): string[] {
  return [
    ...(f.read.length ? [`--allow-read=${f.read.join(",")}`] : []),
    ...(f.write.length ? [`--allow-write=${f.write.join(",")}`] : []),
    ...(f.env.length ? [`--allow-env=${f.env.join(",")}`] : []),
  ];
}

const figures = { tried: 0, survived: 0, lost: 0 };

async function setup(dir: string) {
  const dataDir = join(dir, "data");
  const pluginDir = join(dir, "plugins");
  await Deno.mkdir(pluginDir);
  return {
    dataDir,
    wasm: await writeFixture(pluginDir, "bridge"),
    wasi: await writeFixture(pluginDir, "wasi"),
  };
}

Deno.test("the host's documented flags load and call plugins with the cache; host files stay out of reach", () =>
  withTempDir("perm", async (dir) => {
    const { dataDir, wasm, wasi } = await setup(dir);
    for (const run of [1, 2]) {
      figures.tried++;
      const r = await runDeno(
        HOST_CHILD,
        render(hostFlags(dataDir, wasm, wasi)),
        [dataDir, wasm, wasi],
      );
      assert.equal(r.code, 0, r.stderr);
      // The counter persisted across the two processes.
      assert.deepEqual(JSON.parse(r.stdout), {
        count: String(run),
        passwd: "",
      });
      figures.survived++;
    }
  }));

Deno.test("each flag missing from the host's documented set gives a message naming it", () =>
  withTempDir("perm", async (dir) => {
    const { dataDir, wasm, wasi } = await setup(dir);
    const full = hostFlags(dataDir, wasm, wasi);
    const cases: Array<[string, ReturnType<typeof hostFlags>, string]> = [
      ["no --allow-read", { ...full, read: [] }, "--allow-read"],
      [
        "no read on the plugin file",
        { ...full, read: full.read.filter((p) => p !== wasm) },
        "--allow-read",
      ],
      [
        "no read on the data directory",
        { ...full, read: full.read.filter((p) => p !== dataDir) },
        "--allow-read",
      ],
      [
        "no read on /dev/null (WASI stdio)",
        { ...full, read: full.read.filter((p) => p !== "/dev/null") },
        "--allow-read",
      ],
      ["no --allow-write", { ...full, write: [] }, "--allow-write"],
      [
        "no write on /dev/null (WASI stdio)",
        { ...full, write: full.write.filter((p) => p !== "/dev/null") },
        "--allow-write",
      ],
      ["no --allow-env", { ...full, env: [] }, "--allow-env"],
    ];
    for (const [name, flags, named] of cases) {
      figures.tried++;
      const r = await runDeno(HOST_CHILD, render(flags), [dataDir, wasm, wasi]);
      assert.notEqual(r.code, 0, `${name}: the child succeeded`);
      assert.ok(
        (r.stderr + r.stdout).includes(named),
        `${name}: the message does not name ${named}:\n${r.stderr}`,
      );
      figures.survived++;
    }
  }));

// Regression: mod.ts re-exports the plugin host, and the npm Extism build
// reads two environment variables at import; the host now imports Extism
// (and Binaryen) on the first loadPlugin, so a cache-only script needs no
// --allow-env, as the README's "Permissions" section promises.
Deno.test("a cache-only script runs with the README's flags: --allow-read and --allow-write on the data directory", () =>
  withTempDir("perm", async (dir) => {
    const r = await runDeno(CACHE_CHILD, cacheFlags(dir), [dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "1");
  }));

Deno.test("a cache-only script missing a flag gets a message naming it", () =>
  withTempDir("perm", async (dir) => {
    const env = `--allow-env=${EXTISM_ENV}`;
    const cases: Array<[string, string[], string[], string]> = [
      [
        "no --allow-write",
        [`--allow-read=${dir}`, env],
        [dir],
        "--allow-write",
      ],
      ["no --allow-read", [`--allow-write=${dir}`, env], [dir], "--allow-read"],
      // The default data directory comes from $SUP_DATA_DIR.
      [
        "default data directory without --allow-env for it",
        [
          ...cacheFlags(dir),
          env,
        ],
        ["default"],
        "--allow-env",
      ],
    ];
    for (const [name, flags, args, named] of cases) {
      figures.tried++;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", ...flags, CACHE_CHILD, ...args],
        env: { SUP_DATA_DIR: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const message = new TextDecoder().decode(out.stderr);
      assert.notEqual(out.code, 0, `${name}: the child succeeded`);
      assert.ok(message.includes(named), `${name}: ${message}`);
      figures.survived++;
    }
  }));

Deno.test("a plugin cannot reach the network by default, even when the process may", () =>
  withTempDir("perm", async (dir) => {
    const wasm = join(dir, "net.wasm");
    await Deno.writeFile(wasm, await compileWat("fetch", fetchWat()));
    const flags = [
      "--allow-net=127.0.0.1",
      ...render({
        read: [dir, "/dev/null"],
        write: [dir, "/dev/null"],
        env: EXTISM_ENV.split(","),
      }),
    ];
    figures.tried++;
    const denied = await runDeno(NET_CHILD, flags, [dir, wasm, "none"]);
    assert.equal(denied.code, 0, denied.stderr);
    const d = JSON.parse(denied.stdout);
    assert.equal(d.requests, 0, "the request reached the server");
    assert.match(d.outcome, /^PluginError:.*not allowed/);
    figures.survived++;
    // Control: granting the host lets the same request through, so the
    // refusal above is the sandbox's doing and not a broken plugin.
    const granted = await runDeno(NET_CHILD, flags, [dir, wasm, "127.0.0.1"]);
    assert.equal(granted.code, 0, granted.stderr);
    assert.deepEqual(JSON.parse(granted.stdout), {
      outcome: "output:secret from the network",
      requests: 1,
    });
  }));

Deno.test("permission figures", () => {
  report("permissions: documented flags, missing flags, network", {
    ...figures,
  });
  assert.equal(figures.survived, figures.tried);
});
