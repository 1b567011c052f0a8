/**
 * The PDK against sup-cache's real host (through `loadPlugin`, on a real
 * SQLite file): sup's JSON host functions as the PDK's `getCache`/`setCache`
 * and friends use them, and the binary-safe ABI, checked against what the
 * cache API sees. Uses the `probe` fixture plugin.
 */
import assert from "node:assert/strict";
import { createSupCache, loadPlugin, type SupCache } from "../mod.ts";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";

await buildPlugins({ only: ["probe"] });
const WASM = wasmPathOf("probe");
const enc = new TextEncoder();
const dec = new TextDecoder();
const hex = (b: Uint8Array) =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

type Run = (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>;

async function withProbe(
  fn: (run: Run, cache: SupCache) => Promise<void>,
  options: { limits?: { maxValueBytes?: number }; name?: string } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sup-abi-" });
  try {
    await using cache = await createSupCache({
      dataDir: dir,
      limits: options.limits,
    });
    await using p = await loadPlugin(WASM, { cache, name: options.name });
    await fn(
      async (cmd) => (await p.call("run", JSON.stringify(cmd)))!.json(),
      cache,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sup ABI: setCache/getCache round-trip through sup's host functions", async () => {
  await withProbe(async (run, cache) => {
    const ns = cache.namespace("probe");
    const tricky =
      'quote " backslash \\ newline \n tab \t ñ 🎉 \u0001 </script>';
    assert.deepEqual(
      await run({ op: "sup_set_cache", key: 'k"ey', value: tricky }),
      { error: null },
    );
    assert.equal(dec.decode((await ns.get('k"ey'))!), tricky);
    assert.deepEqual(await run({ op: "sup_get_cache", key: 'k"ey' }), {
      found: true,
      value: tricky,
      error: null,
    });
    // sup's miss is a miss to the PDK, not an error.
    assert.deepEqual(await run({ op: "sup_get_cache", key: "absent" }), {
      found: false,
      value: "",
      error: null,
    });
    // An empty value is found (sup's host omits "data" for it).
    await run({ op: "sup_set_cache", key: "empty", value: "" });
    assert.deepEqual(await run({ op: "sup_get_cache", key: "empty" }), {
      found: true,
      value: "",
      error: null,
    });
    // Written by the host side, read by the plugin; and the binary ABI sees
    // the same keyspace.
    await ns.set("from-host", "hello");
    assert.equal(
      (await run({ op: "sup_get_cache", key: "from-host" })).value,
      "hello",
    );
    assert.deepEqual(await run({ op: "cache_get", key: 'k"ey' }), {
      status: "hit",
      hex: hex(enc.encode(tricky)),
    });
    // An expired entry is a miss.
    await ns.set("short", "x", { ttl: 1 });
    const deadline = Date.now() + 10_000;
    while (await ns.has("short")) {
      assert.ok(Date.now() < deadline);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(await run({ op: "sup_get_cache", key: "short" }), {
      found: false,
      value: "",
      error: null,
    });
  });
});

Deno.test("sup ABI: store functions use the never-expiring keyspace; refusals reach the plugin", async () => {
  await withProbe(async (run, cache) => {
    assert.deepEqual(
      await run({ op: "sup_set_store", key: "s:1", value: "one" }),
      { error: null },
    );
    await run({ op: "sup_set_store", key: "s:2", value: "two" });
    await run({ op: "sup_set_store", key: "t:1", value: "other" });
    assert.equal(await cache.namespace("probe").has("s:1"), false);
    assert.equal((await cache.store("probe").getEntry("s:1"))!.expiresAt, null);
    assert.deepEqual(await run({ op: "sup_get_store", key: "s:1" }), {
      found: true,
      value: "one",
      error: null,
    });
    assert.deepEqual(await run({ op: "sup_get_cache", key: "s:1" }), {
      found: false,
      value: "",
      error: null,
    });
    assert.deepEqual(await run({ op: "sup_list_store", prefix: "s:" }), {
      keys: ["s:1", "s:2"],
      error: null,
    });
    assert.deepEqual(await run({ op: "sup_list_store", prefix: "none" }), {
      keys: [],
      error: null,
    });
  }, {});
  await withProbe(async (run, cache) => {
    // Over the value limit: set_cache answers 1 and nothing is stored.
    assert.deepEqual(
      await run({ op: "sup_set_cache", key: "big", value: "x".repeat(64) }),
      {
        error: "set_cache failed with code 1",
      },
    );
    assert.equal(await cache.namespace("probe").has("big"), false);
  }, { limits: { maxValueBytes: 16 } });
});

Deno.test("binary ABI: bytes, TTLs, has/delete, list paging, increment, store", async () => {
  await withProbe(async (run, cache) => {
    const ns = cache.namespace("probe");
    const bytes = new Uint8Array([0, 255, 0xc3, 0x28, 10, 0, 1, 2, 3, 4, 5]);
    assert.deepEqual(
      await run({ op: "cache_set", key: "bin", hex: hex(bytes) }),
      {
        status: "hit",
        hex: "",
      },
    );
    assert.deepEqual(await ns.get("bin"), bytes);
    assert.deepEqual(await run({ op: "cache_get", key: "bin" }), {
      status: "hit",
      hex: hex(bytes),
    });
    assert.deepEqual(await run({ op: "cache_get", key: "nope" }), {
      status: "miss",
      hex: "",
    });
    await run({ op: "cache_set", key: "empty", hex: "" });
    assert.deepEqual(await run({ op: "cache_get", key: "empty" }), {
      status: "hit",
      hex: "",
    });

    const before = Date.now();
    await run({ op: "cache_set", key: "ttl", value: "v", ttl: 60_000 });
    const e = (await ns.getEntry("ttl"))!;
    assert.ok(
      e.expiresAt! >= before + 60_000 && e.expiresAt! <= Date.now() + 60_000,
    );
    await run({ op: "cache_set", key: "forever", value: "v", ttl: -1 });
    assert.equal((await ns.getEntry("forever"))!.expiresAt, null);
    await run({ op: "cache_set", key: "default", value: "v" });
    assert.ok(
      (await ns.getEntry("default"))!.expiresAt! > Date.now() + 3_000_000,
    );
    const bad = await run({ op: "cache_set", key: "bad", value: "v", ttl: -5 });
    assert.equal(bad.status, "error");
    assert.match(bad.error as string, /^sup_cache_set: /);
    assert.equal(await ns.has("bad"), false);

    assert.equal((await run({ op: "cache_has", key: "ttl" })).status, "hit");
    assert.equal((await run({ op: "cache_delete", key: "ttl" })).status, "hit");
    assert.equal(
      (await run({ op: "cache_delete", key: "ttl" })).status,
      "miss",
    );
    assert.equal((await run({ op: "cache_has", key: "ttl" })).status, "miss");

    for (let i = 0; i < 5; i++) await ns.set(`p:${i}`, "x");
    const seen: string[] = [];
    let cursor: unknown = null;
    do {
      const page = await run({
        op: "cache_list",
        prefix: "p:",
        limit: 2,
        cursor,
      });
      assert.equal(page.error, undefined);
      seen.push(...(page.keys as string[]));
      cursor = page.cursor;
    } while (cursor !== null);
    assert.deepEqual(seen, ["p:0", "p:1", "p:2", "p:3", "p:4"]);

    assert.deepEqual(await run({ op: "cache_increment", key: "n", by: 41 }), {
      value: 41,
    });
    assert.deepEqual(await run({ op: "cache_increment", key: "n" }), {
      value: 42,
    });
    assert.equal(dec.decode((await ns.get("n"))!), "42");
    const notInt = await run({ op: "cache_increment", key: "bin" });
    assert.match(notInt.error as string, /^sup_cache_increment: /);
    assert.deepEqual(await ns.get("bin"), bytes);

    await run({ op: "store_set", key: "p:s", hex: hex(bytes) });
    assert.deepEqual(await cache.store("probe").get("p:s"), bytes);
    assert.deepEqual(await run({ op: "store_list", prefix: "p:" }), {
      keys: ["p:s"],
      cursor: null,
    });
    assert.equal((await run({ op: "store_delete", key: "p:s" })).status, "hit");
    assert.equal((await run({ op: "store_get", key: "p:s" })).status, "miss");
  });
});

Deno.test("both ABIs: a plugin loaded under another name sees only its own namespace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-abi-iso-" });
  try {
    await using cache = await createSupCache({ dataDir: dir });
    await using a = await loadPlugin(WASM, { cache, name: "a" });
    await using b = await loadPlugin(WASM, { cache, name: "a:b" });
    const run = async (
      p: typeof a,
      cmd: Record<string, unknown>,
    ): Promise<Record<string, unknown>> =>
      (await p.call("run", JSON.stringify(cmd)))!.json();
    await run(a, { op: "cache_set", key: "b:k", value: "from a" });
    await run(a, { op: "sup_set_store", key: "k", value: "from a" });
    assert.equal((await run(b, { op: "cache_get", key: "k" })).status, "miss");
    assert.equal(
      (await run(b, { op: "cache_get", key: "b:k" })).status,
      "miss",
    );
    assert.equal(
      (await run(b, { op: "sup_get_store", key: "k" })).found,
      false,
    );
    assert.equal(
      (await run(a, { op: "sup_get_store", key: "k" })).value,
      "from a",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
