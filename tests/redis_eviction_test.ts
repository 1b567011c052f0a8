/**
 * Eviction instead of failure on Redis and Redis Cluster: the conformance
 * of tests/cache_eviction_test.ts through the same public API, on servers
 * this process starts (a single server and a 3-master cluster). A cache
 * namespace at its quota makes room, expired entries first, then the
 * least recently used; the quota always holds; the store never evicts.
 */
import assert from "node:assert/strict";
import {
  createSupCache,
  QuotaExceededError,
  type SupCache,
  type SupCacheOptions,
} from "../mod.ts";
import { TestClock } from "../src/testing/mod.ts";
import { TOUCH_EVERY_MS } from "../src/cache/eviction.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import { usedKey } from "../src/storage/redis/eviction.ts";
import { RedisBackend } from "../src/storage/redis/backend.ts";
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

/** One command to whichever node holds `key`. */
async function rawFor(t: RedisTarget, key: string, cmd: string[]) {
  const urls = t.options.url ? [t.options.url] : t.options.cluster!;
  for (const url of urls) {
    const reply = await rawCommand(Number(new URL(url).port), [...cmd, key]);
    if (!reply.startsWith("-MOVED")) return reply;
  }
  throw new Error("no node holds the key");
}

testEachRedis(
  "evict: filling far past the key quota never fails and never passes it",
  async (target) => {
    await using t = await open(target, { limits: { maxKeys: 100 } });
    const ns = t.cache.namespace("n");
    for (let i = 0; i < 3_000; i++) {
      await ns.set(`k${i}`, `value ${i}`);
      if (i % 97 === 0) assert.ok((await ns.stats()).keys <= 100);
      t.clock.advance(1);
    }
    const [info] = await t.cache.namespaces();
    assert.ok(info.keys <= 100 && info.keys >= 90, `keys ${info.keys}`);
    assert.equal(info.evictions, 3_000 - info.keys);
    const stats = await ns.stats();
    assert.equal(stats.evictions, info.evictions);
    // What is left is the newest writes.
    assert.equal(await ns.has("k2999"), true);
    assert.equal(await ns.has("k0"), false);
    // The counters match the index.
    assert.equal((await ns.list({ limit: 1000 })).keys.length, info.keys);
  },
);

testEachRedis(
  "evict: the byte quota holds too, for set, increment, setMany and atomic",
  async (target) => {
    await using t = await open(target, {
      limits: { maxBytes: 2_000, maxKeys: null },
    });
    const ns = t.cache.namespace("n");
    for (let i = 0; i < 500; i++) {
      switch (i % 4) {
        case 0:
          await ns.set(`s${i}`, "x".repeat(i % 50));
          break;
        case 1:
          await ns.increment(`i${i}`, i);
          break;
        case 2:
          await ns.setMany([[`m${i}a`, "y".repeat(30)], [`m${i}b`, "z"]]);
          break;
        case 3:
          assert.equal(
            (await ns.atomic().set(`a${i}`, "w".repeat(40)).commit()).ok,
            true,
          );
      }
      t.clock.advance(1);
      assert.ok((await ns.stats()).bytes <= 2_000);
    }
    const [info] = await t.cache.namespaces();
    assert.ok(info.bytes <= 2_000, `bytes ${info.bytes}`);
    assert.ok(info.evictions > 0);
  },
);

testEachRedis("evict: the most recently used keys survive", async (target) => {
  await using t = await open(target, {
    ttl: null,
    limits: { maxKeys: 200 },
  });
  const ns = t.cache.namespace("n");
  const hot = Array.from({ length: 20 }, (_, i) => `hot${i}`);
  // The hot keys are the oldest writes of all: only their reads keep them.
  for (const k of hot) await ns.set(k, "h");
  for (let i = 0; i < 3_000; i++) {
    await ns.set(`cold${i}`, "c");
    t.clock.advance(1_000);
    if (i % 10 === 0) {
      for (const k of hot) {
        assert.equal(await ns.has(k), true, `${k} evicted at write ${i}`);
        await ns.get(k);
      }
    }
  }
  const stats = await ns.stats();
  assert.ok(stats.keys <= 200);
  assert.ok(stats.evictions >= 2_800, `evictions ${stats.evictions}`);
  for (const k of hot) assert.equal(await ns.has(k), true, k);
});

testEachRedis(
  "evict: expired entries go first, and are not counted as evictions",
  async (target) => {
    await using t = await open(target, { limits: { maxKeys: 100 } });
    const ns = t.cache.namespace("n");
    for (let i = 0; i < 50; i++) await ns.set(`live${i}`, "v", { ttl: null });
    for (let i = 0; i < 50; i++) await ns.set(`soon${i}`, "v", { ttl: 1_000 });
    t.clock.advance(1_000);
    for (let i = 0; i < 50; i++) await ns.set(`new${i}`, "v", { ttl: null });
    const stats = await ns.stats();
    assert.equal(stats.evictions, 0);
    for (let i = 0; i < 50; i++) assert.equal(await ns.has(`live${i}`), true);
    for (let i = 0; i < 50; i++) assert.equal(await ns.has(`new${i}`), true);
  },
);

