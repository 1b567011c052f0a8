/**
 * Import throughput in interleaved rounds, the figures docs/cli.md quotes:
 * each round runs every case once, in a fresh random order, on a fresh
 * database, so drift on a shared machine hits all cases alike; ratios are
 * the baseline's median over the case's median (1 = as fast as raw
 * inserts, above 1 = faster). CPU time of this process and wall time are
 * both reported.
 *
 *   deno run --allow-read --allow-write --allow-env tests/cli_import_rounds.ts
 *
 * SUP_BENCH_ROUNDS (default 9) sets the rounds, SUP_BENCH_ENTRIES (default
 * 10000) the entries: random 16-hex-digit keys, 100-byte values, the default
 * one-hour expiry, one namespace. The baseline parses the same JSON Lines
 * and inserts them in one transaction into a minimal table
 * (`PRIMARY KEY(ns, key) WITHOUT ROWID`, WAL, `synchronous=NORMAL`).
 *
 * Before each timed case the runner pauses (untimed) for the previous
 * case's background garbage collection to finish.
 *
 * Four more cases split both sides in two, to show where an import's time
 * goes: the baseline's parsing alone and its inserts alone (of entries
 * parsed before the clock starts), and the import's check alone (every
 * line parsed and validated before anything is written) and its write
 * alone (`setManyIfAbsent` of entries parsed before the clock starts).
 */
import { cpuUsage } from "node:process";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { createSupCache } from "../mod.ts";
import {
  exportEntryLines,
  openRawImportDb,
  rawImport,
} from "./cache_bench_util.ts";
import { checkExport, importExport } from "../src/transfer/import.ts";

const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 9);
const n = Number(Deno.env.get("SUP_BENCH_ENTRIES") ?? 10_000);
const root = await Deno.makeTempDir({ prefix: "sup-cache-import-rounds-" });

const text = [
  JSON.stringify({ format: "sup-cache-export", version: 1, exportedAt: 0 }),
  ...exportEntryLines(n),
].join("\n");
const bytes = new TextEncoder().encode(text);
const parsed = text.split("\n").slice(1).map((line) => {
  const e = JSON.parse(line);
  return {
    key: e.key as string,
    value: Uint8Array.fromBase64(e.value),
    expiresAt: e.expiresAt as number,
  };
});
const rawDb = async () => {
  const dir = fresh();
  await Deno.mkdir(dir);
  return openRawImportDb(join(dir, "raw.db"));
};

let made = 0;
const fresh = () => join(root, `db-${made++}`);

type Case = {
  name: string;
  setup(): Promise<unknown>;
  run(state: unknown): Promise<void>;
  done(state: unknown): Promise<void>;
};

const cases: Case[] = [
  {
    name: "raw inserts, one transaction (baseline)",
    setup: rawDb,
    async run(state) {
      rawImport(state as DatabaseSync, new TextDecoder().decode(bytes));
      await Promise.resolve();
    },
    async done(state) {
      (state as DatabaseSync).close();
      await Promise.resolve();
    },
  },
  {
    name: "baseline, parsing alone",
    setup: () => Promise.resolve(null),
    async run() {
      const lines = new TextDecoder().decode(bytes).split("\n");
      for (let i = 1; i < lines.length; i++) {
        const e = JSON.parse(lines[i]);
        Uint8Array.fromBase64(e.value);
      }
      await Promise.resolve();
    },
    done: () => Promise.resolve(),
  },
  {
    name: "baseline, inserts alone",
    setup: rawDb,
    async run(state) {
      const db = state as DatabaseSync;
      const insert = db.prepare("INSERT INTO kv VALUES (?, ?, ?, ?)");
      db.exec("BEGIN");
      for (const e of parsed) insert.run("bench", e.key, e.value, e.expiresAt);
      db.exec("COMMIT");
      await Promise.resolve();
    },
    async done(state) {
      (state as DatabaseSync).close();
      await Promise.resolve();
    },
  },
  {
    name: "import, check alone (parse and validate every line)",
    setup: () => Promise.resolve(null),
    async run() {
      await checkExport("bench.jsonl", () => [bytes], 64 * 1_048_576);
    },
    done: () => Promise.resolve(),
  },
  {
    name: "import, write alone (setManyIfAbsent of parsed entries)",
    setup: () => createSupCache({ dataDir: fresh(), sweepIntervalMs: 0 }),
    async run(state) {
      const cache = state as Awaited<ReturnType<typeof createSupCache>>;
      await cache.namespace("bench").setManyIfAbsent(
        parsed.map((e) => [e.key, e.value, { expiresAt: e.expiresAt }]),
      );
    },
    async done(state) {
      await (state as Awaited<ReturnType<typeof createSupCache>>).close();
    },
  },
  ...[10_000, 1].map((batchSize): Case => ({
    name: batchSize === 1
      ? "import, one entry per transaction (as before)"
      : `import, batches of ${batchSize.toLocaleString("en-US")}`,
    setup: () => createSupCache({ dataDir: fresh(), sweepIntervalMs: 0 }),
    async run(state) {
      const cache = state as Awaited<ReturnType<typeof createSupCache>>;
      await importExport(cache, "bench", () => [bytes], { batchSize });
    },
    async done(state) {
      await (state as Awaited<ReturnType<typeof createSupCache>>).close();
    },
  })),
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

try {
  const times = new Map(cases.map((c) => [c.name, { cpu: [0], wall: [0] }]));
  for (const t of times.values()) t.cpu.length = t.wall.length = 0;
  for (let r = 0; r < rounds; r++) {
    const order = [...cases].sort(() => Math.random() - 0.5);
    for (const c of order) {
      const state = await c.setup();
      // CPU time is the whole process's, and V8 collects garbage on other
      // threads after a case has returned: an untimed pause lets the last
      // case's collection finish before this one is timed, so no case is
      // charged for another's garbage (ours or the baseline's alike).
      await new Promise((r) => setTimeout(r, 30));
      const cpu0 = cpuUsage();
      const wall0 = performance.now();
      await c.run(state);
      const wall = performance.now() - wall0;
      const cpu = cpuUsage(cpu0);
      await c.done(state);
      times.get(c.name)!.cpu.push((cpu.user + cpu.system) / 1000);
      times.get(c.name)!.wall.push(wall);
    }
  }
  const base = times.get(cases[0].name)!;
  console.log(
    `deno ${Deno.version.deno}, ${
      n.toLocaleString("en-US")
    } entries, ${rounds} interleaved rounds, medians; ratio = baseline / case\n`,
  );
  console.log("| case | CPU ms | wall ms | ratio (CPU) | ratio (wall) |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const c of cases) {
    const t = times.get(c.name)!;
    console.log(
      `| ${c.name} | ${median(t.cpu).toFixed(0)} | ${
        median(t.wall).toFixed(0)
      } | ${(median(base.cpu) / median(t.cpu)).toFixed(2)}x | ${
        (median(base.wall) / median(t.wall)).toFixed(2)
      }x |`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
