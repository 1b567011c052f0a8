/**
 * Forget a person: entries written for a sender while plugins handled
 * their messages, and keys with their id as a `:` segment, go from every
 * plugin and both keyspaces; the other sender's and the host's own stay.
 * Each behaviour runs on node:sqlite, the async SQLite wrapper, Redis and
 * Redis Cluster (tests/support/backends.ts).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  createSupCache,
  InvalidInputError,
  loadPlugin,
  QuotaExceededError,
} from "../mod.ts";
import { actFor } from "../src/cache/namespace.ts";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import { attributionKey } from "../src/storage/redis/attribution.ts";
import { asyncSqlite } from "./support/async_sqlite.ts";
import { rawFor, testEachBackend } from "./support/backends.ts";
import { stopSharedRedis } from "./support/redis_server.ts";
import { ok } from "./support/cli_run.ts";
import {
  ADA,
  BOB,
  forgetThroughCli,
  seedForget,
} from "./support/forget_cli.ts";

await buildPlugins({ only: ["counter", "ratelimit", "settings"] });

// On a synchronous backend (SQLite: attribution in the write's
// transaction), on an asynchronous one with the same primitives and no
// transactions (tests/support/async_sqlite.ts), and on Redis and Redis
// Cluster (attribution a second script right after the write). The
// asynchronous ones drive plugins through the host's async host functions.
testEachBackend(
  "forget: a sender's entries go from every plugin and keyspace; the other sender's and the host's stay",
  async (b) => {
    {
      await using cache = await createSupCache(b.shared ?? b.fresh());
      await using counter = await loadPlugin(wasmPathOf("counter"), { cache });
      await using ratelimit = await loadPlugin(wasmPathOf("ratelimit"), {
        cache,
      });
      await using settings = await loadPlugin(wasmPathOf("settings"), {
        cache,
      });
      for (const sender of [ADA, BOB]) {
        for (const message of ["increment", "increment visits"]) {
          assert.ok((await counter.handleMessage({ message, sender })).success);
        }
        assert.ok(
          (await ratelimit.handleMessage({ message: "", sender })).success,
        );
        assert.ok(
          (await settings.handleMessage({ message: "set lang en", sender }))
            .success,
        );
      }
      // The host's own writes, outside any message: one about nobody, one
      // keyed by ada's id (sup's key convention).
      await cache.namespace("counter").set("global", "1");
      await cache.store("settings").set(`${ADA}:note`, "host wrote this");
      await cache.namespace("counter").set(`not${ADA}`, "no segment");

      const keysOf = async (kind: "cache" | "store", name: string) =>
        (await (kind === "cache" ? cache.namespace(name) : cache.store(name))
          .list()).keys;
      const before = {
        counter: await keysOf("cache", "counter"),
        ratelimit: await keysOf("cache", "ratelimit"),
        settings: await keysOf("store", "settings"),
      };

      const dry = await cache.forget(ADA, { dryRun: true });
      assert.deepEqual(
        {
          counter: await keysOf("cache", "counter"),
          ratelimit: await keysOf("cache", "ratelimit"),
          settings: await keysOf("store", "settings"),
        },
        before,
        "a dry run deletes nothing",
      );
      const report = await cache.forget(ADA);
      assert.deepEqual(report, dry);
      const byNs = Object.fromEntries(
        report.map((r) => [`${r.kind}:${r.name}`, r.keys]),
      );
      assert.deepEqual(Object.keys(byNs).sort(), [
        "cache:counter",
        "cache:ratelimit",
        "store:settings",
      ]);
      assert.deepEqual(byNs["cache:counter"], [
        { key: `counter:${ADA}`, rule: "sender" },
        { key: `counter:${ADA}:visits`, rule: "sender" },
      ]);
      assert.deepEqual(byNs["cache:ratelimit"], [
        { key: `ratelimit:${ADA}`, rule: "sender" },
      ]);
      assert.deepEqual(byNs["store:settings"], [
        { key: `${ADA}:note`, rule: "key-segment" },
        { key: `settings:${ADA}`, rule: "sender" },
      ]);
      // Nothing of bob's, nothing of the host's about nobody.
      assert.deepEqual(await keysOf("cache", "counter"), [
        `counter:${BOB}`,
        `counter:${BOB}:visits`,
        "global",
        `not${ADA}`,
      ]);
      assert.deepEqual(await keysOf("cache", "ratelimit"), [
        `ratelimit:${BOB}`,
      ]);
      assert.deepEqual(await keysOf("store", "settings"), [`settings:${BOB}`]);
      // Usage is exact afterwards, and a second forget finds nothing.
      assert.equal((await cache.namespace("counter").stats()).keys, 4);
      assert.deepEqual(await cache.forget(ADA), []);
      // Bob's attributions are still there: forgetting him finds his.
      assert.deepEqual(
        (await cache.forget(BOB, { dryRun: true })).map((r) => r.keys.length),
        [2, 1, 1],
      );
      // Ada comes back: new writes are hers again.
      await counter.handleMessage({ message: "increment", sender: ADA });
      assert.deepEqual((await cache.forget(ADA))[0].keys, [
        { key: `counter:${ADA}`, rule: "sender" },
      ]);
    }
  },
);

testEachBackend(
  "forget: attribution follows the write, not the key, and ends with the message",
  async (b) => {
    await using cache = await createSupCache(b.fresh());
    const ns = cache.namespace("p");
    const done = actFor([ns.sync], "ada");
    await ns.set("last-visitor", "x"); // no id in the key
    await ns.increment("visits");
    done();
    await ns.set("host-only", "y");
    // Deleted and created again by the host: no longer ada's.
    const again = actFor([ns.sync], "ada");
    await ns.set("recreated", "1");
    again();
    await ns.delete("recreated");
    await ns.set("recreated", "2");
    // Overwritten by the host: still the entry written for her.
    await ns.set("last-visitor", "z");
    const [report] = await cache.forget("ada");
    assert.deepEqual(report.keys, [
      { key: "last-visitor", rule: "sender" },
      { key: "visits", rule: "sender" },
    ]);
    assert.deepEqual((await ns.list()).keys, ["host-only", "recreated"]);
  },
);

testEachBackend(
  "forget: the segment rule matches whole ':' segments only",
  async (b) => {
    await using cache = await createSupCache(b.fresh());
    const ns = cache.namespace("p");
    const keys = [
      "ada",
      "ada:x",
      "x:ada",
      "x:ada:y",
      "adam",
      "x:adam",
      "x:ada_",
      "lada:x",
      "ada%",
      "ada.",
    ];
    for (const k of keys) await ns.set(k, "v");
    const [report] = await cache.forget("ada", { dryRun: true });
    assert.deepEqual(report.keys.map((k) => k.key), [
      "ada",
      "ada:x",
      "x:ada",
      "x:ada:y",
    ]);
    assert.ok(report.keys.every((k) => k.rule === "key-segment"));
    // A sender id with LIKE or Lua pattern wildcards matches only itself.
    assert.deepEqual(
      (await cache.forget("ada%", { dryRun: true }))[0].keys,
      [{ key: "ada%", rule: "key-segment" }],
    );
    assert.deepEqual(
      (await cache.forget("ada.", { dryRun: true }))[0].keys,
      [{ key: "ada.", rule: "key-segment" }],
    );
    await assert.rejects(() => cache.forget(""), InvalidInputError);
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => cache.forget("ada", { dryrun: true } as any),
      /did you mean "dryRun"/,
    );
  },
);

testEachBackend(
  "forget: senders whose ids are prefixes of each other stay apart; many keys are read in steps",
  async (b) => {
    await using cache = await createSupCache(b.fresh());
    const ns = cache.namespace("p");
    for (const [sender, key] of [["a", "k1"], ["ab", "k2"], ["1:a", "k3"]]) {
      const done = actFor([ns.sync], sender);
      await ns.set(key, "v");
      done();
    }
    // More keys than one find step reads (1,000 on Redis), none of them
    // anyone's.
    await ns.setMany(
      Array.from({ length: 2_500 }, (_, i) => [`x${i}`, "v"] as const),
    );
    await ns.set("z:a", "v");
    const [report] = await cache.forget("a", { dryRun: true });
    assert.deepEqual(report.keys, [
      { key: "k1", rule: "sender" },
      { key: "z:a", rule: "key-segment" },
    ]);
    assert.deepEqual(
      (await cache.forget("ab", { dryRun: true }))[0].keys,
      [{ key: "k2", rule: "sender" }],
    );
    assert.deepEqual(
      (await cache.forget("1:a", { dryRun: true }))[0].keys,
      [{ key: "k3", rule: "sender" }],
    );
  },
);

Deno.test("sup-cache forget: --dry-run lists, then deletes, with the rule", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-forget-cli-" });
  try {
    {
      await using cache = await createSupCache({ dataDir: dir });
      await seedForget(cache);
    }
    await forgetThroughCli(async (...args) =>
      (await ok([...args, "--data-dir", dir])).stdout
    );
    const db = new DatabaseSync(`${dir}/cache.db`);
    try {
      const left = db.prepare("SELECT key FROM entries ORDER BY key").all()
        .map((r) => r.key);
      assert.deepEqual(left, [`settings:${BOB}`]);
      assert.equal(
        db.prepare("SELECT count(*) AS n FROM attributions").get()!.n,
        0,
      );
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testEachBackend(
  "forget: the sweep drops attributions of entries that are gone",
  async (b) => {
    await using cache = await createSupCache({
      ...b.shared!,
      sweepIntervalMs: 20,
    });
    // Attributions are where each backend keeps them: SQLite's table,
    // Redis's sorted set per namespace.
    const count = async (): Promise<number> => {
      if (b.redis) {
        const set = attributionKey(
          new NamespaceKeys(b.redis.options.keyPrefix, 0, "p"),
        );
        return Number((await rawFor(b.redis, set, ["ZCARD"])).slice(1));
      }
      const db = new DatabaseSync((b.shared as { path: string }).path);
      try {
        return Number(
          db.prepare("SELECT count(*) AS n FROM attributions").get()!.n,
        );
      } finally {
        db.close();
      }
    };
    const ns = cache.namespace("p");
    const done = actFor([ns.sync], ADA);
    for (const k of ["a", "b", "c"]) await ns.set(k, "v");
    done();
    // All three are live and hers: the sweep keeps them.
    assert.equal(await count(), 3);
    await ns.delete("a");
    await ns.delete("b");
    await ns.set("b", "host"); // created again, not hers
    const deadline = Date.now() + 20_000;
    while (await count() > 1) {
      assert.ok(Date.now() < deadline, "attributions were never pruned");
      await new Promise((r) => setTimeout(r, 20));
    }
    // The one left is c's: forgetting her finds only c.
    assert.deepEqual((await cache.forget(ADA))[0].keys, [
      { key: "c", rule: "sender" },
    ]);
  },
  // The async wrapper lives in memory: there is no file to look into.
  ["node:sqlite", "redis", "redis-cluster"],
);

Deno.test("forget and eviction on a backend without their primitives: forget says why, a full cache rejects", async () => {
  const backend = asyncSqlite(new Map(), [
    "attribute",
    "forgetCandidates",
    "dropAttributions",
    "pruneAttributions",
    "getValueUsed",
    "touch",
    "counts",
    "evict",
  ]);
  await using cache = await createSupCache({
    driver: backend,
    limits: { maxKeys: 2 },
  });
  const ns = cache.namespace("p");
  const done = actFor([ns.sync], "ada");
  await ns.set("a", "1");
  await ns.set("b", "2");
  done();
  await assert.rejects(
    () => cache.forget("ada"),
    (err) =>
      err instanceof InvalidInputError &&
      /does not record who entries were written for/.test(err.message),
  );
  await assert.rejects(() => ns.set("c", "3"), QuotaExceededError);
  assert.deepEqual((await ns.list()).keys, ["a", "b"]);
});

stopSharedRedis();
