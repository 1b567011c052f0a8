// The near cache against a real redis-server: hot reads are answered
// locally, another instance's write reaches this instance through a
// CLIENT TRACKING invalidation, this instance reads its own writes at
// once, expired entries are never returned, and a reconnect forgets
// everything kept (invalidations may have been lost meanwhile).
import assert from "node:assert/strict";
import { InvalidInputError } from "../mod.ts";
import { RedisBackend } from "../src/storage/redis/backend.ts";
import { NearCache } from "../src/storage/redis/near_cache.ts";
import { RedisServer, redisSkip } from "./support/redis_server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const tick = () => new Promise((r) => setTimeout(r, 0));

function nearTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `[redis] ${name}${redisSkip ? ` (skipped: ${redisSkip})` : ""}`,
    ignore: redisSkip !== null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

function set(b: RedisBackend, key: string, value: string, at: number | null) {
  const bytes = enc.encode(value);
  return b.set(
    0,
    "n",
    key,
    bytes,
    at,
    key.length + bytes.length,
    Date.now(),
    null,
  );
}

/** Read until `want` shows up, yielding to the event loop between reads. */
async function readUntil(b: RedisBackend, key: string, want: string | null) {
  for (let i = 0; i < 2_000; i++) {
    const e = await b.get(0, "n", key, Date.now());
    if ((e ? dec.decode(e.value) : null) === want) return i;
    await tick();
  }
  throw new Error(`never saw ${want} for ${key}`);
}

Deno.test("NearCache: a reply that raced with an invalidation is not kept", () => {
  const near = new NearCache(2);
  const mark = near.begin("k");
  near.invalidate("k");
  near.settle("k", mark, null);
  assert.equal(near.lookup("k"), undefined);
  // Least recently used goes first.
  for (const k of ["a", "b"]) near.settle(k, near.begin(k), null);
  near.lookup("a");
  near.settle("c", near.begin("c"), null);
  assert.equal(near.lookup("b"), undefined);
  assert.equal(near.lookup("a"), null);
});

nearTest(
  "hot reads are local, and another instance's write arrives as an invalidation",
  async () => {
    const server = await RedisServer.start();
    const a = await RedisBackend.open({ url: server.url });
    const b = await RedisBackend.open({ url: server.url, nearCache: true });
    try {
      await set(a, "k", "one", null);
      assert.equal(await readUntil(b, "k", "one"), 0);
      // Kept: with the server frozen, the read still answers.
      server.pause();
      try {
        const e = await b.get(0, "n", "k", Date.now());
        assert.equal(dec.decode(e!.value), "one");
        // The copy handed out is the caller's to change.
        e!.value[0] = 0;
        assert.equal(
          dec.decode((await b.get(0, "n", "k", Date.now()))!.value),
          "one",
        );
      } finally {
        server.resume();
      }
      // Another instance writes; the invalidation reaches b.
      await set(a, "k", "two", null);
      await readUntil(b, "k", "two");
      await a.delete(0, "n", "k", Date.now());
      await readUntil(b, "k", null);
      // Absent keys are kept too, and invalidated when they appear.
      await set(a, "k", "three", null);
      await readUntil(b, "k", "three");
    } finally {
      await a.close();
      await b.close();
      await server.dispose();
    }
  },
);

nearTest("an instance reads its own writes at once", async () => {
  const server = await RedisServer.start();
  const b = await RedisBackend.open({ url: server.url, nearCache: true });
  try {
    await set(b, "k", "one", null);
    assert.equal(
      dec.decode((await b.get(0, "n", "k", Date.now()))!.value),
      "one",
    );
    await set(b, "k", "two", null);
    assert.equal(
      dec.decode((await b.get(0, "n", "k", Date.now()))!.value),
      "two",
    );
    await b.increment(0, "n", "c", 1, null, 1, Date.now(), null);
    await b.get(0, "n", "c", Date.now());
    await b.increment(0, "n", "c", 1, null, 1, Date.now(), null);
    assert.equal(
      dec.decode((await b.get(0, "n", "c", Date.now()))!.value),
      "2",
    );
    await b.commit(
      0,
      "n",
      [],
      [{ key: "k", value: null, expiresAt: null, size: 0 }],
      Date.now(),
      null,
    );
    assert.equal(await b.get(0, "n", "k", Date.now()), undefined);
  } finally {
    await b.close();
    await server.dispose();
  }
});

nearTest("a kept entry is never returned past its expiry", async () => {
  const server = await RedisServer.start();
  const b = await RedisBackend.open({ url: server.url, nearCache: true });
  try {
    const at = Date.now() + 200;
    await set(b, "k", "v", at);
    assert.ok(await b.get(0, "n", "k", Date.now()));
    assert.equal(await b.get(0, "n", "k", at), undefined);
  } finally {
    await b.close();
    await server.dispose();
  }
});

nearTest("a reconnect forgets everything kept", async () => {
  const server = await RedisServer.start(); // no AOF: a restart loses the data
  const b = await RedisBackend.open({
    url: server.url,
    nearCache: true,
    commandTimeoutMs: 500,
  });
  try {
    await set(b, "k", "v", null);
    assert.ok(await b.get(0, "n", "k", Date.now()));
    await server.stop("SIGKILL");
    await server.restart();
    // Once reconnected, the kept value (gone from the server) is not served.
    for (let i = 0; i < 200; i++) {
      try {
        await b.usage(0, "n"); // a request on the main connection: is it back?
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await readUntil(b, "k", null);
  } finally {
    await b.close();
    await server.dispose();
  }
});

Deno.test("nearCache is refused for a cluster and checked", async () => {
  await assert.rejects(
    () =>
      RedisBackend.open({ cluster: ["redis://127.0.0.1:1"], nearCache: true }),
    InvalidInputError,
  );
  await assert.rejects(
    () =>
      RedisBackend.open({
        url: "redis://127.0.0.1:1",
        nearCache: { maxEntries: 0 },
      }),
    /nearCache.maxEntries must be a positive whole number, got 0/,
  );
});
