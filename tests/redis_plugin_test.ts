// Plugins on a Redis-backed cache, unchanged for their authors: the host
// functions wait for the network (async, with JSPI) instead of blocking on
// SQLite. The counter example plugin (binary ABI, atomic increment) and
// sup's own ABI (get_cache / set_cache / list_store) against a real
// redis-server, and four processes incrementing through the plugin on a
// real cluster.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createSupCache, loadPlugin } from "../mod.ts";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";
import { frames, supCall } from "./fixtures/setup.ts";
import { writeFixture } from "./fixtures/wat.ts";
import {
  RedisCluster,
  RedisServer,
  redisSkip,
} from "./support/redis_server.ts";

await buildPlugins({ only: ["counter"] });
const COUNTER = wasmPathOf("counter");
const dec = new TextDecoder();

function pluginTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `[redis] ${name}${redisSkip ? ` (skipped: ${redisSkip})` : ""}`,
    ignore: redisSkip !== null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

pluginTest("the counter plugin counts in Redis", async () => {
  const server = await RedisServer.start();
  try {
    await using cache = await createSupCache({ redis: { url: server.url } });
    assert.equal(cache.remote, true);
    await using p = await loadPlugin(COUNTER, { cache });
    const say = async (message: string) => {
      const out = await p.handleMessage({
        message,
        sender: "ada@s.whatsapp.net",
      });
      assert.equal(out.success, true, out.error);
      return out.reply;
    };
    assert.equal(await say(""), "Counter value: 0 (not set)");
    assert.equal(await say("+"), "Counter incremented to 1");
    assert.equal(await say("+"), "Counter incremented to 2");
    assert.equal(await say("-"), "Counter decremented to 1");
    assert.equal(await say("+ beans"), "Counter 'beans' incremented to 1");
    // Another instance sees the same data.
    await using other = await createSupCache({ redis: { url: server.url } });
    const keys = (await other.namespace("counter").list()).keys;
    assert.equal(keys.length, 2, JSON.stringify(keys));
  } finally {
    await server.dispose();
  }
});

pluginTest(
  "sup's ABI (get_cache, set_cache, list_store) answers the same on Redis",
  async () => {
    const server = await RedisServer.start();
    const dir = await Deno.makeTempDir({ prefix: "sup-redis-plugin-" });
    try {
      await using cache = await createSupCache({ redis: { url: server.url } });
      const path = await writeFixture(dir, "bridge");
      await using p = await loadPlugin(path, {
        cache,
        hostFunctions: { noop: (_cx, h) => h },
      });
      assert.equal(
        await supCall(p, "get_cache", "k"),
        '{"success":false,"error":"key not found"}',
      );
      const set = async (body: string) =>
        (await p.call("set_cache", frames(body)))!.bytes()[0];
      assert.equal(await set('{"key":"k","value":"héllo \\"q\\""}'), 0);
      assert.equal(
        JSON.parse(await supCall(p, "get_cache", "k")).data,
        'héllo "q"',
      );
      assert.equal(await set("not json"), 1);
      assert.equal(
        dec.decode((await cache.namespace("bridge").get("k"))!),
        'héllo "q"',
      );
      await cache.store("bridge").set("a:1", "x");
      await cache.store("bridge").set("a:2", "y");
      assert.deepEqual(
        JSON.parse(await supCall(p, "list_store", "a:")),
        { success: true, keys: ["a:1", "a:2"] },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
      await server.dispose();
    }
  },
);

pluginTest(
  "a dead Redis fails a plugin call's cache read by its deadline, not a hang",
  async () => {
    const server = await RedisServer.start();
    try {
      await using cache = await createSupCache({
        redis: { url: server.url, commandTimeoutMs: 300 },
      });
      await using p = await loadPlugin(COUNTER, { cache, timeoutMs: 5_000 });
      await p.handleMessage({ message: "+", sender: "a@s.whatsapp.net" });
      server.pause();
      try {
        const started = performance.now();
        const out = await p.handleMessage({
          message: "+",
          sender: "a@s.whatsapp.net",
        });
        // The plugin got the host function's error answer and reported it.
        assert.equal(out.success, false);
        assert.ok(performance.now() - started < 5_000);
      } finally {
        server.resume();
      }
      const out = await p.handleMessage({
        message: "show",
        sender: "a@s.whatsapp.net",
      });
      assert.equal(out.success, true, out.error);
    } finally {
      await server.dispose();
    }
  },
);

pluginTest(
  "four processes incrementing through the plugin on a cluster get the exact total",
  async () => {
    const cluster = await RedisCluster.start();
    try {
      const worker = fileURLToPath(
        new URL("./support/redis_plugin_worker.ts", import.meta.url),
      );
      const runs = await Promise.all(
        Array.from({ length: 4 }, () =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--allow-net=127.0.0.1",
              "--allow-read",
              "--allow-env",
              worker,
              JSON.stringify(cluster.urls),
              COUNTER,
              "50",
            ],
            stdout: "piped",
            stderr: "piped",
          }).output()),
      );
      for (const r of runs) assert.ok(r.success, dec.decode(r.stderr));
      await using cache = await createSupCache({
        redis: { cluster: cluster.urls },
      });
      const keys = (await cache.namespace("counter").list()).keys;
      assert.equal(keys.length, 1, JSON.stringify(keys));
      assert.equal(
        dec.decode((await cache.namespace("counter").get(keys[0]))!),
        "200",
      );
    } finally {
      await cluster.dispose();
    }
  },
);
