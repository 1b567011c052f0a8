import assert from "node:assert/strict";
import {
  InvalidInputError,
  LimitExceededError,
  NotAnIntegerError,
  QuotaExceededError,
} from "../mod.ts";
import { sleep, testEachDriver, text } from "./support/drivers.ts";

testEachDriver(
  "list matches the prefix literally and case-sensitively",
  async (open) => {
    const ns = (await open()).namespace("l");
    for (
      const k of [
        "100%",
        "100_",
        "1000",
        "10a",
        "User:1",
        "user:1",
        "user:2",
        "user_3",
        "usex",
      ]
    ) {
      await ns.set(k, "v");
    }
    assert.deepEqual((await ns.list({ prefix: "100%" })).keys, ["100%"]);
    assert.deepEqual((await ns.list({ prefix: "100_" })).keys, ["100_"]);
    assert.deepEqual((await ns.list({ prefix: "user:" })).keys, [
      "user:1",
      "user:2",
    ]);
    assert.deepEqual((await ns.list({ prefix: "user" })).keys, [
      "user:1",
      "user:2",
      "user_3",
    ]);
    assert.deepEqual((await ns.list({ prefix: "User" })).keys, ["User:1"]);
    assert.deepEqual((await ns.list({ prefix: "nothing" })).keys, []);
  },
);

testEachDriver(
  "list orders keys by UTF-8 bytes, including characters past U+FFFF",
  async (open) => {
    const ns = (await open()).namespace("l");
    const keys = ["a", "b", "\uffef", "😀", "😀x", "é"];
    for (const k of keys) await ns.set(k, "v");
    const expected = [...keys].sort((x, y) =>
      Buffer.compare(Buffer.from(x), Buffer.from(y))
    );
    const seen: string[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await ns.list({ limit: 1, cursor: cursor ?? undefined });
      seen.push(...page.keys);
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(seen, expected);
    assert.deepEqual((await ns.list({ prefix: "😀" })).keys, ["😀", "😀x"]);
  },
);

testEachDriver(
  "paging through 5,000 keys returns each exactly once, in order",
  async (open) => {
    const ns = (await open()).namespace("many");
    const atomic = ns.atomic();
    const all: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const k = `item:${String(i).padStart(5, "0")}`;
      all.push(k);
      atomic.set(k, String(i));
    }
    await ns.set("other", "not listed");
    assert.equal((await atomic.commit()).ok, true);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { keys: string[]; cursor: string | null } = await ns.list({
        prefix: "item:",
        limit: 333,
        cursor: cursor ?? undefined,
      });
      seen.push(...page.keys);
      cursor = page.cursor;
      pages++;
    } while (cursor);
    assert.equal(pages, Math.ceil(5000 / 333));
    assert.deepEqual(seen, all);
  },
);

testEachDriver(
  "increment is stored as decimal text and refuses non-integers untouched",
  async (open) => {
    const ns = (await open()).namespace("inc");
    assert.equal(await ns.increment("n"), 1);
    assert.equal(await ns.increment("n", 41), 42);
    assert.equal(text(await ns.get("n")), "42");
    assert.equal(await ns.increment("n", -50), -8);
    await ns.set("word", "forty-two");
    await assert.rejects(() => ns.increment("word"), (err: Error) => {
      assert.ok(err instanceof NotAnIntegerError);
      assert.match(
        err.message,
        /"forty-two" is not a whole number in decimal; it was left unchanged/,
      );
      return true;
    });
    assert.equal(text(await ns.get("word")), "forty-two");
    for (const odd of ["1.5", " 1", "01", "+1", "1e3", ""]) {
      await ns.set("odd", odd);
      await assert.rejects(
        () => ns.increment("odd"),
        NotAnIntegerError,
        JSON.stringify(odd),
      );
      assert.equal(text(await ns.get("odd")), odd);
    }
    await ns.set("big", String(Number.MAX_SAFE_INTEGER));
    await assert.rejects(
      () => ns.increment("big"),
      /past the largest exact integer/,
    );
    assert.equal(text(await ns.get("big")), String(Number.MAX_SAFE_INTEGER));
  },
);

