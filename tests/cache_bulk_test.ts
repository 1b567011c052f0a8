// The bulk path: setMany (and atomic() batches) land all or nothing, count
// usage once, keep versions growing, and respect quotas.
import assert from "node:assert/strict";
import {
  InvalidInputError,
  LimitExceededError,
  QuotaExceededError,
} from "../mod.ts";
import { sleep, testEachDriver, text } from "./support/drivers.ts";

testEachDriver(
  "setMany writes every item in one go, from arrays or a Map, with per-item options",
  async (open) => {
    const cache = await open({ ttl: 60_000 });
    const ns = cache.namespace("bulk");
    const before = Date.now();
    assert.equal(
      await ns.setMany([
        ["a", "1"],
        ["b", new Uint8Array([0, 255])],
        ["c", "3", { ttl: null }],
        ["d", "4", { expiresAt: before + 5_000 }],
      ]),
      4,
    );
    assert.equal(text(await ns.get("a")), "1");
    assert.deepEqual(await ns.get("b"), new Uint8Array([0, 255]));
    assert.equal((await ns.getEntry("c"))!.expiresAt, null);
    assert.equal((await ns.getEntry("d"))!.expiresAt, before + 5_000);
    const a = (await ns.getEntry("a"))!.expiresAt!;
    assert.ok(a >= before + 60_000 && a <= Date.now() + 60_000);
    assert.equal(await ns.setMany(new Map([["a", "one"], ["e", "5"]])), 2);
    assert.equal(text(await ns.get("a")), "one");
    assert.equal(await ns.setMany([]), 0);
    // Usage is folded in once, and matches what is stored.
    assert.deepEqual(
      { keys: ns.stats().keys, bytes: ns.stats().bytes },
      { keys: 5, bytes: 5 + 3 + 2 + 1 + 1 + 1 },
    );
    // Another process sees the same counts.
    const other = await open();
    assert.equal(other.namespace("bulk").stats().keys, 5);
  },
);

testEachDriver(
  "setMany with one bad item writes nothing",
  async (open) => {
    const ns = (await open({ limits: { maxValueBytes: 10 } })).namespace("b");
    await ns.set("keep", "v");
    await assert.rejects(
      ns.setMany([["x", "1"], ["", "2"]]),
      InvalidInputError,
    );
    await assert.rejects(
      ns.setMany([["x", "1"], ["y", "way too long a value"]]),
      LimitExceededError,
    );
    await assert.rejects(
      // @ts-expect-error: not a pair
      ns.setMany([["x"]]),
      /setMany item 0 must be \[key, value\]/,
    );
    await assert.rejects(
      // @ts-expect-error: not an iterable
      ns.setMany(5),
      /iterable of \[key, value, options\?\]/,
    );
    assert.deepEqual((await ns.list()).keys, ["keep"]);
    assert.equal(ns.stats().keys, 1);
  },
);

testEachDriver(
  "setMany past the quota writes nothing, after purging what expired",
  async (open) => {
    const cache = await open({ limits: { maxKeys: 10, onQuota: "reject" } });
    const ns = cache.namespace("q");
    await ns.setMany(
      Array.from(
        { length: 6 },
        (_, i) => [`old${i}`, "x", { ttl: 1 }] as const,
      ),
    );
    await ns.setMany([["a", "1"], ["b", "2"]]);
    await sleep(5);
    // 6 expired + 2 live + 5 new > 10 until the expired ones are purged.
    assert.equal(
      await ns.setMany(Array.from({ length: 5 }, (_, i) => [`n${i}`, "y"])),
      5,
    );
    assert.equal(ns.stats().keys, 7);
    await assert.rejects(
      ns.setMany(Array.from({ length: 4 }, (_, i) => [`m${i}`, "z"])),
      QuotaExceededError,
    );
    assert.deepEqual((await ns.list({ prefix: "m" })).keys, []);
    assert.equal(ns.stats().keys, 7);
    // Overwrites in a batch need no room.
    assert.equal(await ns.setMany([["a", "9"], ["b", "9"]]), 2);
  },
);

