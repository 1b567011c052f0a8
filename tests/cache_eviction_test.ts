/**
 * Eviction instead of failure (`limits.onQuota`): a cache namespace at its
 * quota makes room, expired entries first, then the least recently used,
 * atomically with the write; the store keyspace never evicts. On every
 * backend: node:sqlite, the async SQLite wrapper, Redis and Redis Cluster
 * (tests/support/backends.ts).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  createSupCache,
  InvalidInputError,
  QuotaExceededError,
  type SupCache,
} from "../mod.ts";
import { TestClock } from "../src/testing/mod.ts";
import { TOUCH_EVERY_MS } from "../src/cache/eviction.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import { usedKey } from "../src/storage/redis/eviction.ts";
import { rawFor, testEachBackend } from "./support/backends.ts";
import { stopSharedRedis } from "./support/redis_server.ts";

const text = (bytes: Uint8Array | null) =>
  bytes === null ? null : new TextDecoder().decode(bytes);

// The same behaviour on a synchronous backend (SQLite: eviction and write
// in one transaction), on an asynchronous one without transactions (each
// step atomic on its own; tests/support/async_sqlite.ts), and on Redis and
// Redis Cluster (an eviction script, then the write's; docs/scale-out.md).
testEachBackend(
  "evict: an un-awaited write is issued before a read made after it",
  async (b) => {
    // Eviction is on (the namespace has a quota), but no write needs room:
    // the bookkeeping a write does (how full is the namespace?) must come
    // after the write's own request, or a read made right after the write
    // would overtake it on a networked backend.
    await using t = await b.open({
      limits: { maxKeys: 1_000 },
    });
    const ns = t.cache.namespace("n");
    for (let i = 0; i < 200; i++) {
      const wrote = ns.set(`k${i}`, `v${i}`);
      const read = await ns.get(`k${i}`);
      await wrote;
      assert.equal(read && new TextDecoder().decode(read), `v${i}`, `k${i}`);
      const counted = ns.increment("n");
      assert.equal(text(await ns.get("n")), String(i + 1));
      await counted;
    }
  },
);

testEachBackend(
  "evict: filling far past the key quota never fails and never passes it",
  async (b) => {
    await using t = await b.open({
      limits: { maxKeys: 100 },
    });
    const ns = t.cache.namespace("n");
    for (let i = 0; i < 3_000; i++) {
      await ns.set(`k${i}`, `value ${i}`);
      if (i % 97 === 0) assert.ok((await ns.stats()).keys <= 100);
      t.clock.advance(1);
    }
    const stats = await ns.stats();
    assert.ok(stats.keys <= 100 && stats.keys >= 90, `keys ${stats.keys}`);
    assert.equal(stats.evictions, 3_000 - stats.keys);
    // The registry reports the same (on Redis: the meta hash every process
    // counts into).
    const [info] = await t.cache.namespaces();
    assert.equal(info.keys, stats.keys);
    assert.equal(info.evictions, stats.evictions);
    // What is left is the newest writes.
    assert.equal(await ns.has("k2999"), true);
    assert.equal(await ns.has("k0"), false);
    // The counters match the rows.
    assert.equal((await ns.list({ limit: 1000 })).keys.length, stats.keys);
  },
);

testEachBackend(
  "evict: the byte quota holds too, for set, increment, setMany and atomic",
  async (b) => {
    await using t = await b.open({
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
    assert.ok((await ns.stats()).evictions > 0);
    const [info] = await t.cache.namespaces();
    assert.ok(info.bytes <= 2_000, `bytes ${info.bytes}`);
    assert.ok(info.evictions > 0);
  },
);

testEachBackend("evict: the most recently used keys survive", async (b) => {
  await using t = await b.open({
    ttl: null,
    limits: { maxKeys: 200 },
  });
  const ns = t.cache.namespace("n");
  const hot = Array.from({ length: 20 }, (_, i) => `hot${i}`);
  // The hot keys are the oldest writes of all: only their reads keep them.
  for (const k of hot) await ns.set(k, "h");
  for (let i = 0; i < 5_000; i++) {
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
  assert.ok(stats.evictions >= 4_800, `evictions ${stats.evictions}`);
  for (const k of hot) assert.equal(await ns.has(k), true, k);
});

testEachBackend(
  "evict: expired entries go first, and are not counted as evictions",
  async (b) => {
    await using t = await b.open({
      limits: { maxKeys: 100 },
    });
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

testEachBackend(
  "evict: the store is never evicted; reject refuses; a write that can never fit evicts nothing",
  async (b) => {
    await using t = await b.open({
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
    // One more that fits evicts to make room.
    await ns.set("k10", "v");
    assert.ok((await ns.stats()).keys <= 10);
    assert.ok((await ns.stats()).evictions >= 1);
    assert.equal(await store.has("k0"), true, "the store kept everything");

    await using r = await b.open({
      limits: { maxKeys: 10, onQuota: "reject" },
    });
    const rns = r.cache.namespace("n");
    for (let i = 0; i < 10; i++) await rns.set(`k${i}`, "v");
    await assert.rejects(() => rns.set("one-more", "v"), QuotaExceededError);
    assert.equal((await rns.stats()).keys, 10);
    assert.equal((await rns.stats()).evictions, 0);
  },
);

testEachBackend(
  "evict: reads are recorded coarsely, and only near the quota",
  async (b) => {
    // Read stamps are where each backend keeps them: SQLite's
    // entries.accessed_at, Redis's sorted set of last reads.
    const stamps = async (): Promise<number> => {
      if (b.redis) {
        const k = new NamespaceKeys(b.redis.options.keyPrefix, 0, "n");
        return Number((await rawFor(b.redis, usedKey(k), ["ZCARD"])).slice(1));
      }
      const db = new DatabaseSync((b.shared as { path: string }).path);
      try {
        return Number(
          db.prepare(
            "SELECT count(*) AS n FROM entries WHERE accessed_at IS NOT NULL",
          ).get()!.n,
        );
      } finally {
        db.close();
      }
    };
    const clock = new TestClock();
    {
      await using t = await b.open(
        { clock, limits: { maxKeys: 100 } },
        b.shared!,
      );
      const ns = t.cache.namespace("n");
      for (let i = 0; i < 50; i++) await ns.set(`k${i}`, "v");
      clock.advance(TOUCH_EVERY_MS);
      for (let i = 0; i < 50; i++) await ns.get(`k${i}`);
    }
    assert.equal(await stamps(), 0, "half full: reads write nothing");
    {
      await using t = await b.open(
        { clock, limits: { maxKeys: 60 } },
        b.shared!,
      );
      const ns = t.cache.namespace("n");
      // The first write looks at how full the namespace is.
      await ns.set("k0", "v");
      clock.advance(TOUCH_EVERY_MS);
      for (let i = 0; i < 100; i++) await ns.get("k1");
      await ns.get("k2");
      // Recorded reads go out (on Redis: in one script) before an
      // eviction, on a sweep tick (off here) and at close.
    }
    assert.equal(await stamps(), 2, "near the quota: one stamp per key read");
  },
  // The async wrapper lives in memory: nothing outlives its cache.
  ["node:sqlite", "redis", "redis-cluster"],
);

testEachBackend(
  "evict: two caches (two connections) filling one namespace never pass the quota together",
  async (b) => {
    await using x = await b.open({ limits: { maxKeys: 300 } }, b.shared!);
    await using y = await b.open({ limits: { maxKeys: 300 } }, b.shared!);
    const fill = async (c: SupCache, who: string) => {
      const ns = c.namespace("shared");
      for (let i = 0; i < 1_000; i++) await ns.set(who + i, "v".repeat(i % 40));
    };
    await Promise.all([fill(x.cache, "a"), fill(y.cache, "b")]);
    const [info] = await x.cache.namespaces();
    const listed = (await x.cache.namespace("shared").list({ limit: 1000 }))
      .keys.length;
    assert.ok(info.keys <= 300, `keys ${info.keys}`);
    assert.equal(info.keys, listed, "usage matches the index");
    assert.equal(info.evictions, 2_000 - info.keys);
  },
  ["node:sqlite", "redis", "redis-cluster"],
);

testEachBackend(
  "evict: two processes filling one namespace never pass the quota together",
  async (b) => {
    const script = `
      import { createSupCache } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const cache = await createSupCache({
        ...${JSON.stringify(b.shared)},
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
    // On the wall clock, as the two processes wrote. The registry holds the
    // counters (SQLite's namespaces row, Redis's meta hash); the listing
    // reads the entries themselves.
    await using cache = await createSupCache(b.shared!);
    const [info] = await cache.namespaces();
    const listed =
      (await cache.namespace("shared").list({ limit: 1000 })).keys.length;
    assert.ok(info.keys <= 300, `keys ${info.keys}`);
    assert.equal(info.keys, listed, "usage matches the index");
    assert.equal(info.evictions, 3_000 - info.keys);
  },
  ["node:sqlite", "redis", "redis-cluster"],
);

Deno.test("evict: onQuota is checked like every option", async () => {
  await assert.rejects(
    () =>
      createSupCache({
        path: ":memory:",
        limits: { onQuota: "drop" as never },
      }),
    (err: Error) =>
      err instanceof InvalidInputError && /limits\.onQuota/.test(err.message),
  );
  await assert.rejects(
    () =>
      createSupCache({
        path: ":memory:",
        limits: { onquota: "evict" } as never,
      }),
    /did you mean "onQuota"/,
  );
  await using cache = await createSupCache({ path: ":memory:" });
  assert.equal(cache.limits.onQuota, "evict");
});

Deno.test("schema 2 files upgrade to 3 in place, losing nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-evict-v2-" });
  try {
    const path = `${dir}/cache.db`;
    {
      await using cache = await createSupCache({ path });
      await cache.namespace("n").set("k", "v", { ttl: null });
      await cache.store("n").set("s", "w");
    }
    // Exactly the schema 2 tables: what schema 3 added dropped again.
    const db = new DatabaseSync(path);
    db.exec(`ALTER TABLE entries DROP COLUMN accessed_at;
      ALTER TABLE namespaces DROP COLUMN evictions;
      DROP TABLE attributions;
      UPDATE entries SET written_at = expires_at + written_at
        WHERE written_at < 0;
      PRAGMA user_version = 2;`);
    db.close();
    {
      await using cache = await createSupCache({
        path,
        limits: { maxKeys: 1 },
      });
      const ns = cache.namespace("n");
      assert.equal(new TextDecoder().decode((await ns.get("k"))!), "v");
      await ns.set("k2", "v2"); // evicts k
      assert.equal((await ns.stats()).evictions, 1);
      assert.equal(await cache.store("n").has("s"), true);
    }
    const check = new DatabaseSync(path);
    assert.equal(
      check.prepare("PRAGMA user_version").get()!.user_version,
      5,
    );
    check.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

stopSharedRedis();