testEachDriver(
  "increment keeps an existing expiry and treats an expired value as 0",
  async (open) => {
    const ns = (await open()).namespace("inc");
    await ns.set("window", "5", { ttl: 60_000 });
    const before = (await ns.getEntry("window"))!.expiresAt;
    assert.equal(await ns.increment("window"), 6);
    assert.equal((await ns.getEntry("window"))!.expiresAt, before);
    await ns.set("old", "100", { ttl: 1 });
    await sleep(10);
    assert.equal(await ns.increment("old"), 1);
  },
);

testEachDriver(
  "versions change on every write and never repeat after delete",
  async (open) => {
    const ns = (await open()).namespace("v");
    await ns.set("k", "1");
    const v1 = (await ns.getEntry("k"))!.version;
    await ns.set("k", "2");
    const v2 = (await ns.getEntry("k"))!.version;
    await ns.delete("k");
    await ns.set("k", "3");
    const v3 = (await ns.getEntry("k"))!.version;
    assert.ok(v1 < v2 && v2 < v3, `${v1} < ${v2} < ${v3}`);
    await ns.clear();
    await ns.set("k", "4");
    assert.ok((await ns.getEntry("k"))!.version > v3);
  },
);

testEachDriver("atomic commits all or nothing", async (open, _dir, driver) => {
  const ns = (await open()).namespace("bank");
  await ns.set("alice", "10");
  const entry = (await ns.getEntry("alice"))!;
  const ok = await ns.atomic().check("alice", entry.version).check("bob", null)
    .set("alice", "5").set("bob", "5").commit();
  assert.deepEqual(ok, { ok: true });
  assert.equal(text(await ns.get("bob")), "5");
  // A stale version: nothing from the batch is written.
  const stale = await ns.atomic().check("alice", entry.version).set(
    "alice",
    "0",
  ).delete("bob").set("carol", "1").commit();
  assert.deepEqual(stale, { ok: false });
  assert.equal(text(await ns.get("alice")), "5");
  assert.equal(text(await ns.get("bob")), "5");
  assert.equal(await ns.has("carol"), false);
  // Bad input anywhere in the batch: a typed error, nothing written.
  await assert.rejects(
    () => ns.atomic().set("carol", "1").set("", "x").commit(),
    InvalidInputError,
  );
  await assert.rejects(
    () => ns.atomic().check("alice", 1.5).set("carol", "1").commit(),
    /needs a version from getEntry\(\) or null/,
  );
  assert.equal(await ns.has("carol"), false);
  // check(null) fails when the key exists.
  assert.deepEqual(
    await ns.atomic().check("alice", null).set("carol", "1").commit(),
    { ok: false },
  );
  // commitSync exists where the storage can answer synchronously (SQLite).
  const op = ns.atomic().check("carol", null).set("carol", "1");
  assert.deepEqual(
    driver.startsWith("redis") ? await op.commit() : op.commitSync(),
    { ok: true },
  );
});

testEachDriver(
  "key and value limits name the size and the limit",
  async (open) => {
    const ns = (await open()).namespace("lim");
    await ns.set("k", "kept");
    await assert.rejects(() => ns.set("k".repeat(2100), "x"), (err: Error) => {
      assert.ok(err instanceof LimitExceededError);
      assert.equal(err.message, "key is 2,100 bytes; the limit is 2,048");
      return true;
    });
    await ns.set("é".repeat(1024), "fits"); // 2,048 bytes exactly
    await assert.rejects(
      () => ns.set("k", new Uint8Array(1_048_577)),
      /value is 1,048,577 bytes; the limit is 1,048,576/,
    );
    await assert.rejects(
      () => ns.atomic().set("k", new Uint8Array(1_048_577)).commit(),
      LimitExceededError,
    );
    assert.equal(text(await ns.get("k")), "kept");
    const small = (await open({ limits: { maxKeyBytes: 4, maxValueBytes: 2 } }))
      .namespace("lim");
    await assert.rejects(
      () => small.set("five!", "x"),
      /key is 5 bytes; the limit is 4/,
    );
    await assert.rejects(
      () => small.set("k", "abc"),
      /value is 3 bytes; the limit is 2/,
    );
  },
);

