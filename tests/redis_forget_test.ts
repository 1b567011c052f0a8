/**
 * `sup-cache forget --redis`, on a server of its own (the CLI has no key
 * prefix option, so it cannot share the per-test prefixes). The forget
 * conformance itself runs on every backend, Redis included, in
 * tests/forget_test.ts.
 */
import assert from "node:assert/strict";
import { createSupCache } from "../mod.ts";
import { CLI_FLAGS, ok } from "./support/cli_run.ts";
import { rawCommand, RedisServer, redisSkip } from "./support/redis_server.ts";
import { BOB, forgetThroughCli, seedForget } from "./support/forget_cli.ts";

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
        await seedForget(cache);
      }
      const flags = [...CLI_FLAGS, "--allow-net=127.0.0.1"];
      const run = async (...args: string[]) =>
        (await ok([...args, "--redis", server.url], { flags })).stdout;
      await forgetThroughCli(run);
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
