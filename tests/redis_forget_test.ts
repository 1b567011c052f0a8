/**
 * `sup-cache forget --redis`, on a server of its own (the CLI has no key
 * prefix option, so it cannot share the per-test prefixes). The forget
 * conformance itself runs on every backend, Redis included, in
 * tests/forget_test.ts.
 */
import assert from "node:assert/strict";
import { createSupCache } from "../mod.ts";
import { actFor } from "../src/cache/namespace.ts";
import { CLI_FLAGS, ok } from "./support/cli_run.ts";
import { rawCommand, RedisServer, redisSkip } from "./support/redis_server.ts";

const ADA = "34600000001@s.whatsapp.net";
const BOB = "34600000002@s.whatsapp.net";

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