testEachDriver(
  "namespace quotas stop one namespace filling the disk, losing nothing",
  async (open) => {
    const cache = await open({
      limits: { maxKeys: 3, maxBytes: 100, onQuota: "reject" },
    });
    const ns = cache.namespace("greedy");
    await ns.set("a", "1");
    await ns.set("b", "2");
    await ns.set("c", "3");
    await assert.rejects(() => ns.set("d", "4"), (err: Error) => {
      assert.ok(err instanceof QuotaExceededError);
      assert.match(
        err.message,
        /namespace "greedy" holds 3 keys .* quota of 3 keys \/ 100 bytes/,
      );
      return true;
    });
    await ns.set("a", "overwrite is fine");
    await assert.rejects(() => ns.set("b", "x".repeat(90)), QuotaExceededError);
    await assert.rejects(() => ns.increment("e"), QuotaExceededError);
    assert.deepEqual((await ns.list()).keys, ["a", "b", "c"]);
    assert.equal(text(await ns.get("b")), "2");
    // Other namespaces have their own quota.
    await cache.namespace("other").set("d", "4");
    // Expired entries do not count against the quota.
    await ns.set("c", "3", { ttl: 1 });
    await sleep(10);
    await ns.set("d", "4");
    assert.deepEqual((await ns.list()).keys, ["a", "b", "d"]);
    const unlimited =
      (await open({ limits: { maxKeys: null, maxBytes: null } })).namespace(
        "greedy",
      );
    await unlimited.set("e", "5");
  },
);

testEachDriver(
  "purgeExpired deletes expired rows and the sweep does it in the background",
  async (open) => {
    const cache = await open({ sweepIntervalMs: 0 });
    const ns = cache.namespace("p");
    await ns.setMany(
      Array.from(
        { length: 1200 },
        (_, i) => [`k${i}`, "v", { ttl: 1 }] as const,
      ),
    );
    await ns.set("keep", "v");
    await sleep(10);
    assert.equal(ns.stats().keys, 1201, "expired rows stay until swept");
    const progress: number[] = [];
    assert.equal(await cache.purgeExpired((n) => progress.push(n)), 1200);
    assert.deepEqual(progress, [500, 1000, 1200]);
    assert.equal(ns.stats().keys, 1);

    const swept = await open({ sweepIntervalMs: 5, sweepBatch: 50 });
    const sns = swept.namespace("bg");
    await sns.setMany(
      Array.from(
        { length: 200 },
        (_, i) => [`k${i}`, "v", { ttl: 1 }] as const,
      ),
    );
    // No speed assertion: wait (up to a generous bound) for the sweep to finish.
    for (let tries = 0; tries < 2000 && sns.stats().keys > 0; tries++) {
      await sleep(5);
    }
    assert.equal(sns.stats().keys, 0);
  },
);

testEachDriver(
  "peek and scan inspect entries without counting hits or misses",
  async (open) => {
    const ns = (await open()).namespace("inspect");
    const before = Date.now();
    await ns.set("a", "1", { ttl: null });
    await ns.set("b", new Uint8Array([0, 255]), { ttl: 60_000 });
    await ns.set("gone", "x", { ttl: 1 });
    await sleep(10);
    const a = (await ns.peek("a"))!;
    assert.equal(text(a.value), "1");
    assert.ok(
      a.writtenAt >= before && a.writtenAt <= Date.now(),
      `writtenAt ${a.writtenAt}`,
    );
    assert.equal(await ns.peek("gone"), null);
    const first = await ns.scan({ limit: 1 });
    assert.deepEqual(first.entries.map((e) => e.key), ["a"]);
    const second = await ns.scan({ limit: 1, cursor: first.cursor! });
    assert.deepEqual(second.entries.map((e) => [e.key, [...e.value]]), [["b", [
      0,
      255,
    ]]]);
    assert.equal(
      (await ns.scan({ limit: 1, cursor: second.cursor! })).entries.length,
      0,
      "expired entries are not scanned",
    );
    assert.deepEqual({ hits: ns.stats().hits, misses: ns.stats().misses }, {
      hits: 0,
      misses: 0,
    });
    await ns.get("a");
    assert.equal(ns.stats().hits, 1);
  },
);

