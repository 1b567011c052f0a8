/**
 * The ratelimit example plugin end to end: its window is a per-item TTL,
 * so the test waits for the entry to expire (polling the cache, never
 * asserting how long anything took).
 */
import assert from "node:assert/strict";
import { createSupCache, loadPlugin } from "../mod.ts";
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
  await withDir(async (dir) => {
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(WASM, {
      cache,
      config: { limit: "2", window_ms: "1500" },
    });
    const hit = async (sender: string, message = "") =>
      (await p.handleMessage({ message, sender })).reply;

    assert.equal(await hit("ada"), "OK: request 1 of 2 in this window");
    const entry = await cache.namespace("ratelimit").getEntry("ratelimit:ada");
    assert.ok(
      entry !== null && entry.expiresAt !== null,
      "the window has a TTL",
    );
    assert.equal(await hit("ada"), "OK: request 2 of 2 in this window");
    assert.equal(
      await hit("ada"),
      "Slow down: 2 requests per 1500ms; the window resets when it expires",
    );
    assert.equal(
      await hit("ada", "status"),
      "3 request(s) in this window; the limit is 2",
    );
    // Another sender has its own window.
    assert.equal(await hit("bob"), "OK: request 1 of 2 in this window");
    // Increments keep the window's expiry instead of extending it.
    const after = await cache.namespace("ratelimit").getEntry("ratelimit:ada");
    assert.equal(after!.expiresAt, entry!.expiresAt);

    const deadline = Date.now() + 20_000;
    while (await cache.namespace("ratelimit").has("ratelimit:ada")) {
      assert.ok(Date.now() < deadline, "the window never expired");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(
      await hit("ada", "status"),
      "0 request(s) in this window; the limit is 2",
    );
    assert.equal(await hit("ada"), "OK: request 1 of 2 in this window");
  });
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
