/**
 * `buildPlugins`: compiles from source, skips what is up to date, and
 * rebuilds when a PDK source changes.
 */
import assert from "node:assert/strict";
import {
  buildPlugins,
  listPlugins,
  PLUGINS_DIR,
  wasmPathOf,
} from "../plugins/build.ts";

Deno.test("buildPlugins: incremental, and a PDK change rebuilds", async () => {
  assert.deepEqual(await listPlugins(), [
    "counter",
    "probe",
    "ratelimit",
    "settings",
  ]);
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

Deno.test("buildPlugins: an unknown plugin name is an error", async () => {
  await assert.rejects(
    buildPlugins({ only: ["nope"] }),
    /no plugin "nope" in .*plugins\/ \(have: counter, probe, ratelimit, settings\)/,
  );
});
