/**
 * The cache benchmark that the figures in docs/benchmarks.md come from:
 * every case runs in interleaved rounds (each round runs every case once,
 * in a fresh random order, so drift on a shared machine hits all cases
 * alike), and each ratio is the median time of the baseline over the median
 * time of the case (above 1 = faster than the baseline). Both CPU time of
 * this process and wall time are reported: on a shared machine CPU time is
 * the steadier measure of work done; wall time includes waiting for fsync,
 * so it is the one that matters for the durability ("full") comparisons.
 *
 *   deno run --allow-read --allow-write --allow-env --unstable-kv tests/cache_bench_rounds.ts
 *
 * SUP_BENCH_SIZES (default "10000,1000000") picks the key counts,
 * SUP_BENCH_ROUNDS (default 11) the rounds, SUP_BENCH_KV=0 skips Deno KV.
 * SUP_BENCH_ONLY (comma-separated starts of row labels, e.g.
 * "increment,set (new key)" or "Deno KV") runs only the comparisons whose
 * label starts with one of them, so a case can be measured without
 * the other cases' writes (and the WAL checkpoints they cause) landing in
 * its rounds.
 * SUP_BENCH_WAL ("own", the default, or "shared"): with "own" every case
 * starts on an empty WAL and ends with a timed checkpoint of both files, so
 * each side pays for copying back exactly the pages it wrote; with
 * "shared" SQLite's automatic checkpoints land on whichever case crosses
 * the 1,000-page mark, and the runner prints how often that was each case.
 * SUP_BENCH_EVICT_KEYS (default 10000; 0 skips) sizes the eviction tier:
 * a new key written into a namespace at its key quota (every write needs
 * room, so it evicts, in batches) against a new key written into one of
 * the same size far from any quota; and reads there, where they are
 * recorded for LRU, against reads far from the quota.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createSupCache } from "../mod.ts";
import {
  type Case,
  cases,
  interleave,
  keyOf,
  makeSubjects,
  median,
  VALUE,
  WalFiles,
} from "./cache_bench_util.ts";

const sizes = (Deno.env.get("SUP_BENCH_SIZES") ?? "10000,1000000").split(",")
  .map(Number);
const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 11);
const withKv = Deno.env.get("SUP_BENCH_KV") !== "0";
const evictKeys = Number(Deno.env.get("SUP_BENCH_EVICT_KEYS") ?? 10_000);
// "own" (the default): each case pays for checkpointing its own writes;
// "shared": SQLite's automatic checkpoints land wherever they fall.
const walMode = Deno.env.get("SUP_BENCH_WAL") ?? "own";
if (walMode !== "own" && walMode !== "shared") {
  throw new Error(`SUP_BENCH_WAL is "own" or "shared", not "${walMode}"`);
}
const only = Deno.env.get("SUP_BENCH_ONLY")?.split(",").map((s) => s.trim());
const root = await Deno.makeTempDir({ prefix: "sup-cache-bench-" });
const fmt = (x: number) => x.toFixed(x < 10 ? 2 : 1);

try {
  console.log(
    `deno ${Deno.version.deno}, ${
      new Date().toISOString().slice(0, 10)
    }, ${rounds} interleaved rounds, medians; ratio = baseline time / our time (>= 1 is as fast or faster)\n`,
  );
  for (const n of sizes) {
    const t0 = performance.now();
    const s = await makeSubjects(root, n, withKv);
    const all = cases(s);
    const pairs = only
      ? all.pairs.filter(([label]) => only.some((o) => label.startsWith(o)))
      : all.pairs;
    const wanted = new Set(pairs.flatMap(([, base, ours]) => [base, ours]));
    const list = all.cases.filter((c) => wanted.has(c.name));
    const times = await interleave(list, rounds, {
      files: s.wal,
      own: walMode === "own",
    });
    if (walMode === "shared") {
      console.log("checkpoints per round landing in each case:");
      for (const c of list) {
        const m = s.wal.seen.get(c.name);
        console.log(
          `  ${c.name}: minimal ${
            ((m?.get("minimal") ?? 0) / rounds).toFixed(2)
          }, ours ${((m?.get("ours") ?? 0) / rounds).toFixed(2)}`,
        );
      }
    }
    console.log(
      `### ${n.toLocaleString("en-US")} keys (filled in ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s including the run)\n`,
    );
    console.log(
      "| operation | baseline µs/op (CPU) | ours µs/op (CPU) | ratio (CPU) | ratio (wall) |",
    );
    console.log("| --- | --- | --- | --- | --- |");
    for (const [label, base, ours] of pairs) {
      const b = times.get(base)!;
      const o = times.get(ours)!;
      const bc = median(b.cpu);
      const oc = median(o.cpu);
      const wall = median(b.wall) / median(o.wall);
      console.log(
        `| ${label} | ${fmt(bc)} | ${fmt(oc)} | ${(bc / oc).toFixed(2)}x | ${
          wall.toFixed(2)
        }x |`,
      );
    }
    const { minimal, ours } = s.bytesPerKey;
    console.log(
      `| bytes per key (file after checkpoint) | ${fmt(minimal)} | ${
        fmt(ours)
      } | ${(ours / minimal).toFixed(2)}x the minimal size | |\n`,
    );
    await s.close();
  }
  if (evictKeys > 0) await evictionTier(evictKeys);
} finally {
  await Deno.remove(root, { recursive: true });
}

/** New keys into a full namespace (evicting) against new keys far from a quota. */
async function evictionTier(n: number): Promise<void> {
  const dir = join(root, "evict");
  const plain = await createSupCache({
    dataDir: join(dir, "plain"),
    sweepIntervalMs: 0,
  });
  const full = await createSupCache({
    dataDir: join(dir, "full"),
    sweepIntervalMs: 0,
    limits: { maxKeys: n },
  });
  const a = plain.namespace("bench");
  const b = full.namespace("bench");
  for (let i = 0; i < n; i += 10_000) {
    const batch = Array.from(
      { length: Math.min(10_000, n - i) },
      (_, j) => [keyOf(i + j), VALUE] as const,
    );
    a.sync.setMany(batch);
    b.sync.setMany(batch);
  }
  let fresh = 0;
  const newKey = () => `new:${(fresh++ * 2654435761 >>> 0).toString(16)}`;
  // Reads of keys that are still there (the full namespace loses its oldest).
  const live = () =>
    `new:${
      ((Math.floor(Math.random() * fresh)) * 2654435761 >>> 0).toString(16)
    }`;
  const rnd = () => keyOf(Math.floor(Math.random() * n));
  const list: Case[] = [
    { name: "plain", fn: () => a.sync.set(newKey(), VALUE), ops: 1000 },
    { name: "evicting", fn: () => b.sync.set(newKey(), VALUE), ops: 1000 },
    { name: "get far", fn: () => a.sync.get(rnd()), ops: 4000 },
    {
      name: "get near",
      fn: () => b.sync.get(fresh > 0 ? live() : rnd()),
      ops: 4000,
    },
  ];
  const t0 = performance.now();
  const wal = new WalFiles(
    [plain.path, full.path].map((path, i) => ({
      name: i === 0 ? "plain" : "full",
      db: new DatabaseSync(path),
      path,
    })),
  );
  const times = await interleave(list, rounds, {
    files: wal,
    own: walMode === "own",
  });
  wal.close();
  console.log(
    `### Eviction: ${n.toLocaleString("en-US")} keys at the key quota (${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s)\n`,
  );
  console.log(
    "| operation | baseline µs/op (CPU) | ours µs/op (CPU) | ratio (CPU) | ratio (wall) |",
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (
    const [label, base, ours] of [
      ["set (new key), evicting vs far from the quota", "plain", "evicting"],
      ["get hit, reads recorded vs not", "get far", "get near"],
    ]
  ) {
    const x = times.get(base)!;
    const y = times.get(ours)!;
    const bc = median(x.cpu);
    const oc = median(y.cpu);
    console.log(
      `| ${label} | ${fmt(bc)} | ${fmt(oc)} | ${(bc / oc).toFixed(2)}x | ${
        (median(x.wall) / median(y.wall)).toFixed(2)
      }x |`,
    );
  }
  const stats = b.sync.stats();
  console.log(
    `\nfull namespace after the run: ${stats.keys} keys, ${stats.evictions} evictions\n`,
  );
  await plain.close();
  await full.close();
}
