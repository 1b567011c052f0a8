import assert from "node:assert/strict";
import { ClosedError, InvalidInputError } from "../mod.ts";
import { sleep, testEachDriver, text } from "./support/drivers.ts";

testEachDriver(
  "values persist across close and reopen of the file",
  async (open) => {
    const first = await open();
    await first.namespace("counter").set("greeting", "Hello");
    await first.namespace("counter").set("forever", "yes", { ttl: null });
    await first.close();
    const second = await open();
    assert.equal(
      text(await second.namespace("counter").get("greeting")),
      "Hello",
    );
    assert.equal(text(await second.namespace("counter").get("forever")), "yes");
  },
);

testEachDriver(
  "values are bytes end to end, and an empty value is a value",
  async (open) => {
    const ns = (await open()).namespace("bin");
    const every = Uint8Array.from({ length: 256 }, (_, i) => i); // includes invalid UTF-8
    await ns.set("all-bytes", every);
    assert.deepEqual(await ns.get("all-bytes"), every);
    await ns.set("empty", new Uint8Array());
    assert.deepEqual(await ns.get("empty"), new Uint8Array());
    assert.equal(await ns.has("empty"), true);
    await ns.set("text", "héllo ✓ 𝄞");
    assert.equal(text(await ns.get("text")), "héllo ✓ 𝄞");
    assert.equal(await ns.get("missing"), null);
  },
);

testEachDriver(
  "namespaces are isolated by a column, not by gluing names",
  async (open) => {
    const cache = await open();
    const alpha = cache.namespace("alpha");
    const alphaBeta = cache.namespace("alpha:beta");
    await alpha.set("beta:secret", "alpha's");
    await alphaBeta.set("secret", "alpha:beta's");
    assert.equal(text(await alphaBeta.get("secret")), "alpha:beta's");
    assert.equal(text(await alpha.get("beta:secret")), "alpha's");
    assert.deepEqual((await alphaBeta.list()).keys, ["secret"]);
    assert.deepEqual((await alpha.list()).keys, ["beta:secret"]);
    assert.equal(await alphaBeta.delete("beta:secret"), false);
    assert.equal(await alphaBeta.clear(), 1);
    assert.equal(text(await alpha.get("beta:secret")), "alpha's");
  },
);

testEachDriver(
  "the store is a separate keyspace that does not expire by default",
  async (open) => {
    const cache = await open({ ttl: 1 });
    await cache.namespace("p").set("k", "cache");
    await cache.store("p").set("k", "store");
    await sleep(10);
    assert.equal(await cache.namespace("p").get("k"), null);
    assert.equal(text(await cache.store("p").get("k")), "store");
    assert.equal((await cache.store("p").getEntry("k"))!.expiresAt, null);
  },
);

testEachDriver(
  "default ttl, per-item ttl and null ttl set the expiry",
  async (open) => {
    const cache = await open({ ttl: 60_000 });
    const ns = cache.namespace("ttl");
    const before = Date.now();
    await ns.set("default", "a");
    await ns.set("custom", "b", { ttl: 5_000 });
    await ns.set("never", "c", { ttl: null });
    const after = Date.now();
    const d = (await ns.getEntry("default"))!.expiresAt!;
    assert.ok(
      d >= before + 60_000 && d <= after + 60_000,
      `default expiry ${d}`,
    );
    const c = (await ns.getEntry("custom"))!.expiresAt!;
    assert.ok(c >= before + 5_000 && c <= after + 5_000, `custom expiry ${c}`);
    assert.equal((await ns.getEntry("never"))!.expiresAt, null);
    const sup = await open({ dataDir: undefined, path: ":memory:" });
    const e =
      (await (sup.namespace("x").set("k", "v"),
        sup.namespace("x").getEntry("k")))!;
    assert.ok(e.expiresAt! - Date.now() > 3_500_000, "default ttl is one hour");
  },
);

testEachDriver(
  "expired values are never returned, listed or counted as present",
  async (open) => {
    const ns = (await open()).namespace("exp");
    await ns.set("short", "gone soon", { ttl: 1 });
    await ns.set("long", "stays", { ttl: 60_000 });
    await sleep(10);
    assert.equal(await ns.get("short"), null);
    assert.equal(await ns.getEntry("short"), null);
    assert.equal(await ns.has("short"), false);
    assert.deepEqual((await ns.list()).keys, ["long"]);
    assert.equal(
      await ns.delete("short"),
      false,
      "deleting an expired entry is not a live delete",
    );
  },
);

testEachDriver("delete and has report what happened", async (open) => {
  const ns = (await open()).namespace("d");
  await ns.set("k", "v");
  assert.equal(await ns.has("k"), true);
  assert.equal(await ns.delete("k"), true);
  assert.equal(await ns.delete("k"), false);
  assert.equal(await ns.has("k"), false);
});

