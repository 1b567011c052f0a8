/**
 * What the cache layer itself costs per operation, without any storage:
 * the public API over a backend that answers at once (synchronous, like
 * SQLite) or with an already-resolved Promise (asynchronous, like Redis),
 * against calling that backend directly. The difference is validation, TTL
 * resolution, quota and eviction bookkeeping, hit counting and the runner
 * (src/cache/run.ts): everything sup-cache adds above a backend.
 *
 * Interleaved rounds in a fresh random order each, medians of CPU time per
 * operation in nanoseconds. Run with
 * `deno run --allow-env tests/cache_layer_rounds.ts`
 * (`SUP_BENCH_ROUNDS`, default 21; `SUP_BENCH_OPS`, default 20000).
 */
import process from "node:process";
import { createSupCache } from "../mod.ts";
import type { AsyncBackend, Backend } from "../src/storage/backend.ts";

const ROUNDS = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 21);
const OPS = Number(Deno.env.get("SUP_BENCH_OPS") ?? 20_000);
const value = new TextEncoder().encode(
  "a cached value of a typical size, ~40 B",
);
const KEY = "user:000042";
const QUOTA = { maxBytes: 256 * 1_048_576, maxKeys: 10_000_000 };

/** A backend that stores nothing and answers at once: only the cache's work is timed. */
function instant(isAsync: boolean): Backend | AsyncBackend {
  const a = <T>(v: T) => (isAsync ? Promise.resolve(v) : v);
  const usage = {
    name: "n",
    keys: 10,
    bytes: 500,
    hits: 0,
    misses: 0,
    evictions: 0,
  };
  const backend = {
    async: isAsync ? true : undefined,
    path: "instant",
    get: () => a(undefined),
    getValue: () => a(value),
    set: () => a(true),
    writeMany: () => a(true),
    increment: () => a(isAsync ? { kind: "ok", value: 1 } : "1"),
    delete: () => a(true),
    clear: () => a(0),
    list: () => a([]),
    scan: () => a([]),
    usage: () => a(usage),
    namespaces: () => a([]),
    addCounters: () => a(undefined),
    flush: () => a(undefined),
    purgeExpired: () => a({ deleted: 0, next: null }),
    purgeExpiredIn: () => a({ deleted: 0, next: null }),
    recount: () => a(false),
    close: () => a(undefined),
    // The eviction primitives, so the bookkeeping of the default
    // `onQuota: "evict"` runs as it does on SQLite and Redis.
    getValueUsed: () => a({ value, usedAt: 0 }),
    touch: () => a(undefined),
    counts: () => a({ keys: 10, bytes: 500 }),
    evict: () => a({ keys: 0, bytes: 0 }),
    ...(isAsync ? { commit: () => a("ok"), knownUsage: () => usage } : {
      transaction: <T>(fn: () => T) => fn(),
    }),
  };
  return backend as unknown as Backend | AsyncBackend;
}

interface Case {
  name: string;
  fn: () => unknown;
  async: boolean;
}
const cases: Case[] = [];
for (const isAsync of [false, true]) {
  const backend = instant(isAsync);
  const cache = await createSupCache({ driver: backend, sweepIntervalMs: 0 });
  const ns = cache.namespace("n");
  const kind = isAsync ? "async backend" : "sync backend";
  const b = backend as Backend;
  const at = () => Date.now() + 3_600_000;
  const direct: [string, () => unknown][] = [
    ["get", () => b.getValue(0, "n", KEY, Date.now())],
    [
      "set",
      () =>
        b.set(
          0,
          "n",
          KEY,
          value,
          at(),
          KEY.length + value.length,
          Date.now(),
          QUOTA,
        ),
    ],
    [
      "increment",
      () => b.increment(0, "n", KEY, 1, at(), KEY.length, Date.now(), QUOTA),
    ],
    ["delete", () => b.delete(0, "n", KEY, Date.now())],
  ];
  for (const [op, fn] of direct) {
    cases.push({
      name: `${kind}: ${op}, backend alone`,
      fn: isAsync ? async () => await fn() : fn,
      async: isAsync,
    });
  }
  if (!isAsync) {
    cases.push(
      {
        name: `${kind}: get, ns.sync`,
        fn: () => ns.sync.get(KEY),
        async: false,
      },
      {
        name: `${kind}: set, ns.sync`,
        fn: () => ns.sync.set(KEY, value),
        async: false,
      },
      {
        name: `${kind}: increment, ns.sync`,
        fn: () => ns.sync.increment(KEY),
        async: false,
      },
      {
        name: `${kind}: delete, ns.sync`,
        fn: () => ns.sync.delete(KEY),
        async: false,
      },
    );
  }
  cases.push(
    {
      name: `${kind}: get, Promise API`,
      fn: async () => await ns.get(KEY),
      async: true,
    },
    {
      name: `${kind}: set, Promise API`,
      fn: async () => await ns.set(KEY, value),
      async: true,
    },
    {
      name: `${kind}: increment, Promise API`,
      fn: async () => await ns.increment(KEY),
      async: true,
    },
    {
      name: `${kind}: delete, Promise API`,
      fn: async () => await ns.delete(KEY),
      async: true,
    },
  );
}

const cpu = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (let r = 0; r < ROUNDS + 3; r++) {
  const order = [...cases].sort(() => Math.random() - 0.5);
  for (const c of order) {
    const before = process.cpuUsage();
    if (c.async) { for (let i = 0; i < OPS; i++) await c.fn(); }
    else for (let i = 0; i < OPS; i++) c.fn();
    const used = process.cpuUsage(before);
    // The first three rounds warm the JIT up.
    if (r >= 3) cpu.get(c.name)!.push(((used.user + used.system) * 1000) / OPS);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

console.log(
  `deno ${Deno.version.deno}, ${ROUNDS} interleaved rounds of ${OPS} calls, medians of CPU ns per call`,
);
console.log("| case | CPU ns/op |\n| --- | --- |");
for (const c of [...cases].sort((x, y) => x.name.localeCompare(y.name))) {
  console.log(`| ${c.name} | ${median(cpu.get(c.name)!).toFixed(0)} |`);
}
Deno.exit(0);