testEachDriver(
  "expiresAt sets an absolute expiry, exclusive with ttl",
  async (open) => {
    const cache = await open();
    const ns = cache.namespace("abs");
    const at = Date.now() + 120_000;
    await ns.set("k", "v", { expiresAt: at });
    assert.equal((await ns.getEntry("k"))!.expiresAt, at);
    await ns.set("forever", "v", { expiresAt: null });
    assert.equal((await ns.getEntry("forever"))!.expiresAt, null);
    await ns.set("past", "v", { expiresAt: Date.now() - 1 });
    assert.equal(
      await ns.get("past"),
      null,
      "an expiry already past stores an expired entry",
    );
    await assert.rejects(
      () => ns.set("k", "x", { expiresAt: at, ttl: 5 }),
      /ttl \(relative\) or expiresAt \(absolute\), not both/,
    );
    await assert.rejects(
      () => ns.set("k", "x", { expiresAt: 1.5 }),
      InvalidInputError,
    );
    assert.equal(text(await ns.get("k")), "v");
    assert.ok((await ns.atomic().set("m", "v", { expiresAt: at }).commit()).ok);
    assert.equal((await ns.getEntry("m"))!.expiresAt, at);
  },
);

testEachDriver(
  "namespaces() reports the oldest write and the next expiry",
  async (open) => {
    const cache = await open();
    const t0 = Date.now();
    await cache.namespace("n").set("old", "v", { ttl: 90_000 });
    await sleep(5);
    await cache.namespace("n").set("new", "v", { ttl: 30_000 });
    await cache.store("n").set("s", "v");
    const infos = await cache.namespaces();
    const c = infos.find((i) => i.kind === "cache")!;
    const s = infos.find((i) => i.kind === "store")!;
    assert.ok(
      c.oldest! >= t0 &&
        c.oldest! < (await cache.namespace("n").peek("new"))!.writtenAt,
    );
    assert.equal(
      c.nextExpiry,
      (await cache.namespace("n").peek("new"))!.expiresAt,
    );
    assert.equal(s.nextExpiry, null);
    assert.equal(s.keys, 1);
  },
);

testEachDriver(
  "list() and scan() are async iterables over every page, and still one page when awaited",
  async (open) => {
    const ns = (await open()).namespace("iter");
    const keys = Array.from({ length: 7 }, (_, i) => `k:${i}`);
    await ns.setMany([...keys.map((k) => [k, k] as [string, string]), [
      "other",
      "x",
    ]]);
    // Awaited: one page, as before.
    const page = await ns.list({ prefix: "k:", limit: 3 });
    assert.deepEqual(page.keys, keys.slice(0, 3));
    assert.notEqual(page.cursor, null);
    // Iterated: every key, page after page (limit is the page size).
    const seen: string[] = [];
    for await (const key of ns.list({ prefix: "k:", limit: 3 })) seen.push(key);
    assert.deepEqual(seen, keys);
    // From a cursor on.
    assert.deepEqual(
      await Array.fromAsync(
        ns.list({ prefix: "k:", limit: 3, cursor: page.cursor! }),
      ),
      keys.slice(3),
    );
    // break stops early; the entries of scan carry their values.
    const firstTwo: string[] = [];
    for await (const entry of ns.scan({ prefix: "k:", limit: 2 })) {
      firstTwo.push(text(entry.value)!);
      if (firstTwo.length === 2) break;
    }
    assert.deepEqual(firstTwo, ["k:0", "k:1"]);
    // .then / .catch work as on a Promise; bad options fail both ways.
    assert.deepEqual(await ns.list({ limit: 1 }).then((p) => p.keys), [
      "k:0",
    ]);
    await assert.rejects(
      async () => await ns.list({ limit: 0 }),
      InvalidInputError,
    );
    await assert.rejects(
      () => Array.fromAsync(ns.list({ limit: 0 })),
      InvalidInputError,
    );
    const caught = await ns.scan({ cursor: "not one of ours" }).catch((e) => e);
    assert.ok(caught instanceof InvalidInputError);
  },
);

testEachDriver(
  "ns.sync.list() and scan() pages are iterable over every key, and still compare as plain pages",
  async (open) => {
    const ns = (await open()).namespace("sync-iter");
    for (let i = 0; i < 5; i++) ns.sync.set(`k${i}`, `${i}`);
    const page = ns.sync.list({ limit: 2 });
    assert.deepEqual(page, { keys: ["k0", "k1"], cursor: page.cursor });
    assert.deepEqual([...ns.sync.list({ limit: 2 })], [
      "k0",
      "k1",
      "k2",
      "k3",
      "k4",
    ]);
    assert.deepEqual(
      [...ns.sync.scan({ limit: 3, prefix: "k" })].map((e) => text(e.value)),
      ["0", "1", "2", "3", "4"],
    );
  },
  "Redis has no synchronous face",
);