testEachDriver(
  "bad input throws a typed error and loses nothing stored",
  async (open) => {
    const cache = await open();
    const ns = cache.namespace("bad");
    await ns.set("k", "original");
    const bad: [string, () => Promise<unknown>, RegExp][] = [
      ["empty key", () => ns.set("", "x"), /key must not be empty/],
      [
        "number key",
        () => ns.set(42 as unknown as string, "x"),
        /key must be a string, got number/,
      ],
      ["lone surrogate", () => ns.set("k", "\ud800"), /lone UTF-16 surrogate/],
      [
        "object value",
        () => ns.set("k", { a: 1 } as unknown as string),
        /value must be a string or Uint8Array, got object/,
      ],
      ["null value", () => ns.set("k", null as unknown as string), /got null/],
      [
        "NaN ttl",
        () => ns.set("k", "x", { ttl: NaN }),
        /ttl must be a positive whole number of milliseconds or null .* got NaN/,
      ],
      ["negative ttl", () => ns.set("k", "x", { ttl: -5 }), /got -5/],
      ["zero ttl", () => ns.set("k", "x", { ttl: 0 }), /got 0/],
      ["fractional ttl", () => ns.set("k", "x", { ttl: 1.5 }), /got 1.5/],
      [
        "string ttl",
        () => ns.set("k", "x", { ttl: "10" as unknown as number }),
        /got 10/,
      ],
      ["empty get key", () => ns.get(""), /must not be empty/],
      [
        "bad list limit",
        () => ns.list({ limit: 0 }),
        /limit must be a whole number from 1 to 1,000, got 0/,
      ],
      [
        "bad cursor",
        () => ns.list({ cursor: "not-a-cursor!" }),
        /is not one that list\(\) returned/,
      ],
      [
        "bad increment",
        () => ns.increment("n", 0.5),
        /by must be a whole number, got 0.5/,
      ],
    ];
    for (const [label, call, message] of bad) {
      await assert.rejects(call, (err: Error) => {
        assert.ok(err instanceof InvalidInputError, `${label}: ${err}`);
        assert.match(err.message, message, label);
        return true;
      });
    }
    assert.equal(text(await ns.get("k")), "original");
    assert.throws(() => cache.namespace(""), InvalidInputError);
    assert.throws(
      () => cache.namespace("x".repeat(257)),
      /namespace name is 257 bytes; the limit is 256/,
    );
    await assert.rejects(
      () => open({ ttl: -1 }),
      /options.ttl must be a positive whole number/,
    );
    await assert.rejects(
      () => open({ limits: { maxKeyBytes: 0 } }),
      /limits.maxKeyBytes must be a positive whole number/,
    );
    await assert.rejects(
      () => open({ durability: "fast" as "full" }),
      /durability must be "normal" or "full"/,
    );
  },
);

testEachDriver(
  "a closed cache refuses every call with ClosedError",
  async (open) => {
    const cache = await open();
    const ns = cache.namespace("c");
    await ns.set("k", "v");
    await cache.close();
    await cache.close(); // twice is harmless
    for (
      const call of [
        () => ns.get("k"),
        () => ns.set("k", "v"),
        () => ns.list(),
        () => ns.increment("k"),
        () => cache.purgeExpired(),
      ]
    ) {
      await assert.rejects(call, ClosedError);
    }
    assert.throws(() => cache.namespace("c"), /is closed; create a new one/);
    assert.throws(() => ns.sync.get("k"), ClosedError);
  },
);

testEachDriver(
  "await using closes the cache at the end of the scope",
  async (open, dir) => {
    let escaped;
    {
      await using cache = await open();
      await cache.namespace("u").set("k", "v");
      escaped = cache;
    }
    assert.equal(escaped.closed, true);
    const again = await open({ dataDir: dir });
    assert.equal(text(await again.namespace("u").get("k")), "v");
  },
);

testEachDriver(
  "stats count keys, bytes, hits and misses, and hits persist for other processes",
  async (open) => {
    const cache = await open();
    const ns = cache.namespace("s");
    await ns.set("ab", "xyz"); // 2 + 3 bytes
    await ns.set("c", new Uint8Array(10)); // 1 + 10 bytes
    await ns.get("ab");
    await ns.get("nope");
    await ns.get("nope");
    assert.deepEqual(ns.stats(), {
      keys: 2,
      bytes: 16,
      hits: 1,
      misses: 2,
      evictions: 0,
    });
    await ns.set("ab", "x"); // overwrite shrinks
    await ns.delete("c");
    assert.deepEqual(ns.stats(), {
      keys: 1,
      bytes: 3,
      hits: 1,
      misses: 2,
      evictions: 0,
    });
    await cache.close();
    const reopened = await open();
    assert.deepEqual(reopened.namespace("s").stats(), {
      keys: 1,
      bytes: 3,
      hits: 1,
      misses: 2,
      evictions: 0,
    });
    const [info] = await reopened.namespaces();
    assert.equal(info.name, "s");
    assert.equal(info.kind, "cache");
    assert.equal(info.hits, 1);
  },
);

testEachDriver(
  "the sync face gives the same answers without Promises",
  async (open) => {
    const ns = (await open()).namespace("sync");
    ns.sync.set("k", "v", { ttl: 60_000 });
    assert.equal(text(ns.sync.get("k")), "v");
    assert.equal(ns.sync.increment("n", 2), 2);
    assert.deepEqual(ns.sync.list().keys, ["k", "n"]);
    assert.equal(ns.sync.has("k"), true);
    assert.equal(ns.sync.delete("k"), true);
    assert.throws(() => ns.sync.set("", "v"), InvalidInputError);
  },
  "Redis has no synchronous face: a network store cannot answer without waiting (docs/scale-out.md)",
);
