/**
 * Eviction on Redis and Redis Cluster, what only Redis has: the write
 * script evicts, writes and records its sender in one step. The shared
 * conformance (expired first, then least recently used; the quota always
 * holds; the store never evicts) runs on every backend, Redis included, in
 * tests/cache_eviction_test.ts.
 */
import assert from "node:assert/strict";
import { createSupCache, type SupCache, type SupCacheOptions } from "../mod.ts";
import { TestClock } from "../src/testing/mod.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import { RedisBackend } from "../src/storage/redis/backend.ts";
import { rawFor } from "./support/backends.ts";
import {
  rawCommand,
  type RedisTarget,
  stopSharedRedis,
  testEachRedis,
} from "./support/redis_server.ts";

/** A Redis-backed cache on a test clock, sweep off (as createTestCache). */
async function open(
  t: RedisTarget,
  options: Omit<SupCacheOptions, "redis"> = {},
  clock = new TestClock(),
): Promise<{ cache: SupCache; clock: TestClock } & AsyncDisposable> {
  const cache = await createSupCache({
    sweepIntervalMs: 0,
    clock,
    ...options,
    redis: t.options,
  });
  return { cache, clock, [Symbol.asyncDispose]: () => cache.close() };
}

stopSharedRedis();

/** Scripts run (EVALSHA and EVAL calls) on every node of the target. */
async function scriptCalls(t: RedisTarget): Promise<number> {
  const urls = t.options.url ? [t.options.url] : t.options.cluster!;
  let n = 0;
  for (const url of urls) {
    const info = await rawCommand(Number(new URL(url).port), [
      "INFO",
      "commandstats",
    ]);
    for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) {
      n += Number(m[1]);
    }
  }
  return n;
}

testEachRedis(
  "evict: a write at the quota evicts and lands in one script, with its attribution; a refused one evicts nothing",
  async (target) => {
    const b = await RedisBackend.open(target.options);
    try {
      const quota = { maxKeys: 32, maxBytes: 1_000_000 };
      const v = new TextEncoder().encode("v");
      const extras = { evict: { batch: 640, maxRows: 4_096 } };
      let now = Date.now();
      for (let i = 0; i < 32; i++) {
        assert.equal(
          await b.set(0, "one", `k${i}`, v, null, 3, now++, quota, extras),
          true,
        );
      }
      // Full: without the eviction request the write is refused.
      assert.equal(await b.set(0, "one", "x", v, null, 2, now++, quota), false);
      const before = await scriptCalls(target);
      assert.equal(
        await b.set(0, "one", "new", v, null, 4, now++, quota, {
          ...extras,
          sender: "ada",
        }),
        true,
      );
      assert.equal(await scriptCalls(target) - before, 1, "one script");
      const k = new NamespaceKeys(target.options.keyPrefix, 0, "one");
      // The mark and the set member landed with the write.
      assert.equal(
        // rawFor puts its key last: here the field, routed by the entry.
        await rawFor(target, "aada", ["HGET", k.entry("new")]),
        "$1\r\n1\r\n",
      );
      assert.equal(
        await rawFor(target, "3:adanew", ["ZSCORE", k.attributions]),
        "$1\r\n0\r\n",
      );
      const counts = await b.counts(0, "one");
      // max(1, min(640, 32 / 16)) = 2 of the least recently used went.
      assert.equal(counts.keys, 31);
      assert.equal(await b.getValue(0, "one", "k0", now), undefined);
      assert.equal((await b.usage(0, "one")).evictions, 2);
      // An increment too: one script evicts, writes and attributes (the
      // first one loads the script: EVALSHA, NOSCRIPT, EVAL).
      await b.increment(0, "one", "warm", 1, null, 5, now++, quota, extras);
      while ((await b.counts(0, "one")).keys < 32) {
        await b.set(0, "one", `f${now}`, v, null, 8, now++, quota, extras);
      }
      const before2 = await scriptCalls(target);
      assert.deepEqual(
        await b.increment(0, "one", "n:count", 5, null, 7, now++, quota, {
          ...extras,
          sender: "ada",
        }),
        { kind: "ok", value: 5 },
      );
      assert.equal(await scriptCalls(target) - before2, 1, "one script");
      assert.equal((await b.usage(0, "one")).evictions, 4);
      const candidates = await b.forgetCandidates("ada");
      assert.deepEqual(
        candidates.map((c) => [c.key, c.rule]).sort(),
        [["n:count", "sender"], ["new", "sender"]],
      );
      // maxRows 0: no room can be made, so nothing is evicted.
      while ((await b.counts(0, "one")).keys < 32) {
        await b.set(0, "one", `f${now}`, v, null, 8, now++, quota, extras);
      }
      const at = await b.counts(0, "one");
      assert.equal(
        await b.set(0, "one", "late", v, null, 5, now++, quota, {
          evict: { batch: 640, maxRows: 0 },
        }),
        false,
      );
      assert.deepEqual(await b.counts(0, "one"), at);
      assert.equal((await b.usage(0, "one")).evictions, 4);
    } finally {
      await b.clear(0, "one");
      await b.close();
    }
  },
);

testEachRedis(
  "evict: an overwrite counts as a use (the entry's write time, not its creation)",
  async (target) => {
    await using t = await open(target, {
      ttl: null,
      limits: { maxKeys: 200 },
    });
    const ns = t.cache.namespace("n");
    const hot = Array.from({ length: 20 }, (_, i) => `hot${i}`);
    // Created first, so by creation time the oldest of all; kept fresh
    // only by being written again.
    for (const k of hot) await ns.set(k, "h");
    for (let i = 0; i < 2_000; i++) {
      await ns.set(`cold${i}`, "c");
      t.clock.advance(1_000);
      if (i % 10 === 0) { for (const k of hot) await ns.set(k, `h${i}`); }
    }
    assert.ok((await ns.stats()).keys <= 200);
    for (const k of hot) assert.equal(await ns.has(k), true, k);
  },
);