testEachRedis(
  "evict: the store is never evicted; reject refuses; a write that can never fit evicts nothing",
  async (target) => {
    await using t = await open(target, {
      limits: { maxKeys: 10, maxBytes: 1_000 },
    });
    const store = t.cache.store("s");
    for (let i = 0; i < 10; i++) await store.set(`k${i}`, "v");
    await assert.rejects(() => store.set("one-more", "v"), QuotaExceededError);
    assert.equal((await store.stats()).keys, 10);
    assert.equal((await store.stats()).evictions, 0);

    const ns = t.cache.namespace("n");
    for (let i = 0; i < 10; i++) await ns.set(`k${i}`, "v");
    await assert.rejects(
      () => ns.set("big", "x".repeat(1_000)),
      QuotaExceededError,
    );
    await assert.rejects(
      () => ns.setMany(Array.from({ length: 11 }, (_, i) => [`b${i}`, "v"])),
      QuotaExceededError,
    );
    assert.equal((await ns.stats()).keys, 10, "nothing was evicted");
    assert.equal((await ns.stats()).evictions, 0);
    // One more fits by evicting.
    await ns.set("k10", "v");
    assert.equal((await ns.stats()).keys <= 10, true);
    assert.ok((await ns.stats()).evictions >= 1);
    assert.equal(await store.has("k0"), true, "the store kept everything");

    await using r = await open(
      {
        ...target,
        options: {
          ...target.options,
          keyPrefix: target.options.keyPrefix + "r:",
        },
      },
      { limits: { maxKeys: 10, onQuota: "reject" } },
    );
    const rns = r.cache.namespace("n");
    for (let i = 0; i < 10; i++) await rns.set(`k${i}`, "v");
    await assert.rejects(() => rns.set("one-more", "v"), QuotaExceededError);
    assert.equal((await rns.stats()).keys, 10);
    assert.equal((await rns.stats()).evictions, 0);
  },
);

testEachRedis(
  "evict: reads are recorded coarsely, and only near the quota",
  async (target) => {
    const k = new NamespaceKeys(target.options.keyPrefix, 0, "n");
    const stamps = async () =>
      Number((await rawFor(target, usedKey(k), ["ZCARD"])).slice(1));
    const clock = new TestClock();
    {
      await using t = await open(target, { limits: { maxKeys: 100 } }, clock);
      const ns = t.cache.namespace("n");
      for (let i = 0; i < 50; i++) await ns.set(`k${i}`, "v");
      clock.advance(TOUCH_EVERY_MS);
      for (let i = 0; i < 50; i++) await ns.get(`k${i}`);
    }
    assert.equal(await stamps(), 0, "half full: reads write nothing");
    {
      await using t = await open(target, { limits: { maxKeys: 60 } }, clock);
      const ns = t.cache.namespace("n");
      // The first write looks at how full the namespace is.
      await ns.set("k0", "v");
      clock.advance(TOUCH_EVERY_MS);
      for (let i = 0; i < 100; i++) await ns.get("k1");
      await ns.get("k2");
      // Recorded reads go out before an eviction, on a sweep tick (off
      // here) and at close.
    }
    assert.equal(await stamps(), 2, "near the quota: one stamp per key read");
  },
);

testEachRedis(
  "evict: two caches (two connections) filling one namespace never pass the quota together",
  async (target) => {
    const a = await open(target, { limits: { maxKeys: 300 } });
    const b = await open(target, { limits: { maxKeys: 300 } });
    try {
      const fill = async (c: SupCache, who: string) => {
        const ns = c.namespace("shared");
        for (let i = 0; i < 1_000; i++) {
          await ns.set(who + i, "v".repeat(i % 40));
        }
      };
      await Promise.all([fill(a.cache, "a"), fill(b.cache, "b")]);
      const [info] = await a.cache.namespaces();
      const listed = (await a.cache.namespace("shared").list({ limit: 1000 }))
        .keys.length;
      assert.ok(info.keys <= 300, `keys ${info.keys}`);
      assert.equal(info.keys, listed, "usage matches the index");
      assert.equal(info.evictions, 2_000 - info.keys);
    } finally {
      await a.cache.close();
      await b.cache.close();
    }
  },
);

testEachRedis(
  "evict: two processes filling one namespace never pass the quota together",
  async (target) => {
    const script = `
      import { createSupCache } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const cache = await createSupCache({
        redis: ${JSON.stringify(target.options)},
        limits: { maxKeys: 300 },
      });
      const ns = cache.namespace("shared");
      for (let i = 0; i < 1500; i++) await ns.set(Deno.args[0] + i, "v".repeat(i % 40));
      await cache.close();
    `;
    const run = (who: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", script, who],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([run("a"), run("b")]);
    for (const out of outs) {
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    // On the wall clock, as the two processes wrote.
    await using cache = await createSupCache({ redis: target.options });
    const [info] = await cache.namespaces();
    const listed =
      (await cache.namespace("shared").list({ limit: 1000 })).keys.length;
    assert.ok(info.keys <= 300, `keys ${info.keys}`);
    assert.equal(info.keys, listed, "usage matches the index");
    assert.equal(info.evictions, 3_000 - info.keys);
  },
);

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
