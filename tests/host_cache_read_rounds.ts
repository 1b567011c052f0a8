// A cache read from inside a plugin, in interleaved rounds with medians:
// `deno run -A tests/host_cache_read_rounds.ts [rounds]`.
//
// The same bridge plugin (tests/fixtures/wat.ts) calls `sup_cache_get` 1,000
// times per call, answered by
// - a minimal plain-Extism host function running the cache's SQL through
//   `node:sqlite` on the cache's own file and table (the baseline),
// - the same plain-Extism function calling the cache's `sync.get` (the cache
//   layer's share),
// - `loadPlugin`'s binary ABI through the sandbox (the figure issue 9 asks
//   for: at most 1.2x the baseline).
// Each round runs every variant 10 times, in an order that alternates, and
// takes CPU time (user + system, which other processes on a shared machine
// disturb less than wall time) and wall time; the ratios are medians of the
// per-round ratios. Deno.bench (tests/host_sandbox_bench.ts) gives the same
// pair without interleaving.
import createPlugin from "npm:@extism/extism@2.0.0-rc13";
import { DatabaseSync } from "node:sqlite";
import process from "node:process";
import { createSupCache } from "../src/cache/cache.ts";
import { loadPlugin } from "../src/host/mod.ts";
import { compileWat, frames } from "./fixtures/wat.ts";

const ROUNDS = Number(Deno.args[0] ?? 40);
const PER_ROUND = 10;

const dir = await Deno.makeTempDir({ prefix: "sup-cache-read-rounds-" });
const cache = await createSupCache({ dataDir: dir });
const bridge = await compileWat("bridge");
const value = "v".repeat(100);
await cache.namespace("bench").set("k", value, { ttl: null });
const sandboxed = await loadPlugin(bridge, {
  cache,
  name: "bench",
  hostFunctions: { noop: (_cx, h) => h },
});

type Cx = {
  read(h: bigint): { bytes(): Uint8Array } | null;
  store(b: Uint8Array): bigint;
};
type Fn = (cx: Cx, ...a: bigint[]) => bigint | number;
const db = new DatabaseSync(`${dir}/cache.db`);
const read = db.prepare(
  `SELECT value FROM entries
   WHERE space = 0 AND ns = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`,
);
const dec = new TextDecoder();
const sync = cache.namespace("bench").sync;

/** A fresh reply block each time (see host_sandbox_bench.ts for why). */
function answer(cx: Cx, v: Uint8Array): bigint {
  const reply = new Uint8Array(1 + v.length);
  reply[0] = 1;
  reply.set(v, 1);
  return cx.store(reply);
}

async function plainWith(get: Fn) {
  const user: Record<string, Fn> = {};
  for (
    const i of WebAssembly.Module.imports(
      new WebAssembly.Module(bridge as Uint8Array<ArrayBuffer>),
    )
  ) {
    if (i.module === "extism:host/user") user[i.name] = () => 0n;
  }
  user.sup_cache_get = get;
  return await createPlugin({ wasm: [{ data: bridge }] }, {
    useWasi: false,
    runInWorker: false,
    functions: { "extism:host/user": user as never },
  });
}

const rawSql = await plainWith((cx, h) => {
  const key = dec.decode(cx.read(h)!.bytes());
  const row = read.get("bench", key, Date.now()) as { value: Uint8Array };
  return answer(cx, row.value);
});
const viaCache = await plainWith((cx, h) =>
  answer(cx, sync.get(dec.decode(cx.read(h)!.bytes()))!)
);

const input = frames("k", 1000n);
const variants: Array<[string, () => Promise<unknown>]> = [
  [
    "plain Extism, raw SQL (baseline)",
    () => rawSql.call("bench_sup_cache_get", input),
  ],
  [
    "plain Extism, cache sync.get",
    () => viaCache.call("bench_sup_cache_get", input),
  ],
  [
    "loadPlugin, binary ABI sup_cache_get",
    () => sandboxed.call("bench_sup_cache_get", input),
  ],
];

const cpu = variants.map(() => [] as number[]);
const wall = variants.map(() => [] as number[]);
for (let i = 0; i < 20; i++) for (const [, run] of variants) await run();
for (let r = 0; r < ROUNDS; r++) {
  const order = variants.map((_, i) => i);
  if (r % 2 === 1) order.reverse();
  for (const i of order) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let k = 0; k < PER_ROUND; k++) await variants[i][1]();
    const c = process.cpuUsage(c0);
    wall[i].push((performance.now() - t0) / PER_ROUND);
    cpu[i].push((c.user + c.system) / 1000 / PER_ROUND);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[s.length >> 1]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(
  `${ROUNDS} rounds of ${PER_ROUND} calls (1,000 reads each); medians`,
);
for (let i = 0; i < variants.length; i++) {
  const ratio = (xs: number[][]) =>
    median(xs[i].map((t, r) => t / xs[0][r])).toFixed(3);
  console.log(
    `${variants[i][0].padEnd(38)} cpu ${median(cpu[i]).toFixed(2)} ms (${
      ratio(cpu)
    }x)  wall ${median(wall[i]).toFixed(2)} ms (${ratio(wall)}x)`,
  );
}
await rawSql.close();
await viaCache.close();
db.close();
await sandboxed.close();
await cache.close();
await Deno.remove(dir, { recursive: true });
