/**
 * Where a one-key write's time goes: the minimal schema's statement, ours
 * through the API (`ns.sync`), our backend's method called directly, and
 * its statement run raw on the same connection (rows as objects and as
 * arrays), for `increment` and `delete`, in interleaved rounds (CPU time,
 * medians). The gap between the raw statement and the API is the
 * JavaScript around it (cache layer and backend); the gap between the
 * minimal and the raw statement is the SQL. Before each timed case both
 * files' WALs are checkpointed and restarted (untimed), so no case pays for
 * another's pages.
 *
 *   deno run --allow-read --allow-write --allow-env tests/cache_bench_raw.ts
 *
 * SUP_BENCH_ROUNDS (default 25) sets the rounds; 10,000 keys, 1,000
 * counters (at four digits, so no increment changes a counter's length),
 * 2,000 increments or 1,000 deletes of random keys per case and round.
 */
import { cpuUsage } from "node:process";
import { join } from "node:path";
import { createSupCache } from "../mod.ts";
import { SqliteBackend } from "../src/storage/sqlite_backend.ts";
import { openNodeSqlite } from "../src/storage/node_sqlite.ts";
import { keyOf, median, Minimal, VALUE } from "./cache_bench_util.ts";

const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 25);
const root = await Deno.makeTempDir({ prefix: "sup-cache-bench-raw-" });
const HOUR = 3_600_000;

try {
  const minimal = new Minimal(join(root, "minimal.db"), "normal");
  // Our backend on a connection this script prepares statements on too.
  const path = join(root, "ours.db");
  const raw = openNodeSqlite(path);
  const backend = new SqliteBackend(raw, path, "normal");
  const cache = await createSupCache({ driver: backend, sweepIntervalMs: 0 });
  const ns = cache.namespace("bench");
  const quota = {
    maxKeys: cache.limits.maxKeys ?? Number.MAX_SAFE_INTEGER,
    maxBytes: cache.limits.maxBytes ?? Number.MAX_SAFE_INTEGER,
  };
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
  const inc = raw.prepare(`
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
RETURNING CAST(value AS TEXT) AS value`);
  const del = raw.prepare(`
DELETE FROM entries WHERE space = ?1 AND ns = ?2 AND key = ?3
RETURNING length(CAST(key AS BLOB)) + length(value) AS size,
  (expires_at IS NULL OR expires_at > ?4) AS live,
  (SELECT gen FROM namespaces WHERE space = ?1 AND ns = ?2) AS gen`);

  const counter = () => `counter:${Math.floor(Math.random() * 1000)}`;
  const incRaw = (arrays: boolean) => () => {
    const now = Date.now();
    const key = counter();
    const row = arrays
      ? inc.row!(0, "bench", key, 1, now + HOUR, now, null)
      : inc.get(0, "bench", key, 1, now + HOUR, now, null);
    if (row === undefined) throw new Error("the raw increment wrote nothing");
  };
  const delRaw = (arrays: boolean) => (k: string) => {
    if (arrays) del.row!(0, "bench", k, Date.now());
    else del.get(0, "bench", k, Date.now());
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
    {
      name: "increment: our backend's method",
      ops: 2000,
      fn: () => {
        const now = Date.now();
        backend.increment(0, "bench", counter(), 1, now + HOUR, 12, now, quota);
      },
    },
    { name: "increment: raw, object rows", ops: 2000, fn: incRaw(false) },
    { name: "increment: raw, array rows", ops: 2000, fn: incRaw(true) },
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
      name: "delete: our backend's method",
      ops: 1000,
      fn: (k) => void backend.delete(0, "bench", k, Date.now()),
      fill: oursFill,
    },
    {
      name: "delete: raw, object rows",
      ops: 1000,
      fn: delRaw(false),
      fill: oursFill,
    },
    {
      name: "delete: raw, array rows",
      ops: 1000,
      fn: delRaw(true),
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
  minimal.close();
  await cache.close();
} finally {
  await Deno.remove(root, { recursive: true });
}
