/**
 * What decoding an export's values costs: 10,000 lines (16-hex-digit keys,
 * 100-byte values), `JSON.parse` alone, with `Uint8Array.fromBase64` per
 * value (a buffer each), and with `setFromBase64` into shared 1 MiB blocks
 * (what `import` does), the decoded values kept as the import keeps them.
 * Interleaved rounds, CPU ms, medians.
 *
 *   deno run --allow-read --allow-env tests/cli_import_decode_bench.ts
 *
 * SUP_BENCH_ROUNDS (default 21) sets the rounds.
 */
import { cpuUsage } from "node:process";
import { exportEntryLines, median } from "./cache_bench_util.ts";

const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 21);
const lines = exportEntryLines(10_000);

const cases: Record<string, () => unknown> = {
  "JSON.parse alone": () => lines.map((l) => JSON.parse(l)),
  "JSON.parse + fromBase64": () =>
    lines.map((l) => Uint8Array.fromBase64(JSON.parse(l).value)),
  "JSON.parse + setFromBase64 into shared blocks": () => {
    let pool = new Uint8Array(0);
    let used = 0;
    return lines.map((l) => {
      const v: string = JSON.parse(l).value;
      const most = Math.ceil(v.length / 4) * 3;
      if (pool.length - used < most) {
        pool = new Uint8Array(Math.max(1_048_576, most));
        used = 0;
      }
      const at = used;
      used += pool.subarray(at).setFromBase64(v).written;
      return pool.subarray(at, used);
    });
  },
};
const times = new Map(Object.keys(cases).map((k) => [k, [] as number[]]));
for (let r = 0; r < rounds; r++) {
  for (
    const [name, fn] of Object.entries(cases).sort(() => Math.random() - 0.5)
  ) {
    const cpu0 = cpuUsage();
    fn();
    const cpu = cpuUsage(cpu0);
    times.get(name)!.push((cpu.user + cpu.system) / 1000);
  }
}
console.log(
  `deno ${Deno.version.deno}, ${rounds} interleaved rounds, 10,000 lines, CPU ms, medians\n`,
);
console.log("| case | CPU ms |");
console.log("| --- | --- |");
for (const [name, xs] of times) {
  console.log(`| ${name} | ${median(xs).toFixed(2)} |`);
}
