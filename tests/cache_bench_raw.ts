/**
 * Where a one-key write's time goes: the minimal schema's statement, ours
 * through the API (`ns.sync`), and our backend's own statement run raw on
 * our file with `node:sqlite` (rows as objects and as arrays), for
 * `increment` and `delete`, in interleaved rounds (CPU time, medians).
 * The gap between the raw statement and the API is the JavaScript around
 * it (cache layer and backend); the gap between the minimal and the raw
 * statement is the SQL. Before each timed case both files' WALs are
 * checkpointed and restarted (untimed), so no case pays for another's pages.
 *
 *   deno run --allow-read --allow-write --allow-env tests/cache_bench_raw.ts
 *
 * SUP_BENCH_ROUNDS (default 25) sets the rounds; 10,000 keys, 1,000
 * counters (at four digits, so no increment changes a counter's length),
 * 2,000 increments or 1,000 deletes of random keys per case and round.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { cpuUsage } from "node:process";
import { join } from "node:path";
import { createSupCache } from "../mod.ts";
import { keyOf, median, Minimal, VALUE } from "./cache_bench_util.ts";

const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 25);
const root = await Deno.makeTempDir({ prefix: "sup-cache-bench-raw-" });
const HOUR = 3_600_000;

/** A second prepared copy that answers rows as arrays (as our backend). */
function arrays(db: DatabaseSync, sql: string): StatementSync {
  const stmt = db.prepare(sql);
  (stmt as unknown as { setReturnArrays(on: boolean): void })
    .setReturnArrays(true);
  return stmt;
}

try {
  const minimal = new Minimal(join(root, "minimal.db"), "normal");
  const cache = await createSupCache({
    dataDir: join(root, "ours"),
    sweepIntervalMs: 0,
  });
  const ns = cache.namespace("bench");
  const raw = new DatabaseSync(cache.path);
  raw.exec("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL");
  for (let i = 0; i < 10_000; i += 1000) {
    const keys = Array.from({ length: 1000 }, (_, j) => keyOf(i + j));
    minimal.insertMany(keys);
    ns.sync.setMany(keys.map((k) => [k, VALUE] as const));
  }
  for (let i = 0; i < 1000; i++) {
    minimal.increment(`counter:${i}`);
    ns.sync.increment(`counter:${i}`, 1000);
  }
  // Our backend's statements (src/storage/sqlite_backend.ts), verbatim.
  const OLD_INT = "CAST(CAST(value AS TEXT) AS INTEGER)";
  const BY = "CAST(?4 AS INTEGER)";
  const LIVE_ROW = "(expires_at IS NULL OR expires_at > ?6)";
  const INCREMENT_LIVE = `
UPDATE entries SET
  value = CAST(CAST(${OLD_INT} + ${BY} AS TEXT) AS BLOB),
  version = version + 1,
  written_at = (CASE WHEN expires_at > ?6 THEN ?6 - expires_at ELSE ?6 END)
WHERE space = ?1 AND ns = ?2 AND key = ?3 AND ${LIVE_ROW}
  AND CAST(${OLD_INT} AS TEXT) = CAST(value AS TEXT)
  AND abs(${OLD_INT} + ${BY}) <= ${Number.MAX_SAFE_INTEGER}
  AND (length(CAST(${OLD_INT} + ${BY} AS TEXT)) = length(value)
    OR (SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2) = ?7)
  AND (version & 4095) <> 4095
RETURNING CAST(value AS TEXT) AS value`;
  const DELETE = `
DELETE FROM entries WHERE space = ?1 AND ns = ?2 AND key = ?3
RETURNING length(CAST(key AS BLOB)) + length(value) AS size,
  (expires_at IS NULL OR expires_at > ?4) AS live,
  (SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2) AS gen`;
  const incObjects = raw.prepare(INCREMENT_LIVE);
  const incArrays = arrays(raw, INCREMENT_LIVE);
  const delObjects = raw.prepare(DELETE);
  const delArrays = arrays(raw, DELETE);

  const counter = () => `counter:${Math.floor(Math.random() * 1000)}`;
  const inc = (stmt: StatementSync) => () => {
    const now = Date.now();
    if (
      stmt.get(0, "bench", counter(), 1, now + HOUR, now, null) === undefined
    ) {
      throw new Error("the raw increment wrote nothing");
    }
  };
  let fresh = 0;
  const oursFill = (keys: string[]) =>
    ns.sync.setMany(keys.map((k) => [k, VALUE] as const));
  type Case = {
    name: string;
    ops: number;
    fn: (key: string) => void;
    fill?: (keys: string[]) => void;
  };
  const cases: Case[] = [
    {
      name: "increment: minimal",
      ops: 2000,
      fn: () => minimal.increment(counter()),
    },
    {
      name: "increment: ours (ns.sync)",
      ops: 2000,
      fn: () => ns.sync.increment(counter()),
    },
    { name: "increment: raw, object rows", ops: 2000, fn: inc(incObjects) },
    { name: "increment: raw, array rows", ops: 2000, fn: inc(incArrays) },
    {
      name: "delete: minimal",
      ops: 1000,
      fn: (k) => minimal.delete(k),
      fill: (keys) => minimal.insertMany(keys),
    },
    {
      name: "delete: ours (ns.sync)",
      ops: 1000,
      fn: (k) => void ns.sync.delete(k),
      fill: oursFill,
    },
    {
      name: "delete: raw, object rows",
      ops: 1000,
      fn: (k) => void delObjects.get(0, "bench", k, Date.now()),
      fill: oursFill,
    },
    {
      name: "delete: raw, array rows",
      ops: 1000,
      fn: (k) => void delArrays.get(0, "bench", k, Date.now()),
      fill: oursFill,
    },
  ];
  const times = new Map(cases.map((c) => [c.name, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    for (const c of [...cases].sort(() => Math.random() - 0.5)) {
      let keys: string[] = [];
      if (c.fill) {
        keys = Array.from(
          { length: c.ops },
          () => `d:${keyOf(1_000_000 + fresh++)}`,
        );
        c.fill(keys);
        keys.sort(() => Math.random() - 0.5);
      }
      raw.exec("PRAGMA wal_checkpoint(RESTART)");
      minimal.db.exec("PRAGMA wal_checkpoint(RESTART)");
      const cpu0 = cpuUsage();
      for (let i = 0; i < c.ops; i++) c.fn(keys[i]);
      const cpu = cpuUsage(cpu0);
      times.get(c.name)!.push((cpu.user + cpu.system) / c.ops);
    }
  }
  console.log(
    `deno ${Deno.version.deno}, ${rounds} interleaved rounds, CPU µs per op, medians\n`,
  );
  console.log("| case | µs/op (CPU) |");
  console.log("| --- | --- |");
  for (const [name, xs] of times) {
    console.log(`| ${name} | ${median(xs).toFixed(2)} |`);
  }
  raw.close();
  minimal.close();
  await cache.close();
} finally {
  await Deno.remove(root, { recursive: true });
}
