/**
 * The test kit (`@sup/cache/testing`): the cache's clock decides expiry,
 * the sweep, increment windows and the TTL range check; snapshot/restore;
 * the clock option is checked like every other option. Each behaviour runs
 * on node:sqlite, the async SQLite wrapper, Redis and Redis Cluster
 * (tests/support/backends.ts). Redis also frees expired entries on its own
 * clock, the same span later (docs/scale-out.md, "The test clock on
 * Redis"), so TTLs here are long next to the test's real duration.
 */
import assert from "node:assert/strict";
import { createSupCache, InvalidInputError } from "../mod.ts";
import {
  restore,
  snapshot,
  TEST_EPOCH,
  TestClock,
} from "../src/testing/mod.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import { rawFor, testEachBackend } from "./support/backends.ts";
import { stopSharedRedis } from "./support/redis_server.ts";

const text = (b: Uint8Array | null) =>
  b === null ? null : new TextDecoder().decode(b);

testEachBackend(
  "clock: expiry, getEntry and list follow the cache's clock, not the wall",
  async (b) => {
    await using t = await b.open();
    const ns = t.cache.namespace("n");
    await ns.set("short", "s", { ttl: 1_000 });
    await ns.set("long", "l", { ttl: 5_000 });
    await ns.set("forever", "f", { ttl: null });
    const entry = await ns.getEntry("short");
    assert.equal(entry?.expiresAt, TEST_EPOCH + 1_000);
    assert.equal(entry?.version !== undefined, true);
    t.clock.advance(999);
    assert.equal(text(await ns.get("short")), "s");
    t.clock.advance(1);
    assert.equal(await ns.get("short"), null);
    assert.equal(await ns.has("short"), false);
    assert.deepEqual((await ns.list()).keys, ["forever", "long"]);
    t.clock.advance(4_000);
    assert.deepEqual((await ns.list()).keys, ["forever"]);
    // The default TTL (1 hour) is counted from the clock too.
    await ns.set("default", "d");
    assert.equal(
      (await ns.getEntry("default"))?.expiresAt,
      t.clock.now() + 3_600_000,
    );
  },
);

testEachBackend(
  "clock: the sweep (purgeExpired) deletes what the clock says is expired",
  async (b) => {
    await using t = await b.open({ ttl: 60_000 }, b.shared ?? b.fresh());
    const ns = t.cache.namespace("n");
    await ns.setMany([["a", "1"], ["b", "2"], ["c", "3", { ttl: null }]]);
    assert.equal(await t.cache.purgeExpired(), 0);
    t.clock.advance(60_000);
    assert.equal(await t.cache.purgeExpired(), 2);
    assert.equal((await ns.stats()).keys, 1);
    assert.equal((await t.cache.namespaces())[0].keys, 1);
    if (b.redis) {
      // Redis would free them a minute from now on its own clock; the sweep
      // on the test clock already did, the entries themselves included.
      const k = new NamespaceKeys(b.redis.options.keyPrefix, 0, "n");
      assert.equal(await rawFor(b.redis, k.entry("a"), ["EXISTS"]), ":0\r\n");
      assert.equal(await rawFor(b.redis, k.entry("c"), ["EXISTS"]), ":1\r\n");
    }
  },
);

testEachBackend(
  "clock: an increment window (a counter with a TTL) ends on the clock",
  async (b) => {
    await using t = await b.open({ ttl: 60_000 });
    const ns = t.cache.namespace("hits");
    assert.equal(await ns.increment("ada"), 1);
    t.clock.advance(59_999);
    assert.equal(await ns.increment("ada"), 2);
    t.clock.advance(1);
    // Expired: the counter starts again, with a window from the new now.
    assert.equal(await ns.increment("ada"), 1);
    assert.equal(
      (await ns.getEntry("ada"))?.expiresAt,
      t.clock.now() + 60_000,
    );
  },
);

testEachBackend(
  "clock: the TTL range check counts from the clock",
  async (b) => {
    const max = 8_640_000_000_000_000;
    const clock = new TestClock(max - 10_000);
    await using t = await b.open({ clock });
    const ns = t.cache.namespace("n");
    await ns.set("k", "v", { ttl: 10_000 }); // ends on the last valid instant
    await assert.rejects(
      () => ns.set("k", "v", { ttl: 10_001 }),
      (err: Error) =>
        err instanceof InvalidInputError && /out of range/.test(err.message),
    );
    assert.equal(
      text(await ns.get("k")),
      "v",
      "the refused write lost nothing",
    );
    // The cache's default ttl is checked against the clock when it opens.
    await assert.rejects(
      () =>
        createSupCache({
          ...b.fresh(),
          clock: new TestClock(max - 10),
          ttl: 11,
        }),
      InvalidInputError,
    );
  },
);

