// The CLI on Redis: --redis URL (or $SUP_CACHE_REDIS) instead of
// --data-dir, and export/import moving data between SQLite and Redis in
// both directions, run as real `deno run` subprocesses against a real
// redis-server.
import assert from "node:assert/strict";
import { cli, CLI_FLAGS, ok } from "./support/cli_run.ts";
import { RedisServer, redisSkip } from "./support/redis_server.ts";

// The documented flags plus what Redis needs: loopback network access and
// the variable that names the server.
const FLAGS = [
  ...CLI_FLAGS.map((f) =>
    f.startsWith("--allow-env=") ? `${f},SUP_CACHE_REDIS` : f
  ),
  "--allow-net=127.0.0.1",
];

function cliTest(name: string, fn: (server: RedisServer) => Promise<void>) {
  Deno.test({
    name: `[redis] ${name}${redisSkip ? ` (skipped: ${redisSkip})` : ""}`,
    ignore: redisSkip !== null,
    fn: async () => {
      const server = await RedisServer.start();
      try {
        await fn(server);
      } finally {
        await server.dispose();
      }
    },
  });
}

cliTest("set, get, keys and namespaces with --redis", async (server) => {
  const redis = ["--redis", server.url];
  await ok(["set", "weather", "berlin", "12°C", ...redis], { flags: FLAGS });
  await ok(["set", "weather", "lisbon", "19°C", ...redis], { flags: FLAGS });
  const got = await ok(["get", "weather", "berlin", ...redis], {
    flags: FLAGS,
  });
  assert.equal(got.stdout.trim(), "12°C");
  const keys = await ok(["keys", "weather", "--json", ...redis], {
    flags: FLAGS,
  });
  assert.match(keys.stdout, /berlin/);
  assert.match(keys.stdout, /lisbon/);
  // $SUP_CACHE_REDIS names the server when --redis is not given.
  const viaEnv = await ok(["namespaces", "--json"], {
    flags: FLAGS,
    env: { SUP_CACHE_REDIS: server.url },
  });
  assert.match(viaEnv.stdout, /"weather"/);
  // Backup is SQLite's; with Redis it is refused with a pointer.
  const backup = await cli(["backup", "x.db", ...redis], { flags: FLAGS });
  assert.notEqual(backup.code, 0);
  assert.match(backup.stderr, /Redis.*persistence|export/);
});

cliTest(
  "export and import move data between SQLite and Redis, both ways",
  async (server) => {
    const dir = await Deno.makeTempDir({ prefix: "sup-cache-redis-cli-" });
    try {
      const sqlite = ["--data-dir", `${dir}/data`];
      const redis = ["--redis", server.url];
      // SQLite -> Redis.
      await ok(["set", "counter", "visits", "41", ...sqlite], { flags: FLAGS });
      await ok(["set", "notes", "todo", "buy milk", "--store", ...sqlite], {
        flags: FLAGS,
      });
      await ok(["export", "--output", `${dir}/a.jsonl`, ...sqlite], {
        flags: FLAGS,
      });
      await ok(["import", `${dir}/a.jsonl`, ...redis], { flags: FLAGS });
      assert.equal(
        (await ok(["get", "counter", "visits", ...redis], { flags: FLAGS }))
          .stdout.trim(),
        "41",
      );
      assert.equal(
        (await ok(["get", "notes", "todo", "--store", ...redis], {
          flags: FLAGS,
        })).stdout.trim(),
        "buy milk",
      );
      // Redis -> a fresh SQLite directory.
      await ok(["set", "counter", "visits", "42", ...redis], { flags: FLAGS });
      await ok(["export", "--output", `${dir}/b.jsonl`, ...redis], {
        flags: FLAGS,
      });
      const back = ["--data-dir", `${dir}/back`];
      await ok(["import", `${dir}/b.jsonl`, ...back], { flags: FLAGS });
      assert.equal(
        (await ok(["get", "counter", "visits", ...back], { flags: FLAGS }))
          .stdout.trim(),
        "42",
      );
      assert.equal(
        (await ok(["get", "notes", "todo", "--store", ...back], {
          flags: FLAGS,
        })).stdout.trim(),
        "buy milk",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

cliTest("--redis and --data-dir together are a usage error", async (server) => {
  const run = await cli(
    ["keys", "x", "--redis", server.url, "--data-dir", "/tmp/nowhere"],
    { flags: FLAGS },
  );
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /--data-dir.*--redis|not both/);
});
