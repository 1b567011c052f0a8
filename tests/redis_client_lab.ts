/**
 * Where the time of a Redis `increment` goes on the client side: the same
 * request timed through each layer, on one server, each side in a
 * namespace of its own (sides sharing one would make each other's counters
 * exist sooner, and an overwrite costs less than a creation). Sides: the
 * bench's raw equivalent script (tests/redis_bench.ts); our `INCREMENT`
 * script sent by the raw node-redis client; the same through `RedisLink`;
 * through `RedisBackend`; through the cache API (`ns.increment`, default
 * TTL). Every side creates counters with the default TTL among 10,000
 * random keys. Last, the cache layer's own JavaScript: the cache API over
 * a backend whose `increment` answers at once, against calling it directly. Medians of interleaved rounds of 10 calls (300 unless
 * `$SUP_BENCH_ROUNDS` says otherwise), in random order. Not a test: it
 * prints figures for docs/scale-out.md ("Measured"). Starts its own
 * `redis-server` on a loopback port (`$SUP_REDIS_SERVER` picks another
 * binary):
 *
 * ```sh
 * deno run -A tests/redis_client_lab.ts
 * ```
 */
// deno-lint-ignore no-import-prefix
import * as redis from "npm:@redis/client@6.3.1";
import { createSupCache } from "../mod.ts";
import { RedisBackend } from "../src/storage/redis/backend.ts";
import { RedisLink } from "../src/storage/redis/connection.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import { resolveRedisOptions } from "../src/storage/redis/options.ts";
import { INCREMENT } from "../src/storage/redis/scripts.ts";
import { RAW_INCREMENT } from "./support/redis_equivalents.ts";
import { RedisServer } from "./support/redis_server.ts";

// Only when run as a program: `deno test tests/redis_*.ts` loads this
// file too, and must not time anything.
if (import.meta.main) {
  const server = await RedisServer.start();
  try {
    const TTL = 3_600_000;
    const quota = { maxBytes: 256 * 1_048_576, maxKeys: 10_000_000 };
    const pick = () =>
      `n:user:${String(Math.floor(Math.random() * 10_000)).padStart(6, "0")}`;
    const raw = redis.createClient({ url: server.url, RESP: 3 });
    await raw.connect();
    const link = await RedisLink.open(resolveRedisOptions({ url: server.url }));
    const backend = await RedisBackend.open({ url: server.url });
    const cache = await createSupCache({
      redis: { url: server.url, keyPrefix: "c:" },
      ttl: TTL,
      sweepIntervalMs: 0,
    });
    const ns = cache.namespace("bench");
    const eqSha = await raw.scriptLoad(RAW_INCREMENT);
    const ourSha = await raw.scriptLoad(INCREMENT.source);
    const viaRaw = new NamespaceKeys("r:", 0, "bench");
    const viaLink = new NamespaceKeys("l:", 0, "bench");
    // Our request, as RedisBackend.increment builds it.
    const request = (k: NamespaceKeys, key: string, now: number) => ({
      keys: [...k.fixed, k.entry(key)],
      args: [
        key,
        "1",
        String(now + TTL),
        String(key.length),
        String(now),
        String(quota.maxBytes),
        String(quota.maxKeys),
      ],
    });
    // A new counter with the default TTL, as the cache API sends it.
    const incrementVia = (b: RedisBackend) => {
      const key = pick();
      const now = Date.now();
      return b.increment(0, "bench", key, 1, now + TTL, key.length, now, quota);
    };
    const sides: Record<string, () => Promise<unknown>> = {
      "raw equivalent script": () => {
        const key = pick();
        return raw.sendCommand([
          "EVALSHA",
          eqSha,
          "3",
          `e:${key}`,
          "e:index",
          "e:usage",
          "1",
          key,
          String(quota.maxBytes),
          String(Date.now() + TTL),
        ]);
      },
      "our request, raw client": () => {
        const r = request(viaRaw, pick(), Date.now());
        return raw.sendCommand([
          "EVALSHA",
          ourSha,
          String(r.keys.length),
          ...r.keys,
          ...r.args,
        ]);
      },
      "our request, RedisLink": () => {
        const r = request(viaLink, pick(), Date.now());
        return link.run(INCREMENT, r.keys, r.args);
      },
      "RedisBackend.increment": () => incrementVia(backend),
      "cache API ns.increment": () => ns.increment(pick()),
    };
    const names = Object.keys(sides);
    const times = new Map(names.map((n) => [n, [] as number[]]));
    const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 300);
    for (let r = 0; r < rounds; r++) {
      for (const name of [...names].sort(() => Math.random() - 0.5)) {
        const t0 = performance.now();
        for (let i = 0; i < 10; i++) await sides[name]();
        times.get(name)!.push((performance.now() - t0) * 100);
      }
    }
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s[s.length >> 1];
    };
    const base = median(times.get(names[0])!);
    console.log(`increment, medians of ${rounds} interleaved rounds:`);
    for (const name of names) {
      const m = median(times.get(name)!);
      console.log(
        `${name.padEnd(24)} ${m.toFixed(1).padStart(7)} µs  equivalent/this ${
          (base / m).toFixed(2)
        }x`,
      );
    }
    // The cache layer's own JavaScript: the same calls over a backend whose
    // increment answers at once (every other method is the real one).
    const instant = new Proxy(backend, {
      get(target, name) {
        if (name === "increment") {
          return () => Promise.resolve({ kind: "ok", value: 1 });
        }
        const v = Reflect.get(target, name);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const overInstant = await createSupCache({
      driver: instant,
      ttl: TTL,
      sweepIntervalMs: 0,
    });
    const fast = overInstant.namespace("bench");
    await backend.increment(0, "bench", "seen", 1, null, 4, Date.now(), quota);
    const loop = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      for (let i = 0; i < 200_000; i++) await fn();
      return (performance.now() - t0) * 1000 / 200_000;
    };
    let direct = Infinity, layered = Infinity;
    for (let r = 0; r < 3; r++) {
      direct = Math.min(
        direct,
        await loop(() => incrementVia(instant)),
      );
      layered = Math.min(layered, await loop(() => fast.increment(pick())));
    }
    console.log(
      `cache layer alone: ${(layered - direct).toFixed(2)} µs a call (${
        layered.toFixed(2)
      } through the cache API, ${
        direct.toFixed(2)
      } calling the backend, which answers at once; best of 3 loops of 200,000)`,
    );
    await overInstant.close();
    await cache.close();
    await backend.close();
    await link.close();
    await raw.quit();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
}
