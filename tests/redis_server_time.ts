/**
 * Server time per call of the Redis backend's `set` and `increment`
 * scripts (creating the keys of a namespace of 10,000, then overwrites of
 * random ones, with a TTL and a quota), from `INFO commandstats`
 * on a `redis-server` this program starts on a loopback port
 * (`$SUP_REDIS_SERVER` picks another binary). Pass another checkout's
 * root to measure its scripts instead, for an A/B of two layouts:
 *
 * ```sh
 * deno run -A tests/redis_server_time.ts [path/to/other/checkout]
 * ```
 *
 * Not a test: it prints figures for docs/scale-out.md ("Measured").
 */
import { rawCommand, RedisServer } from "./support/redis_server.ts";

// Only when run as a program: `deno test tests/redis_*.ts` loads this
// file too, and must not time anything.
if (import.meta.main) {
  const root = Deno.args[0] ?? new URL("..", import.meta.url).pathname;
  const { RedisBackend } = await import(
    `file://${root.replace(/\/$/, "")}/src/storage/redis/backend.ts`
  );
  const server = await RedisServer.start();
  const port = server.port;
  try {
    const b = await RedisBackend.open({ url: `redis://127.0.0.1:${port}` });
    const quota = { maxKeys: 100_000, maxBytes: 100_000_000 };
    const v = new TextEncoder().encode("x".repeat(100));
    const ops: Record<string, (i: number) => Promise<unknown>> = {
      set: (i) =>
        b.set(
          0,
          "n",
          `k${i % 10_000}`,
          v,
          Date.now() + 60_000,
          103,
          Date.now(),
          quota,
        ),
      increment: (i) =>
        b.increment(
          0,
          "n",
          `c${i % 10_000}`,
          1,
          Date.now() + 60_000,
          4,
          Date.now(),
          quota,
        ),
    };
    const perCall = async () => {
      const info = await rawCommand(port, ["INFO", "commandstats"]);
      return info.match(/cmdstat_evalsha:.*usec_per_call=([\d.]+)/)?.[1];
    };
    for (const [name, op] of Object.entries(ops)) {
      // 10,000 new keys (the last 9,000 timed), then overwrites of random
      // ones (as tests/redis_bench.ts).
      for (let i = 0; i < 1_000; i++) await op(i);
      await rawCommand(port, ["CONFIG", "RESETSTAT"]);
      for (let i = 1_000; i < 10_000; i++) await op(i);
      const created = await perCall();
      await rawCommand(port, ["CONFIG", "RESETSTAT"]);
      for (let i = 0; i < 3_000; i++) {
        await op(Math.floor(Math.random() * 10_000));
      }
      console.log(
        `${name}: ${created} µs of server time per call creating a key (9,000 calls), ${await perCall()} per overwrite (3,000 calls)`,
      );
    }
    await b.close();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
}
