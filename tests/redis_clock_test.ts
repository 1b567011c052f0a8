/**
 * The test clock on Redis and Redis Cluster, what only Redis has: Redis
 * frees expired entries on its own clock, the same time span later, so a
 * clock far from the server's (ahead or behind) neither keeps entries in
 * memory forever nor makes them vanish at once. The clock conformance
 * (expiry, listing, increment windows, the sweep) runs on every backend in
 * tests/testing_kit_test.ts.
 */
import assert from "node:assert/strict";
import { createSupCache, type SupCache } from "../mod.ts";
import { TestClock } from "../src/testing/mod.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import {
  type RedisTarget,
  stopSharedRedis,
  testEachRedis,
} from "./support/redis_server.ts";
import { rawFor } from "./support/backends.ts";

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

stopSharedRedis();
