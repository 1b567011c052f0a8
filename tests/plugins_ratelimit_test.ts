/**
 * The ratelimit example plugin end to end: its window is a per-item TTL,
 * so the test moves the cache's clock past it (the test kit's clock)
 * instead of sleeping.
 */
import assert from "node:assert/strict";
import { createSupCache, loadPlugin } from "../mod.ts";
import { createTestCache, loadTestPlugin } from "../src/testing/mod.ts";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";

await buildPlugins({ only: ["ratelimit"] });
const WASM = wasmPathOf("ratelimit");

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sup-ratelimit-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ratelimit: limits per sender and starts over when the TTL expires", async () => {
  await using t = await createTestCache();
  await using bot = await loadTestPlugin(WASM, {
    cache: t.cache,
    config: { limit: "2", window_ms: "1500" },
  });
  const ada = bot.as("ada");
  const hit = async (message = "") => (await ada.send(message)).reply;
  const ns = t.cache.namespace("ratelimit");

  assert.equal(await hit(), "OK: request 1 of 2 in this window");
  const entry = await ns.getEntry("ratelimit:ada");
  assert.equal(entry?.expiresAt, t.clock.now() + 1500, "the window is a TTL");
  t.clock.advance(1000);
  assert.equal(await hit(), "OK: request 2 of 2 in this window");
  assert.equal(
    await hit(),
    "Slow down: 2 requests per 1500ms; the window resets when it expires",
  );
  assert.equal(
    await hit("status"),
    "3 request(s) in this window; the limit is 2",
  );
  // Another sender has its own window.
  assert.equal(
    (await bot.send("bob", "")).reply,
    "OK: request 1 of 2 in this window",
  );
  // Increments keep the window's expiry instead of extending it.
  const after = await ns.getEntry("ratelimit:ada");
  assert.equal(after!.expiresAt, entry!.expiresAt);

  // One millisecond before the end the window still holds; at its end it
  // is gone, without a single real millisecond of waiting.
  t.clock.advance(499);
  assert.equal(
    await hit("status"),
    "3 request(s) in this window; the limit is 2",
  );
  t.clock.advance(1);
  assert.equal(await ns.has("ratelimit:ada"), false);
  assert.equal(
    await hit("status"),
    "0 request(s) in this window; the limit is 2",
  );
  assert.equal(await hit(), "OK: request 1 of 2 in this window");
  // bob's window began 1,000 ms after ada's, so it is still running.
  assert.equal(
    (await bot.send("bob", "status")).reply,
    "1 request(s) in this window; the limit is 2",
  );
});

Deno.test("ratelimit: defaults, and malformed config is a failure reply", async () => {
  await withDir(async (dir) => {
    await using cache = await createSupCache({ dataDir: dir });
    {
      await using p = await loadPlugin(WASM, { cache });
      assert.equal(
        (await p.handleMessage({ message: "", sender: "ada" })).reply,
        "OK: request 1 of 3 in this window",
      );
      const entry = await cache.namespace("ratelimit").getEntry(
        "ratelimit:ada",
      );
      assert.ok(entry!.expiresAt! <= Date.now() + 60_000);
    }
    await using bad = await loadPlugin(WASM, {
      cache,
      config: { limit: "-1" },
    });
    assert.deepEqual(await bad.handleMessage({ message: "", sender: "bob" }), {
      success: false,
      error: "config 'limit' and 'window_ms' must be positive integers",
    });
  });
});
