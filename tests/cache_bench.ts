/**
 * `deno bench` view of the cache benchmark: each group compares one of our
 * operations with the minimal schema (`PRIMARY KEY(ns, key) WITHOUT ROWID`,
 * same WAL and synchronous=NORMAL) as its baseline, on random keys with
 * the default one-hour TTL. Deno.bench runs benches one after another, not
 * interleaved, so its ratios drift with the machine's load; the figures in
 * docs/benchmarks.md come from tests/cache_bench_rounds.ts, which
 * interleaves rounds and reports medians. Every bench goes through
 * `bench()`, which refuses a bench returning a Promise without being
 * declared `async`. SUP_BENCH_SIZES (default 10000) picks the key counts.
 */
import { bench, cases, makeSubjects } from "./cache_bench_util.ts";

const sizes = (Deno.env.get("SUP_BENCH_SIZES") ?? "10000").split(",")
  .map(Number);
const root = await Deno.makeTempDir({ prefix: "sup-cache-bench-" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(root, { recursive: true }),
);

for (const n of sizes) {
  const label = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
  const s = await makeSubjects(root, n, true);
  const { cases: list, pairs } = cases(s);
  const byName = new Map(list.map((c) => [c.name, c]));
  for (const [group, base, ours] of pairs) {
    for (const [name, baseline] of [[base, true], [ours, false]] as const) {
      const c = byName.get(name)!;
      if (c.setup) continue; // pools need rounds; see cache_bench_rounds.ts
      bench(`${name} (${label})`, `${group} (${label})`, baseline, c.fn);
    }
  }
}
