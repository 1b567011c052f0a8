/**
 * The settings example plugin end to end through `loadPlugin`: structured
 * JSON per sender in the never-expiring store, written only through sup's
 * own host functions.
 */
import assert from "node:assert/strict";
import { createSupCache, loadPlugin, type SupCache } from "../mod.ts";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";

await buildPlugins({ only: ["settings"] });
const WASM = wasmPathOf("settings");
const dec = new TextDecoder();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sup-settings-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

type Plugin = Awaited<ReturnType<typeof loadPlugin>>;

async function say(
  p: Plugin,
  sender: string,
  message: string,
  timestamp = 1_700_000_000,
) {
  return await p.handleMessage({ message, sender, info: { timestamp } });
}

async function doc(cache: SupCache, sender: string): Promise<unknown> {
  const raw = await cache.store("settings").get(`settings:${sender}`);
  return raw === null ? null : JSON.parse(dec.decode(raw));
}

Deno.test("settings: set, get, show, unset; JSON per sender in the store", async () => {
  await withDir(async (dir) => {
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(WASM, { cache });
    const ada = "ada@s.whatsapp.net";
    assert.deepEqual(await say(p, ada, ""), {
      success: true,
      reply: "No settings yet. Try: .sup settings set lang en",
    });
    assert.equal((await say(p, ada, "set lang ca")).reply, "Saved lang = ca");
    const city = 'Barcelona, "Spain" \\ ñ 🎉';
    assert.equal(
      (await say(p, ada, `set city ${city}`, 1_700_000_123)).reply,
      `Saved city = ${city}`,
    );
    assert.equal((await say(p, ada, "get lang")).reply, "lang = ca");
    assert.equal((await say(p, ada, "get tz")).reply, "tz is not set");
    assert.equal(
      (await say(p, ada, "show")).reply,
      `Your settings:\nlang = ca\ncity = ${city}`,
    );
    assert.deepEqual(await doc(cache, ada), {
      values: { lang: "ca", city },
      updated_at: 1_700_000_123,
    });
    // Kept in the store: never expires, and not in the cache keyspace.
    const entry = await cache.store("settings").getEntry(`settings:${ada}`);
    assert.equal(entry!.expiresAt, null);
    assert.equal(
      await cache.namespace("settings").has(`settings:${ada}`),
      false,
    );

    assert.equal((await say(p, ada, "unset lang")).reply, "Removed lang");
    assert.equal((await say(p, ada, "unset lang")).reply, "lang was not set");
    assert.deepEqual((await doc(cache, ada) as { values: unknown }).values, {
      city,
    });
    assert.match((await say(p, ada, "set")).reply!, /^Usage: /);
    assert.match((await say(p, ada, "set lang")).reply!, /^Usage: /);
  });
});

Deno.test("settings: senders are isolated; users counts them through list_store", async () => {
  await withDir(async (dir) => {
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(WASM, { cache });
    await say(p, "ada", "set lang ca");
    await say(p, "bob", "set lang en");
    assert.equal((await say(p, "ada", "get lang")).reply, "lang = ca");
    assert.equal((await say(p, "bob", "get lang")).reply, "lang = en");
    assert.equal((await say(p, "carol", "get lang")).reply, "lang is not set");
    assert.equal(
      (await say(p, "carol", "users")).reply,
      "2 user(s) have settings",
    );
  });
});

Deno.test("settings: persist across a host restart", async () => {
  await withDir(async (dir) => {
    {
      await using cache = await createSupCache({ dataDir: dir });
      await using p = await loadPlugin(WASM, { cache });
      await say(p, "ada", "set lang ca");
    }
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(WASM, { cache });
    assert.equal((await say(p, "ada", "get lang")).reply, "lang = ca");
  });
});

Deno.test("settings: a corrupt document is reported, not overwritten", async () => {
  await withDir(async (dir) => {
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(WASM, { cache });
    await cache.store("settings").set("settings:ada", "not json");
    assert.deepEqual(await say(p, "ada", "set lang ca"), {
      success: false,
      error: "Failed to load settings: stored settings are not a JSON object",
    });
    assert.equal(
      dec.decode((await cache.store("settings").get("settings:ada"))!),
      "not json",
    );
  });
});

Deno.test("settings: imports only what sup's Go host provides, so it loads there too", async () => {
  const module = new WebAssembly.Module(await Deno.readFile(WASM));
  // sup's Go host: the Extism kernel plus these user functions
  // (bot/handlers/wasm_host_functions.go in rubiojr/sup).
  const sup = new Set([
    "read_file",
    "send_image",
    "list_directory",
    "get_cache",
    "set_cache",
    "get_store",
    "set_store",
    "exec_command",
    "list_store",
  ]);
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === "extism:host/env") continue;
    assert.equal(
      imp.module,
      "extism:host/user",
      `imports ${imp.module}.${imp.name}`,
    );
    assert.ok(sup.has(imp.name), `imports ${imp.name}, which sup's host lacks`);
  }
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  for (
    const fn of [
      "handle_message",
      "get_help",
      "get_name",
      "get_version",
      "get_topics",
      "get_required_env_vars",
    ]
  ) {
    assert.ok(exports.includes(fn), `missing export ${fn}`);
  }
});