Deno.test("clock: a bad clock is refused before anything is opened", async () => {
  for (
    const clock of [
      null,
      42,
      {},
      { now: 1 },
      { now: () => 1.5 },
      { now: () => "1" },
    ]
  ) {
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => createSupCache({ path: ":memory:", clock: clock as any }),
      (err: Error) =>
        err instanceof InvalidInputError && /options\.clock/.test(err.message),
      `clock ${JSON.stringify(clock)}`,
    );
  }
  // A misspelling points to the right name.
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => createSupCache({ path: ":memory:", clok: new TestClock() } as any),
    (err: Error) => /clock/.test(err.message),
  );
  // Any object with now() works, e.g. the wall clock's own.
  await using cache = await createSupCache({
    path: ":memory:",
    clock: { now: Date.now },
  });
  await cache.namespace("n").set("k", "v");
});

Deno.test("TestClock: moves only forward, by whole milliseconds", () => {
  const clock = new TestClock(1_000);
  assert.equal(clock.advance(500), 1_500);
  assert.equal(clock.set(2_000), 2_000);
  assert.throws(() => clock.set(1_999), InvalidInputError);
  assert.throws(() => clock.advance(-1), InvalidInputError);
  assert.throws(() => clock.advance(0.5), InvalidInputError);
  assert.equal(clock.now(), 2_000);
});

testEachBackend(
  "snapshot/restore: values, absolute expiries, extra keys removed, other namespaces untouched",
  async (b) => {
    await using t = await b.open();
    const ns = t.cache.namespace("n");
    const other = t.cache.namespace("other");
    await other.set("x", "keep");
    await ns.set("a", "1", { ttl: 60_000 });
    await ns.set("bin", new Uint8Array([0, 255, 1]), { ttl: null });
    const saved = await snapshot(ns);
    assert.equal(saved.name, "n");
    assert.deepEqual(saved.entries.map((e) => e.key), ["a", "bin"]);

    await ns.set("a", "changed");
    await ns.delete("bin");
    await ns.set("new", "gone after restore");
    await restore(ns, saved);
    assert.deepEqual((await ns.list()).keys, ["a", "bin"]);
    assert.equal(text(await ns.get("a")), "1");
    assert.deepEqual(await ns.get("bin"), new Uint8Array([0, 255, 1]));
    assert.equal((await ns.getEntry("a"))?.expiresAt, TEST_EPOCH + 60_000);
    assert.equal(text(await other.get("x")), "keep");
    assert.equal((await ns.stats()).keys, 2, "usage is exact after a restore");

    // Expiries are absolute: past the saved expiry, "a" restores as expired.
    t.clock.advance(60_000);
    await restore(ns, saved);
    assert.deepEqual((await ns.list()).keys, ["bin"]);

    // A snapshot is a copy: writing the namespace later does not change it.
    await ns.set("bin", "x");
    assert.deepEqual(saved.entries[1].value, new Uint8Array([0, 255, 1]));
  },
);

testEachBackend("snapshot/restore: more than one page", async (b) => {
  await using t = await b.open();
  const ns = t.cache.namespace("big");
  await ns.setMany(
    Array.from({ length: 2_500 }, (_, i) => [`k${i}`, String(i)] as const),
  );
  const saved = await snapshot(ns);
  assert.equal(saved.entries.length, 2_500);
  await ns.clear();
  await restore(ns, saved);
  assert.equal((await ns.stats()).keys, 2_500);
  assert.equal(text(await ns.get("k2499")), "2499");
});

testEachBackend(
  "clock: the background sweep reads the cache's clock",
  async (b) => {
    await using t = await b.open({ sweepIntervalMs: 20 });
    const ns = t.cache.namespace("n");
    await ns.set("a", "1", { ttl: 3_600_000 });
    await ns.set("b", "2", { ttl: null });
    t.clock.advance(3_600_000);
    const deadline = Date.now() + 10_000;
    // On Redis, stats() reports what the server last said; the sweep tick
    // refreshes it, so this also waits for the tick.
    while ((await ns.stats()).keys !== 1) {
      assert.ok(Date.now() < deadline, "the sweep never removed the entry");
      await new Promise((r) => setTimeout(r, 20));
    }
  },
);

stopSharedRedis();
