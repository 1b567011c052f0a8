/**
 * `buildPlugins`: compiles from source, skips what is up to date, and
 * rebuilds when a PDK source changes.
 */
import assert from "node:assert/strict";
import {
  buildPlugins,
  FIXTURES_DIR,
  listPlugins,
  PLUGINS_DIR,
  wasmPathOf,
} from "../plugins/build.ts";

Deno.test("buildPlugins: incremental, and a PDK change rebuilds", async () => {
  // Examples only: the probe is a test fixture.
  assert.deepEqual(await listPlugins(), ["counter", "ratelimit", "settings"]);
  assert.deepEqual(await listPlugins(FIXTURES_DIR), ["probe"]);
  await buildPlugins({ only: ["counter"] });
  const [again] = await buildPlugins({ only: ["counter"] });
  assert.deepEqual(again, {
    name: "counter",
    wasmPath: wasmPathOf("counter"),
    compiled: false,
  });
  // Touch a PDK source (same content, new mtime): the plugin is stale.
  const now = new Date();
  await Deno.utime(`${PLUGINS_DIR}pdk/json.ts`, now, now);
  const [rebuilt] = await buildPlugins({ only: ["counter"] });
  assert.equal(rebuilt.compiled, true);
  const module = new WebAssembly.Module(await Deno.readFile(rebuilt.wasmPath));
  assert.ok(
    WebAssembly.Module.exports(module).some((e) => e.name === "handle_message"),
  );
  assert.equal((await buildPlugins({ only: ["counter"] }))[0].compiled, false);
  // No env.abort import: Extism hosts do not provide one.
  assert.ok(
    !WebAssembly.Module.imports(module).some((i) => i.module === "env"),
  );
});

Deno.test("buildPlugins: a fixture builds beside its source", async () => {
  const [probe] = await buildPlugins({ only: ["probe"] });
  assert.equal(probe.wasmPath, `${FIXTURES_DIR}probe/probe.wasm`);
  const module = new WebAssembly.Module(await Deno.readFile(probe.wasmPath));
  assert.ok(WebAssembly.Module.exports(module).some((e) => e.name === "run"));
});

Deno.test("buildPlugins: an unknown plugin name is an error", async () => {
  await assert.rejects(
    buildPlugins({ only: ["nope"] }),
    /no plugin "nope" in .*plugins\/ or .*tests\/fixtures\/plugins\/ \(have: counter, ratelimit, settings, probe\)/,
  );
});
