/**
 * Redis backend benchmark. Each operation is timed on three sides, on the
 * same server and data: ours; the raw node-redis client doing the least
 * that gives the same service (the target's baseline: for a write, one
 * script that checks a byte quota, `SET … PXAT`, adds the key to a sorted-set
 * index for listing and counts the bytes; for a read, `GET`; for a list,
 * `ZRANGEBYLEX` on that index); and the bare command (`SET … PXAT`,
 * `INCRBY`), to show what the bookkeeping costs. The equivalent still does
 * less than ours (no versions, no written-at or expiry index, counters that
 * drift when keys expire), so it is a floor, not a twin.
 *
 * The sides are interleaved: per round, a batch of 10 calls of each side,
 * in random order; the printed table has the medians of 150 rounds and the
 * ratios other side / ours (>= 1: we are at least as fast). Deno's own
 * report after it pairs ours with the equivalent, each timed call right
 * after an untimed call of the other.
 *
 * Starts its own redis-server on a free loopback port (skips with a message
 * when redis-server is missing; `$SUP_REDIS_SERVER` picks another binary,
 * e.g. Valkey). Run with
 * `deno bench --allow-read --allow-write --allow-env --allow-run --allow-net=127.0.0.1 tests/redis_bench.ts`.
 */
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
// deno-lint-ignore no-import-prefix
import * as redis from "npm:@redis/client@6.3.1";
import { createSupCache } from "../mod.ts";
import { RedisBackend } from "../src/storage/redis/backend.ts";
import type { KeyRange } from "../src/storage/backend.ts";
import {
  RAW_CHECK_SET,
  RAW_INCREMENT,
  RAW_SET,
} from "./support/redis_equivalents.ts";
import { RedisServer, redisSkip } from "./support/redis_server.ts";

const N = 10_000;
const value = Buffer.from("a cached value of a typical size, ~40 B");
const keyOf = (i: number) => `user:${String(i).padStart(6, "0")}`;
const pick = () => keyOf(Math.floor(Math.random() * N));

