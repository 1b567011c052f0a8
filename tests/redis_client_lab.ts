/**
 * Where the time of a Redis request goes on the client side. Four parts,
 * each a set of sides timed in interleaved rounds of 10 calls (300 unless
 * `$SUP_BENCH_ROUNDS` says otherwise), in random order, medians printed:
 *
 * 1. One `increment` through each layer: the bench's raw equivalent
 *    script (tests/redis_bench.ts); our `INCREMENT` script sent by the raw
 *    node-redis client; the same through `RedisLink`; through
 *    `RedisBackend`; through the cache API (`ns.increment`, default TTL).
 *    Every side creates counters with the default TTL among 10,000 random
 *    keys, each in a namespace of its own (sides sharing one would make
 *    each other's counters exist sooner, and an overwrite costs less than
 *    a creation). The raw client runs without node-redis's per-command
 *    timer, as RedisLink does, so each layer shows its own cost. Then the
 *    cache layer's own JavaScript: the cache API over a backend whose
 *    `increment` answers at once, against calling it directly.
 * 2. node-redis's per-command timer: `EVALSHA` of a one-line script from a
 *    client with node-redis's defaults and from one without the timer.
 * 3. A page of 100 keys: a bare `ZRANGEBYLEX`; `ZCOUNT` and `ZRANGEBYLEX`
 *    in node-redis's `multi()`; the same as plain `MULTI` … `EXEC` commands
 *    sent back to back (RedisLink's transaction).
 * 4. The reply of a write: `INCREMENT` (an array with the namespace's
 *    totals) against `INCREMENT_CHANGE` (one integer), from the raw client.
 *
 * Not a test: it prints figures for docs/scale-out.md ("Measured"). Starts
 * its own `redis-server` on a loopback port (`$SUP_REDIS_SERVER` picks
 * another binary):
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
import { INCREMENT, INCREMENT_CHANGE } from "../src/storage/redis/scripts.ts";
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
    // Without node-redis's per-command timer, as RedisLink sends a request
    // alone on its connection (connection.ts, NO_TIMER): each layer's own
    // cost, not the timer's.
    const raw = redis.createClient({
      url: server.url,
      RESP: 3,
      commandOptions: { timeout: 0 },
    });
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
    // Our request from the raw client, by a script's hash.
    const send = (sha: string, k: NamespaceKeys) => {
      const r = request(k, pick(), Date.now());
      return raw.sendCommand([
        "EVALSHA",
        sha,
        String(r.keys.length),
        ...r.keys,
        ...r.args,
      ]);
    };
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
      "our request, raw client": () => send(ourSha, viaRaw),
      "our request, RedisLink": () => {
        const r = request(viaLink, pick(), Date.now());
        return link.run(INCREMENT, r.keys, r.args);
      },
      "RedisBackend.increment": () => incrementVia(backend),
      "cache API ns.increment": () => ns.increment(pick()),
    };
    const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 300);
    report(
      `1. increment, medians of ${rounds} interleaved rounds:`,
      await timeSides(sides, rounds),
    );
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

    // 2. node-redis's per-command timer.
    const timed = redis.createClient({ url: server.url, RESP: 3 });
    await timed.connect();
    const oneLine = await raw.scriptLoad("return 1");
    report(
      "2. one EVALSHA, node-redis's per-command timer:",
      await timeSides({
        "node-redis's defaults": () =>
          timed.sendCommand(["EVALSHA", oneLine, "0"]),
        "without the timer": () => raw.sendCommand(["EVALSHA", oneLine, "0"]),
      }, rounds),
    );
    await timed.quit();

    // 3. A page of 100 keys, from an index of 10,000 and an expiry set of
    // 1,000 (as list's fast path reads them).
    for (let i = 0; i < 10_000; i += 500) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < i + 500; j++) {
        const key = `user:${String(j).padStart(6, "0")}`;
        batch.push(raw.zAdd("p:index", { score: 0, value: key }));
        if (j < 1_000) {
          batch.push(raw.zAdd("p:x", { score: Date.now() + TTL, value: key }));
        }
      }
      await Promise.all(batch);
    }
    const page = () => [
      "ZRANGEBYLEX",
      "p:index",
      `[user:${String(Math.floor(Math.random() * 10_000)).padStart(6, "0")}`,
      "+",
      "LIMIT",
      "0",
      "100",
    ];
    const due = () => ["ZCOUNT", "p:x", "-inf", String(Date.now())];
    const ignore = () => {};
    report(
      "3. a page of 100 keys:",
      await timeSides({
        "bare ZRANGEBYLEX": () => raw.sendCommand(page()),
        "node-redis multi()": () =>
          raw.multi().addCommand(due()).addCommand(page()).exec(),
        "plain MULTI ... EXEC": () => {
          raw.sendCommand(["MULTI"]).catch(ignore);
          raw.sendCommand(due()).catch(ignore);
          raw.sendCommand(page()).catch(ignore);
          return raw.sendCommand(["EXEC"]);
        },
      }, rounds),
    );

    // 4. The reply of a write: totals (an array) or the change (an integer).
    const changeSha = await raw.scriptLoad(INCREMENT_CHANGE.source);
    const viaTotals = new NamespaceKeys("t:", 0, "bench");
    const viaChange = new NamespaceKeys("v:", 0, "bench");
    report(
      "4. increment's reply, from the raw client:",
      await timeSides({
        "INCREMENT (totals)": () => send(ourSha, viaTotals),
        "INCREMENT_CHANGE (integer)": () => send(changeSha, viaChange),
      }, rounds),
    );

    await cache.close();
    await backend.close();
    await link.close();
    await raw.quit();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
}

/** Medians (µs per call) of interleaved rounds of 10 calls per side. */
async function timeSides(
  sides: Record<string, () => Promise<unknown>>,
  rounds: number,
): Promise<Map<string, number>> {
  const names = Object.keys(sides);
  const times = new Map(names.map((n) => [n, [] as number[]]));
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
  return new Map(names.map((n) => [n, median(times.get(n)!)]));
}

/** Print each side's median and the first side's median over it. */
function report(title: string, medians: Map<string, number>): void {
  console.log(title);
  const base = medians.values().next().value!;
  for (const [name, m] of medians) {
    console.log(
      `  ${name.padEnd(28)} ${m.toFixed(1).padStart(7)} µs  first/this ${
        (base / m).toFixed(2)
      }x`,
    );
  }
}
