/**
 * The cache benchmark that the figures in docs/benchmarks.md come from:
 * every case runs in interleaved rounds (each round runs every case once,
 * in a fresh random order, so drift on a shared machine hits all cases
 * alike), and each ratio is the median time of the baseline over the median
 * time of the case (above 1 = faster than the baseline). Both CPU time of
 * this process and wall time are reported: on a shared machine CPU time is
 * the steadier measure of work done; wall time includes waiting for fsync,
 * so it is the one that matters for the durability ("full") comparisons. Both CPU time of
 * this process and wall time are reported: on a shared machine CPU time is
 * the steadier measure of work done; wall time includes waiting for fsync,
 * so it is the one that matters for the durability ("full") comparisons.
 *
 *   deno run --allow-read --allow-write --allow-env --unstable-kv tests/cache_bench_rounds.ts
 *
 * SUP_BENCH_SIZES (default "10000,1000000") picks the key counts,
 * SUP_BENCH_ROUNDS (default 11) the rounds, SUP_BENCH_KV=0 skips Deno KV.
 */
import { cases, interleave, makeSubjects, median } from "./cache_bench_util.ts";

const sizes = (Deno.env.get("SUP_BENCH_SIZES") ?? "10000,1000000").split(",")
  .map(Number);
const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 11);
const withKv = Deno.env.get("SUP_BENCH_KV") !== "0";
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
    const { cases: list, pairs } = cases(s);
    const times = await interleave(list, rounds);
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
} finally {
  await Deno.remove(root, { recursive: true });
}