if (redisSkip) {
  console.error(`redis bench skipped: ${redisSkip}`);
} else {
  const server = await RedisServer.start();
  globalThis.addEventListener("unload", () => server.killSync());

  const ours = await RedisBackend.open({ url: server.url, keyPrefix: "o:" });
  // The same data through a second instance with the near cache on.
  const near = await RedisBackend.open({
    url: server.url,
    keyPrefix: "o:",
    nearCache: { maxEntries: 2 * N },
  });
  const raw = createRaw(server.url);
  raw.on("error", () => {}); // the server is killed at unload
  await raw.connect();
  const bin = raw.withTypeMapping({ [redis.RESP_TYPES.BLOB_STRING]: Buffer });

  // Same data on both sides: N keys in one namespace / plain strings and a
  // sorted-set index for listing.
  const size = keyOf(0).length + value.length;
  for (let i = 0; i < N; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < i + 500 && j < N; j++) {
      batch.push(
        ours.set(0, "bench", keyOf(j), value, null, size, Date.now(), null),
        // The near cache's own namespace: writes to "bench" must not make
        // the server push invalidations into this process while ours is
        // timed (the raw side's keys are not tracked).
        ours.set(0, "hot", keyOf(j), value, null, size, Date.now(), null),
      );
      batch.push(raw.set(`r:${keyOf(j)}`, value));
      batch.push(raw.zAdd("r:index", { score: 0, value: keyOf(j) }));
    }
    await Promise.all(batch);
  }
  await raw.hSet("r:usage", "bytes", String(N * size));
  const quota = { maxBytes: 256 * 1_048_576, maxKeys: 10_000_000 };
  const maxBytes = String(quota.maxBytes);
  // The bare compare-and-set: the smallest script that does it.
  const casSha = await raw.scriptLoad(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0",
  );
  // The raw equivalents (tests/support/redis_equivalents.ts).
  const setSha = await raw.scriptLoad(RAW_SET);
  const incrSha = await raw.scriptLoad(RAW_INCREMENT);
  const casEqSha = await raw.scriptLoad(RAW_CHECK_SET);
  const rawSet = (key: string) =>
    raw.sendCommand([
      "EVALSHA",
      setSha,
      "3",
      `r:${key}`,
      "r:index",
      "r:usage",
      value,
      String(Date.now() + 3_600_000),
      key,
      maxBytes,
    ]);
  const plainSet = (key: string) =>
    raw.set(`r:${key}`, value, {
      expiration: { type: "PXAT", value: Date.now() + 3_600_000 },
    });
  const rawIncrement = (key: string, ttl: number | null = null) =>
    raw.sendCommand([
      "EVALSHA",
      incrSha,
      "3",
      `r:${key}`,
      "r:index",
      "r:usage",
      "1",
      key,
      maxBytes,
      ttl === null ? "" : String(Date.now() + ttl),
    ]);
  const rawCas = (key: string, current: Buffer | null) =>
    raw.sendCommand([
      "EVALSHA",
      casEqSha,
      "3",
      `r:${key}`,
      "r:index",
      "r:usage",
      current ?? "",
      value,
      key,
      maxBytes,
    ]);

  // node:sqlite on a WAL file, the default backend's engine, for the near
  // cache's target (a hot read at least 0.5x a node:sqlite read).
  const dir = await Deno.makeTempDir({ prefix: "sup-cache-redis-bench-" });
  globalThis.addEventListener(
    "unload",
    () => Deno.removeSync(dir, { recursive: true }),
  );
  const sqlite = new DatabaseSync(`${dir}/bench.db`);
  sqlite.exec(
    "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
  );
  const insert = sqlite.prepare("INSERT INTO t VALUES (?, ?)");
  sqlite.exec("BEGIN");
  for (let i = 0; i < N; i++) insert.run(keyOf(i), value);
  sqlite.exec("COMMIT");
  const select = sqlite.prepare("SELECT v FROM t WHERE k = ?");
  // The public API on the same server and data: what a bot calls.
  const cache = await createSupCache({
    redis: { url: server.url, keyPrefix: "o:" },
    ttl: 3_600_000,
    sweepIntervalMs: 0,
  });
  const ns = cache.namespace("bench");

  // Warm the near cache: every key read once.
  for (let i = 0; i < N; i++) await near.get(0, "hot", keyOf(i), Date.now());

  const range = (from: string): KeyRange => ({
    space: 0,
    ns: "bench",
    from,
    exclusive: false,
    before: null,
    limit: 100,
    now: Date.now(),
  });

  // Three sides per operation: ours; the raw client doing the least that
  // gives the same service (the target's baseline: a key that `list` can
  // find without SCAN, usage counted and a quota checked atomically on the
  // server, expiry by Redis); and the bare command, for reference (what the
  // bookkeeping costs). The equivalent still does less than ours: no
  // versions, no written-at or expiry index, counters that drift when keys
  // expire.
  const variants: Record<
    string,
    {
      ours: () => Promise<unknown>;
      equivalent: () => Promise<unknown> | unknown;
      plain?: () => Promise<unknown>;
      equivalentIs: string;
      plainIs?: string;
    }
  > = {
    "near cache hot get vs node:sqlite get": {
      ours: () => near.get(0, "hot", pick(), Date.now()),
      equivalent: () => select.get(pick()),
      equivalentIs: "node:sqlite prepared SELECT",
    },
    "cache API: ns.get (hit)": {
      ours: () => ns.get(pick()),
      equivalent: () => bin.get(`r:${pick()}`),
      equivalentIs: "`GET`",
    },
    "cache API: ns.set with default ttl": {
      ours: () => ns.set(pick(), value),
      equivalent: () => rawSet(pick()),
      plain: () => plainSet(pick()),
      equivalentIs:
        "one script: quota check, `SET … PXAT`, `ZADD` index, `HINCRBY` usage",
      plainIs: "`SET … PXAT`",
    },
    "cache API: ns.increment": {
      ours: () => ns.increment(`n:${pick()}`),
      equivalent: () => rawIncrement(`n:${pick()}`, 3_600_000),
      plain: () => raw.incrBy(`r:n:${pick()}`, 1),
      equivalentIs:
        "one script: quota check, `INCRBY` (a new counter `PEXPIREAT` the default TTL), `ZADD` index, `HINCRBY` usage",
      plainIs: "`INCRBY`",
    },
    "get (hit)": {
      ours: () => ours.get(0, "bench", pick(), Date.now()),
      equivalent: () => bin.get(`r:${pick()}`),
      equivalentIs: "`GET`",
    },
    "set with ttl (quota on)": {
      ours: () =>
        ours.set(
          0,
          "bench",
          pick(),
          value,
          Date.now() + 3_600_000,
          size,
          Date.now(),
          quota,
        ),
      equivalent: () => rawSet(pick()),
      plain: () => plainSet(pick()),
      equivalentIs:
        "one script: quota check, `SET … PXAT`, `ZADD` index, `HINCRBY` usage",
      plainIs: "`SET … PXAT`",
    },
    "increment": {
      ours: () =>
        ours.increment(
          0,
          "bench",
          `n:${pick()}`,
          1,
          null,
          13,
          Date.now(),
          quota,
        ),
      equivalent: () => rawIncrement(`n:${pick()}`),
      plain: () => raw.incrBy(`r:n:${pick()}`, 1),
      equivalentIs:
        "one script: quota check, `INCRBY`, `ZADD` index, `HINCRBY` usage",
      plainIs: "`INCRBY`",
    },
    "list 100 keys": {
      ours: () => ours.list(range(pick())),
      equivalent: () =>
        raw.zRangeByLex("r:index", `[${pick()}`, "+", {
          LIMIT: { offset: 0, count: 100 },
        }),
      equivalentIs:
        "`ZRANGEBYLEX … LIMIT 0 100` (may return expired keys; ours skips them)",
    },
    "atomic check + set": {
      ours: async () => {
        const key = pick();
        const e = await ours.get(0, "bench", key, Date.now());
        return ours.commit(
          0,
          "bench",
          [{ key, version: e?.version ?? null }],
          [
            { key, value, expiresAt: null, size },
          ],
          Date.now(),
          quota,
        );
      },
      equivalent: async () => {
        const key = pick();
        const current = await bin.get(`r:${key}`);
        return rawCas(key, current);
      },
      plain: async () => {
        const key = `r:${pick()}`;
        const current = await bin.get(key);
        return raw.sendCommand([
          "EVALSHA",
          casSha,
          "1",
          key,
          current ?? "",
          value,
        ]);
      },
      equivalentIs:
        "`GET`, then one script: compare, quota check, `SET`, `ZADD` index, `HINCRBY` usage",
      plainIs: "`GET`, then a compare-and-set script",
    },
  };

  // Medians of interleaved batches: per round, a batch of each side in
  // random order; a ratio is the other side's median / ours (>= 1 means we
  // are at least as fast). Printed before Deno's own report.
  const ROUNDS = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 150);
  const BATCH = 10;
  const rows: string[] = [];
  for (const [name, v] of Object.entries(variants)) {
    const sides = { ours: v.ours, equivalent: v.equivalent, plain: v.plain };
    const names = (Object.keys(sides) as (keyof typeof sides)[])
      .filter((k) => sides[k] !== undefined);
    const times: Record<string, number[]> = {};
    for (const side of names) times[side] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = [...names].sort(() => Math.random() - 0.5);
      for (const side of order) {
        const fn = sides[side]!;
        const t0 = performance.now();
        for (let i = 0; i < BATCH; i++) await fn();
        times[side].push((performance.now() - t0) / BATCH);
      }
    }
    const o = median(times.ours);
    const e = median(times.equivalent);
    const us = (t: number) => `${(t * 1000).toFixed(1)} µs`;
    const plain = v.plain
      ? `${us(median(times.plain))} | ${
        (median(times.plain) / o).toFixed(2)
      }x | ${v.plainIs}`
      : "| |";
    rows.push(
      `| ${name} | ${us(o)} | ${us(e)} | ${
        (e / o).toFixed(2)
      }x | ${v.equivalentIs} | ${plain} |`,
    );
  }
  // Server time per operation of each side (INFO commandstats over 500
  // calls), when asked for: it tells the server's share of a gap from the
  // rest (client code, the wire). Only the requests a side sends count: a
  // script's or a MULTI's own time includes the commands inside it (which
  // the server also counts under their own names). For the atomic check
  // + set, the script alone (its read is the get's row).
  if (Deno.env.get("SUP_BENCH_SERVER_TIME")) {
    const serverTime = async (fn: () => unknown) => {
      await raw.sendCommand(["CONFIG", "RESETSTAT"]);
      for (let i = 0; i < 500; i++) await fn();
      const info = await raw.sendCommand(["INFO", "commandstats"]) as string;
      const stats = new Map<string, number>();
      for (const m of info.matchAll(/cmdstat_([^:]+):calls=\d+,usec=(\d+)/g)) {
        stats.set(m[1], Number(m[2]));
      }
      const sum = (names: string[]) =>
        names.reduce((t, n) => t + (stats.get(n) ?? 0), 0);
      const usec = stats.has("exec")
        ? sum(["multi", "exec"])
        : stats.has("evalsha") || stats.has("eval")
        ? sum(["evalsha", "eval"])
        : sum([...stats.keys()].filter((n) => !/^(config|info)/.test(n)));
      return usec / 500;
    };
    for (const [name, v] of Object.entries(variants)) {
      if (name.startsWith("near")) continue;
      const o = await serverTime(v.ours);
      const e = await serverTime(v.equivalent);
      console.log(
        `server time: ${name}: ours ${o.toFixed(1)} µs, equivalent ${
          e.toFixed(1)
        } µs`,
      );
    }
  }

  // How long until a write by one instance shows in another's near cache:
  // from the write's acknowledgement to the first read that returns it,
  // reading after every turn of the event loop.
  const windows: number[] = [];
  for (let i = 0; i < 50; i++) {
    const key = pick();
    const next = Buffer.from(`changed ${i}`);
    await ours.set(0, "hot", key, next, null, size, Date.now(), null);
    const acked = performance.now();
    for (;;) {
      const e = await near.get(0, "hot", key, Date.now());
      if (e && Buffer.compare(Buffer.from(e.value), next) === 0) break;
      await new Promise((r) => setTimeout(r, 0));
    }
    windows.push(performance.now() - acked);
  }
  console.log(
    `\nnear cache: another instance's write visible after ${
      (median(windows) * 1000).toFixed(0)
    } µs (median of 50; max ${(Math.max(...windows) * 1000).toFixed(0)} µs)`,
  );

  console.log(
    [
      `\nRedis backend vs raw node-redis, medians of ${ROUNDS} interleaved rounds of ${BATCH} ops:`,
      "| operation | sup-cache | raw equivalent | equivalent/ours | the equivalent | bare command | bare/ours | the bare command |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
    ].join("\n"),
  );

  for (const [name, v] of Object.entries(variants)) {
    Deno.bench({
      name: `raw node-redis equivalent: ${name}`,
      group: name,
      baseline: true,
      async fn(b) {
        await v.ours();
        b.start();
        await v.equivalent();
        b.end();
      },
    });
    Deno.bench({
      name: `sup-cache redis: ${name}`,
      group: name,
      async fn(b) {
        await v.equivalent();
        b.start();
        await v.ours();
        b.end();
      },
    });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// The raw client as a user makes it (node-redis's defaults, one timer per
// command); `$SUP_BENCH_RAW_NO_TIMER` turns that timer off, as the backend
// does (docs/scale-out.md, "Choosing the client").
function createRaw(url: string) {
  return redis.createClient(
    Deno.env.get("SUP_BENCH_RAW_NO_TIMER")
      ? { url, RESP: 3, commandOptions: { timeout: 0 } }
      : { url, RESP: 3 },
  );
}