testEachDriver(
  "versions grow across setMany, set, delete and re-create, and never repeat",
  async (open) => {
    const ns = (await open()).namespace("v");
    const seen = new Set<number>();
    const version = async (k: string) => {
      const v = (await ns.getEntry(k))!.version;
      assert.ok(!seen.has(v), `version ${v} of ${k} repeated`);
      seen.add(v);
      return v;
    };
    await ns.setMany([["k", "1"], ["j", "1"]]);
    const v1 = await version("k");
    await version("j");
    await ns.set("k", "2");
    const v2 = await version("k");
    await ns.setMany([["k", "3"]]);
    const v3 = await version("k");
    await ns.delete("k");
    await ns.setMany([["k", "4"]]);
    const v4 = await version("k");
    await ns.delete("k");
    await ns.set("k", "5");
    const v5 = await version("k");
    await ns.increment("n");
    await version("n");
    assert.ok(
      v1 < v2 && v2 < v3 && v3 < v4 && v4 < v5,
      [v1, v2, v3, v4, v5].join(),
    );
    // A check against a version from before the delete fails.
    const stale = await ns.atomic().check("k", v3).set("k", "x").commit();
    assert.equal(stale.ok, false);
  },
);

testEachDriver(
  "an atomic batch of many writes lands all or nothing and counts usage once",
  async (open) => {
    const ns = (await open()).namespace("at");
    const op = ns.atomic().check("absent", null);
    for (let i = 0; i < 500; i++) op.set(`k${i}`, "v");
    op.delete("k0");
    assert.equal((await op.commit()).ok, true);
    assert.equal(ns.stats().keys, 499);
    const failing = ns.atomic().check("k1", 12345);
    for (let i = 0; i < 10; i++) failing.set(`z${i}`, "v");
    assert.equal((await failing.commit()).ok, false);
    assert.deepEqual((await ns.list({ prefix: "z" })).keys, []);
    assert.equal(ns.stats().keys, 499);
  },
);

testEachDriver(
  "setManyIfAbsent keeps live keys, replaces expired ones, counts exactly and respects the quota",
  async (open) => {
    const cache = await open({ limits: { maxKeys: 6, onQuota: "reject" } });
    const ns = cache.namespace("abs");
    await ns.set("live", "old");
    await ns.set("gone", "xx", { ttl: 1 });
    await sleep(5);
    assert.deepEqual(
      await ns.setManyIfAbsent([
        ["new1", "a"],
        ["live", "new"],
        ["gone", "yyyy"],
        ["new2", "b", { ttl: null }],
      ]),
      ["live"],
    );
    assert.equal(text(await ns.get("live")), "old");
    assert.equal(text(await ns.get("gone")), "yyyy");
    assert.equal((await ns.getEntry("new2"))!.expiresAt, null);
    // Usage matches the rows: live 4+3, gone 4+4, new1 4+1, new2 4+1.
    assert.deepEqual(
      { keys: ns.stats().keys, bytes: ns.stats().bytes },
      { keys: 4, bytes: 7 + 8 + 5 + 5 },
    );
    // Everything present: nothing written, and no refusal even at the quota.
    await ns.setMany([["f1", "1"], ["f2", "2"]]);
    assert.deepEqual(await ns.setManyIfAbsent([["f1", "9"], ["live", "9"]]), [
      "f1",
      "live",
    ]);
    // One new key past the quota writes nothing of the batch.
    await assert.rejects(
      ns.setManyIfAbsent([["gone", "z"], ["n3", "c"]]),
      QuotaExceededError,
    );
    assert.equal(text(await ns.get("gone")), "yyyy");
    assert.equal(await ns.get("n3"), null);
    assert.equal(ns.stats().keys, 6);
    await assert.rejects(
      ns.setManyIfAbsent([["k", "v", { ttl: -5 }]]),
      InvalidInputError,
    );
  },
);

testEachDriver(
  "setManyIfAbsent: a key given twice is written once (the first) and listed once per later entry, as one by one",
  async (open) => {
    const cache = await open();
    const ns = cache.namespace("dup");
    assert.deepEqual(
      await ns.setManyIfAbsent([["d", "1"], ["e", "x"], ["d", "2"], [
        "d",
        "3",
      ]]),
      ["d", "d"],
    );
    assert.equal(text(await ns.get("d")), "1");
    assert.deepEqual(await ns.setManyIfAbsent([["d", "4"], ["d", "5"]]), [
      "d",
      "d",
    ]);
    assert.equal(text(await ns.get("d")), "1");
    assert.deepEqual(
      { keys: ns.stats().keys, bytes: ns.stats().bytes },
      { keys: 2, bytes: 2 + 2 },
    );
  },
);
