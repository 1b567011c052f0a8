/**
 * The two SQLite drivers side by side: `node:sqlite` (the default, and the
 * baseline of every group) and `jsr:@db/sqlite` over FFI, through the
 * public cache API on 10,000 keys: get (hit and miss), set, increment, and
 * a page of list. Keys are drawn at random (seeded) in both.
 *
 * Two ways to run it, both with the FFI config (docs/drivers.md):
 *
 * - `deno task bench:drivers`: `deno bench` groups, ffi as a ratio to
 *   node:sqlite measured in the same run.
 * - `deno run --config deno.ffi.json --allow-ffi --allow-read --allow-write
 *   --allow-env tests/drivers_bench.ts --table`: the figures in
 *   docs/drivers.md. Each round times a batch of each operation on each
 *   driver, alternating which driver goes first, and the table shows the
 *   median of the rounds, so drift of the machine hits both drivers alike.
 *
 * Without the FFI driver (a plain `deno task bench`) only node:sqlite runs.
 */
import { join } from "node:path";
import { createSupCache, DriverUnavailableError } from "../mod.ts";
import type { Namespace, SupCache } from "../mod.ts";

const KEYS = 10_000;
const VALUE = new TextEncoder().encode(
  "a cached value of a typical size, ~40 B",
);
const root = await Deno.makeTempDir({ prefix: "sup-drivers-bench-" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(root, { recursive: true }),
);

/** xorshift32: the same key sequence on every run and for both drivers. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

type Driver = "node:sqlite" | "ffi";

async function open(driver: Driver): Promise<SupCache | null> {
  try {
    const cache = await createSupCache({
      dataDir: join(root, driver.replace(":", "-")),
      ttl: null,
      driver,
    });
    const ns = cache.namespace("bench");
    for (let i = 0; i < KEYS;) {
      const batch = ns.atomic();
      for (const end = Math.min(KEYS, i + 5_000); i < end; i++) {
        batch.set(`user:${i}`, VALUE);
      }
      await batch.commit();
    }
    return cache;
  } catch (err) {
    if (err instanceof DriverUnavailableError) {
      console.error(`(${driver} skipped: ${err.message})`);
      return null;
    }
    throw err;
  }
}

/** One operation of the benchmark, on a namespace, with a random source. */
type Op = (ns: Namespace, random: () => number) => Promise<unknown>;

const OPS: Record<string, Op> = {
  "get (hit)": (ns, r) => ns.get(`user:${Math.floor(r() * KEYS)}`),
  "get (miss)": (ns, r) => ns.get(`none:${Math.floor(r() * KEYS)}`),
  "set": (ns, r) => ns.set(`user:${Math.floor(r() * KEYS)}`, VALUE),
  "increment": (ns, r) => ns.increment(`count:${Math.floor(r() * 1000)}`),
  "list (page of 100)": (ns, r) =>
    ns.list({ prefix: `user:${1 + Math.floor(r() * 9)}`, limit: 100 }),
};

const drivers: Array<[Driver, Namespace]> = [];
for (const driver of ["node:sqlite", "ffi"] as const) {
  const cache = await open(driver);
  if (cache) drivers.push([driver, cache.namespace("bench")]);
}

if (Deno.args.includes("--table")) {
  await table();
} else {
  for (const [name, op] of Object.entries(OPS)) {
    for (const [driver, ns] of drivers) {
      const random = rng(42);
      Deno.bench({
        name: `${name} [${driver}]`,
        group: name,
        baseline: driver === "node:sqlite",
        async fn() {
          await op(ns, random);
        },
      });
    }
  }
}

/** Interleaved rounds, medians: the table docs/drivers.md quotes. */
async function table(): Promise<void> {
  const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 31);
  const batch = Number(Deno.env.get("SUP_BENCH_BATCH") ?? 400);
  const random = rng(7);
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, op] of Object.entries(OPS)) {
      // Alternate which driver goes first.
      const order = round % 2 === 0 ? drivers : [...drivers].reverse();
      for (const [driver, ns] of order) {
        const t0 = performance.now();
        for (let i = 0; i < batch; i++) await op(ns, random);
        const perOp = (performance.now() - t0) * 1000 / batch;
        const key = `${name}|${driver}`;
        samples.set(key, [...(samples.get(key) ?? []), perOp]);
      }
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  console.log(
    `Deno ${Deno.version.deno}, ${KEYS} keys, ${rounds} rounds of ${batch} operations, median µs per operation`,
  );
  console.log("| operation | node:sqlite | ffi | ffi / node:sqlite |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const name of Object.keys(OPS)) {
    const node = median(samples.get(`${name}|node:sqlite`) ?? [NaN]);
    const ffi = median(samples.get(`${name}|ffi`) ?? [NaN]);
    console.log(
      `| ${name} | ${node.toFixed(2)} | ${ffi.toFixed(2)} | ${
        (ffi / node).toFixed(2)
      }x |`,
    );
  }
}
