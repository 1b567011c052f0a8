/**
 * How many rows one multi-row `INSERT OR IGNORE` of our bulk path should
 * carry: 10,000 sorted random keys (100-byte values, one-hour expiry) into
 * a fresh file of our schema, in one transaction, raw SQL through
 * `node:sqlite`, the statement shape of `src/storage/sqlite_backend.ts`
 * (BULK_ROWS rows per call, the rest one by one). Interleaved rounds, CPU
 * time, medians.
 *
 *   deno run --allow-read --allow-write --allow-env tests/cache_bench_bulk_rows.ts
 *
 * SUP_BENCH_ROUNDS (default 15) sets the rounds.
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { cpuUsage } from "node:process";
import { join } from "node:path";
import { median } from "./cache_bench_util.ts";

const rounds = Number(Deno.env.get("SUP_BENCH_ROUNDS") ?? 15);
const SCHEMA = `CREATE TABLE entries (space INTEGER NOT NULL, ns TEXT NOT NULL,
  key TEXT NOT NULL, expires_at INTEGER, version INTEGER NOT NULL,
  written_at INTEGER NOT NULL, value BLOB NOT NULL, accessed_at INTEGER,
  PRIMARY KEY (space, ns, key)) WITHOUT ROWID;`;

function bulkInsert(rows: number): string {
  const values = [];
  for (let i = 0; i < rows; i++) {
    const p = 4 + 4 * i;
    values.push(
      `(?1, ?2, ?${p}, ?${p + 1}, ?${p + 2}, (CASE WHEN ?${
        p + 1
      } > ?3 THEN ?3 - ?${p + 1} ELSE ?3 END), ?${p + 3})`,
    );
  }
  return `INSERT OR IGNORE INTO entries
  (space, ns, key, expires_at, version, written_at, value)
VALUES ${values.join(", ")}`;
}

const n = 10_000;
const keys = Array.from(
  { length: n },
  () => crypto.getRandomValues(new Uint8Array(8)).toHex(),
).sort();
const value = crypto.getRandomValues(new Uint8Array(100));
const root = await Deno.makeTempDir({ prefix: "sup-cache-bulk-rows-" });
const sizes = [1, 4, 8, 16, 32, 64];
const times = new Map(sizes.map((b) => [b, [] as number[]]));
let made = 0;
try {
  for (let r = 0; r < rounds; r++) {
    for (const rows of [...sizes].sort(() => Math.random() - 0.5)) {
      const db = new DatabaseSync(join(root, `f${made++}.db`));
      db.exec(
        `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; ${SCHEMA}`,
      );
      const many = db.prepare(bulkInsert(rows));
      const one = db.prepare(bulkInsert(1));
      const now = Date.now();
      const at = now + 3_600_000;
      const params: SQLInputValue[] = [0, "bench", now];
      const cpu0 = cpuUsage();
      db.exec("BEGIN IMMEDIATE");
      for (let i = 0; i < n;) {
        const k = n - i >= rows ? rows : 1;
        params.length = 3;
        for (let j = i; j < i + k; j++) {
          params.push(keys[j], at, (j + 1) * 4096 + 1, value);
        }
        (k === 1 ? one : many).run(...params);
        i += k;
      }
      db.exec("COMMIT");
      const cpu = cpuUsage(cpu0);
      times.get(rows)!.push((cpu.user + cpu.system) / 1000);
      db.close();
    }
  }
  console.log(
    `deno ${Deno.version.deno}, ${rounds} interleaved rounds, 10,000 rows, CPU ms, medians\n`,
  );
  console.log("| rows per statement | CPU ms |");
  console.log("| --- | --- |");
  for (const [rows, xs] of times) {
    console.log(`| ${rows} | ${median(xs).toFixed(1)} |`);
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
