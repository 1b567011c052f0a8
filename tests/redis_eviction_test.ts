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
  "evict: a cache that saw its namespace far from the quota still evicts in the write's script once another instance filled it",
  async (target) => {
    const limits = { maxKeys: 64 };
    // Two bot instances on one namespace. A looks once, while it is almost
    // empty, so its next writes leave eviction out of their requests.
    await using a = await open(target, { ttl: null, limits });
    await using b = await open(target, { ttl: null, limits }, a.clock);
    const nsA = a.cache.namespace("shared");
    const nsB = b.cache.namespace("shared");
    await nsA.set("a0", "x");
    await nsA.set("a1", "x");
    for (let i = 0; (await nsB.stats()).keys < limits.maxKeys; i++) {
      a.clock.advance(1);
      await nsB.set(`b${i}`, "x");
    }
    assert.equal((await nsB.stats()).evictions, 0, "B filled without evicting");
    a.clock.advance(1);
    const before = await scriptCalls(target);
    // A's lean request is refused; it is sent again with eviction in it,
    // not as a separate eviction script and then the write.
    await nsA.set("a2", "x");
    assert.ok(
      await scriptCalls(target) - before <= 2,
      "the refused request and the one that evicts and writes",
    );
    const stats = await nsA.stats();
    assert.ok(stats.keys <= limits.maxKeys, `${stats.keys} keys`);
    assert.ok(stats.evictions >= 1);
    assert.equal(await nsA.get("a2") !== null, true);
    // The least recently used went first: A's first key, written before B's.
    assert.equal(await nsA.has("a0"), false);
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

testEachRedis(
  "evict: a batch at the quota evicts and lands in one script, never evicting its own keys; a batch that cannot fit evicts nothing",
  async (target) => {
    const b = await RedisBackend.open(target.options);
    try {
      const quota = { maxKeys: 32, maxBytes: 1_000_000 };
      const v = new TextEncoder().encode("v");
      const w = new TextEncoder().encode("w");
      const extras = { evict: { batch: 640, maxRows: 4_096 } };
      const keys = (at: number) =>
        b.list({
          space: 0,
          ns: "many",
          from: "",
          exclusive: false,
          before: null,
          limit: 100,
          now: at,
        });
      const put = (key: string, value = w) => ({
        key,
        value,
        expiresAt: null,
        size: key.length + value.length,
      });
      let now = Date.now();
      // k0 is the least recently used, then k1, k2, ...
      for (let i = 0; i < 32; i++) {
        assert.equal(
          await b.set(0, "many", `k${i}`, v, null, 3, now++, quota),
          true,
        );
      }
      const batch = ["k0", "k1", "n0", "n1", "n2", "n3"].map((k) => put(k));
      // Full: without the eviction request the batch is refused.
      assert.equal(await b.writeMany(0, "many", batch, now++, quota), false);
      const before = await scriptCalls(target);
      assert.equal(
        await b.writeMany(0, "many", batch, now++, quota, extras),
        true,
      );
      assert.equal(await scriptCalls(target) - before, 1, "one script");
      // The batch's own k0 and k1 were the least recently used; they stay
      // (written), and the next four oldest went for the four new keys.
      assert.equal((await b.counts(0, "many")).keys, 32);
      for (const k of ["k0", "k1", "n0", "n1", "n2", "n3"]) {
        assert.deepEqual(await b.getValue(0, "many", k, now), w, k);
      }
      for (const k of ["k2", "k3", "k4", "k5"]) {
        assert.equal(await b.getValue(0, "many", k, now), undefined, k);
      }
      assert.deepEqual(await b.getValue(0, "many", "k6", now), v);
      assert.equal((await b.usage(0, "many")).evictions, 4);

      // A commit too, and a key it only checks is not evicted either: k6
      // is now the least recently used.
      const k6 = (await b.get(0, "many", "k6", now))!.version;
      const before2 = await scriptCalls(target);
      assert.equal(
        await b.commit(
          0,
          "many",
          [{ key: "k6", version: k6 }],
          [put("m0"), put("m1")],
          now++,
          quota,
          extras,
        ),
        "ok",
      );
      assert.equal(await scriptCalls(target) - before2, 1, "one script");
      assert.deepEqual(await b.getValue(0, "many", "k6", now), v);
      for (const k of ["k7", "k8"]) {
        assert.equal(await b.getValue(0, "many", k, now), undefined, k);
      }
      assert.deepEqual(await b.getValue(0, "many", "m1", now), w);
      assert.equal((await b.usage(0, "many")).evictions, 6);

      // Cannot fit: the batch names 31 of the 32 keys and adds two, so
      // evicting the one other key is not enough; nothing goes.
      const all = await keys(now);
      assert.equal(all.length, 32);
      const spared = all[all.length - 1];
      const tooBig = [...all.slice(0, -1), "late0", "late1"].map((k) => put(k));
      assert.equal(
        await b.writeMany(0, "many", tooBig, now++, quota, extras),
        false,
      );
      assert.deepEqual(await keys(now), all);
      assert.notEqual(await b.getValue(0, "many", spared, now), undefined);
      assert.equal((await b.usage(0, "many")).evictions, 6);
      assert.equal(
        await b.commit(0, "many", [], tooBig, now++, quota, extras),
        "quota",
      );
      assert.deepEqual(await keys(now), all);
      assert.equal((await b.usage(0, "many")).evictions, 6);
    } finally {
      await b.clear(0, "many");
      await b.close();
    }
  },
);

testEachRedis(
  "evict: setMany and atomic() into a full cache namespace evict in the batch's own script, counted in stats()",
  async (target) => {
    await using t = await open(target, {
      ttl: null,
      limits: { maxKeys: 32 },
    });
    const ns = t.cache.namespace("b");
    for (let i = 0; i < 32; i++) {
      await ns.set(`k${i}`, "v");
      t.clock.advance(1_000);
    }
    assert.equal((await ns.stats()).evictions, 0);
    const before = await scriptCalls(target);
    assert.equal(
      await ns.setMany([["k0", "w"], ["k1", "w"], ["n0", "w"], ["n1", "w"]]),
      4,
    );
    assert.equal(await scriptCalls(target) - before, 1, "one script");
    for (const k of ["k0", "k1", "n0", "n1"]) {
      assert.deepEqual(await ns.get(k), new TextEncoder().encode("w"), k);
    }
    // Two new keys need two evictions, at least capacity / 16 = 2 go.
    assert.equal((await ns.stats()).evictions, 2);
    assert.equal(await ns.has("k2"), false);
    assert.equal(await ns.has("k3"), false);

    const before2 = await scriptCalls(target);
    const res = await ns.atomic().set("a0", "w").set("a1", "w").set("a2", "w")
      .commit();
    assert.equal(res.ok, true);
    assert.equal(await scriptCalls(target) - before2, 1, "one script");
    assert.equal((await ns.stats()).evictions, 5);
    assert.equal((await ns.stats()).keys, 32);
  },
);
