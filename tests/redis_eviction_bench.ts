/**
 * Eviction on Redis: a new key written into a namespace at its key quota
 * (every write needs room, so it evicts, in batches) against a new key
 * written into a namespace of the same size far from its quota, through
 * the public API on the same server; and reads near the quota (recorded
 * for LRU) against reads far from it. Interleaved: per round, a batch of
 * each variant in a fresh random order; ratios are medians of the same
 * run (baseline median / ours; the target for writes is at least 0.5x,
 * i.e. an evicting write costs at most twice a plain one).
 *
 * Starts its own redis-server on a free loopback port (skips with a
 * message when redis-server is missing). Run with
 * `deno bench --allow-read --allow-write --allow-env --allow-run --allow-net=127.0.0.1 tests/redis_eviction_bench.ts`.
 */
import { createSupCache } from "../mod.ts";
import { RedisServer, redisSkip } from "./support/redis_server.ts";

const N = Number(Deno.env.get("SUP_BENCH_EVICT_KEYS") ?? 10_000);
const ROUNDS = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 101);
const BATCH = 20;
const VALUE = "a cached value of a typical size, ~40 B";
const keyOf = (i: number) => `user:${String(i).padStart(6, "0")}`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

if (redisSkip) {
  console.error(`redis eviction bench skipped: ${redisSkip}`);
} else {
  const server = await RedisServer.start();
  globalThis.addEventListener("unload", () => server.killSync());
  const open = (keyPrefix: string, maxKeys: number) =>
    createSupCache({
      redis: { url: server.url, keyPrefix },
      sweepIntervalMs: 0,
      limits: { maxKeys },
    });
  const plain = await open("plain:", 100 * N);
  const full = await open("full:", N);
  const a = plain.namespace("bench");
  const b = full.namespace("bench");
  for (let i = 0; i < N; i += 1_000) {
    const batch = Array.from(
      { length: Math.min(1_000, N - i) },
      (_, j) => [keyOf(i + j), VALUE] as const,
    );
    await a.setMany(batch);
    await b.setMany(batch);
  }
  let fresh = 0;
  const newKey = () => `new:${(fresh++ * 2654435761 >>> 0).toString(16)}`;
  // Keys still there in the full namespace (it loses its oldest first).
  const live = () =>
    `new:${
      ((fresh - 1 - Math.floor(Math.random() * Math.min(fresh, N / 2))) *
          2654435761 >>> 0).toString(16)
    }`;
  const rnd = () => keyOf(Math.floor(Math.random() * N));

  const variants: Record<
    string,
    { base: () => Promise<unknown>; ours: () => Promise<unknown> }
  > = {
    "set (new key): evicting vs far from the quota": {
      base: () => a.set(newKey(), VALUE),
      ours: () => b.set(newKey(), VALUE),
    },
    "get (hit): near the quota (reads recorded) vs far": {
      base: () => a.get(rnd()),
      ours: () => b.get(fresh > 0 ? live() : rnd()),
    },
  };

  const rows: string[] = [];
  for (const [name, v] of Object.entries(variants)) {
    const times = { base: [] as number[], ours: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = Math.random() < 0.5
        ? (["base", "ours"] as const)
        : (["ours", "base"] as const);
      for (const which of order) {
        const t0 = performance.now();
        for (let i = 0; i < BATCH; i++) await v[which]();
        times[which].push((performance.now() - t0) / BATCH);
      }
    }
    const base = median(times.base);
    const ours = median(times.ours);
    // The mean too: a batch that evicts is rare, so the median hides it;
    // the mean spreads its cost over the writes the room was made for.
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    rows.push(
      `| ${name} | ${(base * 1000).toFixed(1)} µs | ${
        (ours * 1000).toFixed(1)
      } µs | ${(base / ours).toFixed(2)}x | ${
        (mean(times.base) / mean(times.ours)).toFixed(2)
      }x |`,
    );
  }
  const [info] = await full.namespaces();
  console.log(
    [
      `\nRedis eviction, ${
        N.toLocaleString("en-US")
      } keys at the key quota, medians of ${ROUNDS} interleaved rounds of ${BATCH} ops:`,
      "| operation | baseline (median) | ours (median) | baseline/ours (medians) | baseline/ours (means) |",
      "| --- | --- | --- | --- | --- |",
      ...rows,
      `\nfull namespace after the run: ${info.keys} keys, ${info.evictions} evictions`,
    ].join("\n"),
  );

  for (const [name, v] of Object.entries(variants)) {
    Deno.bench({
      name: `far from the quota: ${name}`,
      group: name,
      baseline: true,
      async fn(t) {
        await v.ours();
        t.start();
        await v.base();
        t.end();
      },
    });
    Deno.bench({
      name: `at the quota: ${name}`,
      group: name,
      async fn(t) {
        await v.base();
        t.start();
        await v.ours();
        t.end();
      },
    });
  }
  globalThis.addEventListener("unload", () => {
    // Best effort: the server is killed right after.
    plain.close().catch(() => {});
    full.close().catch(() => {});
  });
}
