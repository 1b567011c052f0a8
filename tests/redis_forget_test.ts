/**
 * Forget a person on Redis and Redis Cluster: the conformance of
 * tests/forget_test.ts through the same public API. Entries written for a
 * sender while plugins handled their messages, and keys with their id as a
 * `:` segment, go from every plugin and both keyspaces; the other sender's
 * and the host's own stay.
 */
import assert from "node:assert/strict";
import {
  createSupCache,
  InvalidInputError,
  loadPlugin,
  type SupCache,
} from "../mod.ts";
import { actFor } from "../src/cache/namespace.ts";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import { attributionKey } from "../src/storage/redis/attribution.ts";
import { CLI_FLAGS, ok } from "./support/cli_run.ts";
import {
  rawCommand,
  RedisServer,
  redisSkip,
  type RedisTarget,
  stopSharedRedis,
  testEachRedis,
} from "./support/redis_server.ts";

await buildPlugins({ only: ["counter", "ratelimit", "settings"] });
const ADA = "34600000001@s.whatsapp.net";
const BOB = "34600000002@s.whatsapp.net";

function open(t: RedisTarget, sweepIntervalMs = 0): Promise<SupCache> {
  return createSupCache({ redis: t.options, sweepIntervalMs });
}

async function rawFor(t: RedisTarget, key: string, cmd: string[]) {
  const urls = t.options.url ? [t.options.url] : t.options.cluster!;
  for (const url of urls) {
    const reply = await rawCommand(Number(new URL(url).port), [...cmd, key]);
    if (!reply.startsWith("-MOVED")) return reply;
  }
  throw new Error("no node holds the key");
}

testEachRedis(
  "forget: a sender's entries go from every plugin and keyspace; the other sender's and the host's stay",
  async (t) => {
    await using cache = await open(t);
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
    // The host's own writes, outside any message.
    await cache.namespace("counter").set("global", "1");
    await cache.store("settings").set(`${ADA}:note`, "host wrote this");
    await cache.namespace("counter").set(`not${ADA}`, "no segment");

    const keysOf = async (kind: "cache" | "store", name: string) =>
      (await (kind === "cache" ? cache.namespace(name) : cache.store(name))
        .list()).keys;
    const all = async () => ({
      counter: await keysOf("cache", "counter"),
      ratelimit: await keysOf("cache", "ratelimit"),
      settings: await keysOf("store", "settings"),
    });
    const before = await all();

    const dry = await cache.forget(ADA, { dryRun: true });
    assert.deepEqual(await all(), before, "a dry run deletes nothing");
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
    assert.deepEqual(await keysOf("cache", "ratelimit"), [`ratelimit:${BOB}`]);
    assert.deepEqual(await keysOf("store", "settings"), [`settings:${BOB}`]);
    // Bob's values are untouched, and usage is exact afterwards.
    assert.equal(
      (await cache.namespace("counter").stats()).keys,
      4,
    );
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
  },
);

testEachRedis(
  "forget: attribution follows the write, not the key, and ends with the message",
  async (t) => {
    await using cache = await open(t);
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

testEachRedis(
  "forget: the segment rule matches whole ':' segments only",
  async (t) => {
    await using cache = await open(t);
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
    // A sender id with Lua pattern or LIKE wildcards matches only itself.
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

testEachRedis(
  "forget: senders whose ids are prefixes of each other stay apart; many keys are read in steps",
  async (t) => {
    await using cache = await open(t);
    const ns = cache.namespace("p");
    for (const [sender, key] of [["a", "k1"], ["ab", "k2"], ["1:a", "k3"]]) {
      const done = actFor([ns.sync], sender);
      await ns.set(key, "v");
      done();
    }
    // More keys than one find step reads (1,000), none of them anyone's.
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

testEachRedis(
  "forget: the sweep drops attributions of entries that are gone",
  async (t) => {
    await using cache = await open(t, 20);
    const ns = cache.namespace("p");
    const done = actFor([ns.sync], ADA);
    for (const k of ["a", "b", "c"]) await ns.set(k, "v");
    done();
    const set = attributionKey(new NamespaceKeys(t.options.keyPrefix, 0, "p"));
    const count = async () =>
      Number((await rawFor(t, set, ["ZCARD"])).slice(1));
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
    assert.deepEqual((await cache.forget(ADA))[0].keys, [
      { key: "c", rule: "sender" },
    ]);
  },
);

stopSharedRedis();

Deno.test({
  name:
    `[redis] sup-cache forget --redis: --dry-run lists, then deletes, with the rule${
      redisSkip ? ` (skipped: ${redisSkip})` : ""
    }`,
  ignore: redisSkip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = await RedisServer.start();
    try {
      {
        await using cache = await createSupCache({
          redis: { url: server.url },
        });
        const done = actFor([cache.namespace("counter").sync], ADA);
        await cache.namespace("counter").set("total", "1");
        done();
        await cache.store("settings").set(`settings:${ADA}`, "{}");
        await cache.store("settings").set(`settings:${BOB}`, "{}");
      }
      const flags = [...CLI_FLAGS, "--allow-net=127.0.0.1"];
      const run = async (...args: string[]) =>
        (await ok([...args, "--redis", server.url], { flags })).stdout;
      assert.equal(
        await run("forget", ADA, "--dry-run"),
        `would delete cache "counter" "total" (sender)\n` +
          `would delete store "settings" "settings:${ADA}" (key-segment)\n` +
          `would delete 2 entries for "${ADA}" in 2 namespaces\n`,
      );
      const json = JSON.parse(await run("forget", ADA, "--json"));
      assert.equal(json.dryRun, false);
      assert.deepEqual(
        json.namespaces.map((n: { name: string }) => n.name),
        ["counter", "settings"],
      );
      await using cache = await createSupCache({ redis: { url: server.url } });
      assert.deepEqual((await cache.namespace("counter").list()).keys, []);
      assert.deepEqual((await cache.store("settings").list()).keys, [
        `settings:${BOB}`,
      ]);
      assert.equal(
        await rawCommand(server.port, ["ZCARD", "sc:{0counter}a"]),
        ":0\r\n",
        "no attribution is left",
      );
    } finally {
      await server.dispose();
    }
  },
});
