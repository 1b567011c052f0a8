/**
 * The test clock on Redis and Redis Cluster: the conformance of
 * tests/testing_kit_test.ts through the same public API. Expiry, listing,
 * `increment` windows and the sweep follow the cache's clock; Redis still
 * frees expired entries on its own clock, the same time span later, so a
 * clock far from the server's (ahead or behind) neither keeps entries in
 * memory forever nor makes them vanish at once.
 */
import assert from "node:assert/strict";
import { createSupCache, type SupCache } from "../mod.ts";
import { TEST_EPOCH, TestClock } from "../src/testing/mod.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import {
  rawCommand,
  type RedisTarget,
  stopSharedRedis,
  testEachRedis,
} from "./support/redis_server.ts";

const text = (b: Uint8Array | null) =>
  b === null ? null : new TextDecoder().decode(b);

async function open(
  t: RedisTarget,
  clock: TestClock,
  ttl?: number,
): Promise<SupCache> {
  return await createSupCache({
    redis: t.options,
    clock,
    sweepIntervalMs: 0,
    ...(ttl === undefined ? {} : { ttl }),
  });
}

async function rawFor(t: RedisTarget, key: string, cmd: string[]) {
  const urls = t.options.url ? [t.options.url] : t.options.cluster!;
  for (const url of urls) {
    const reply = await rawCommand(Number(new URL(url).port), [...cmd, key]);
    if (!reply.startsWith("-MOVED")) return reply;
  }
  throw new Error("no node holds the key");
}

testEachRedis(
  "clock: expiry, getEntry and list follow the cache's clock, not the wall",
  async (t) => {
    const clock = new TestClock();
    await using cache = await open(t, clock);
    const ns = cache.namespace("n");
    await ns.set("short", "s", { ttl: 1_000 });
    await ns.set("long", "l", { ttl: 5_000 });
    await ns.set("forever", "f", { ttl: null });
    const entry = await ns.getEntry("short");
    assert.equal(entry?.expiresAt, TEST_EPOCH + 1_000);
    clock.advance(999);
    assert.equal(text(await ns.get("short")), "s");
    clock.advance(1);
    assert.equal(await ns.get("short"), null);
    assert.equal(await ns.has("short"), false);
    assert.deepEqual((await ns.list()).keys, ["forever", "long"]);
    clock.advance(4_000);
    assert.deepEqual((await ns.list()).keys, ["forever"]);
    await ns.set("default", "d");
    assert.equal(
      (await ns.getEntry("default"))?.expiresAt,
      clock.now() + 3_600_000,
    );
  },
);

testEachRedis(
  "clock: the sweep (purgeExpired) deletes what the clock says is expired, entries included",
  async (t) => {
    const clock = new TestClock();
    await using cache = await open(t, clock, 60_000);
    const ns = cache.namespace("n");
    await ns.setMany([["a", "1"], ["b", "2"], ["c", "3", { ttl: null }]]);
    assert.equal(await cache.purgeExpired(), 0);
    clock.advance(60_000);
    assert.equal(await cache.purgeExpired(), 2);
    const [info] = await cache.namespaces();
    assert.equal(info.keys, 1);
    // Redis would free them a minute from now on its own clock; the sweep
    // on the test clock already did.
    const k = new NamespaceKeys(t.options.keyPrefix, 0, "n");
    assert.equal(await rawFor(t, k.entry("a"), ["EXISTS"]), ":0\r\n");
    assert.equal(await rawFor(t, k.entry("c"), ["EXISTS"]), ":1\r\n");
  },
);

testEachRedis(
  "clock: an increment window (a counter with a TTL) ends on the clock",
  async (t) => {
    const clock = new TestClock();
    await using cache = await open(t, clock, 60_000);
    const ns = cache.namespace("hits");
    assert.equal(await ns.increment("ada"), 1);
    clock.advance(59_999);
    assert.equal(await ns.increment("ada"), 2);
    clock.advance(1);
    assert.equal(await ns.increment("ada"), 1);
    assert.equal(
      (await ns.getEntry("ada"))?.expiresAt,
      clock.now() + 60_000,
    );
  },
);

testEachRedis(
  "clock: a clock behind the server's keeps entries until the clock says so",
  async (t) => {
    // 1970: every expiry is decades in the server's past.
    const clock = new TestClock(1_000_000);
    await using cache = await open(t, clock);
    const ns = cache.namespace("n");
    await ns.set("k", "v", { ttl: 60_000 });
    const k = new NamespaceKeys(t.options.keyPrefix, 0, "n");
    // Redis keeps it for the same minute on its own clock.
    const at = Number(
      (await rawFor(t, k.entry("k"), ["PEXPIRETIME"])).slice(1),
    );
    assert.ok(
      Math.abs(at - (Date.now() + 60_000)) < 5_000,
      `Redis frees it at ${at}, now is ${Date.now()}`,
    );
    assert.equal(text(await ns.get("k")), "v");
    assert.equal(await ns.increment("n"), 1);
    assert.equal(await ns.increment("n"), 2);
    clock.advance(60_000);
    assert.equal(await ns.get("k"), null);
    assert.equal(await cache.purgeExpired(), 1);
  },
);

testEachRedis(
  "clock: a clock ahead of the server's still lets Redis free memory in real time",
  async (t) => {
    const clock = new TestClock(); // 2030
    await using cache = await open(t, clock);
    const ns = cache.namespace("n");
    await ns.set("k", "v", { ttl: 200 });
    const k = new NamespaceKeys(t.options.keyPrefix, 0, "n");
    assert.equal(await rawFor(t, k.entry("k"), ["EXISTS"]), ":1\r\n");
    // Not 2030: 200 ms from now on the server's clock.
    const deadline = Date.now() + 5_000;
    while ((await rawFor(t, k.entry("k"), ["EXISTS"])) !== ":0\r\n") {
      assert.ok(Date.now() < deadline, "Redis never freed the entry");
      await new Promise((r) => setTimeout(r, 50));
    }
    // The test clock has not moved: the cache says it is gone (Redis freed
    // it), and the sweep on the clock keeps usage in step later.
    assert.equal(await ns.get("k"), null);
    clock.advance(200);
    assert.equal(await cache.purgeExpired(), 1);
  },
);

testEachRedis(
  "clock: the background sweep reads the cache's clock",
  async (t) => {
    const clock = new TestClock();
    await using cache = await createSupCache({
      redis: t.options,
      clock,
      sweepIntervalMs: 20,
    });
    const ns = cache.namespace("n");
    await ns.set("a", "1", { ttl: 3_600_000 });
    await ns.set("b", "2", { ttl: null });
    clock.advance(3_600_000);
    const deadline = Date.now() + 10_000;
    while ((await ns.stats()).keys !== 1) {
      assert.ok(Date.now() < deadline, "the sweep never removed the entry");
      await new Promise((r) => setTimeout(r, 20));
    }
  },
);

stopSharedRedis();
