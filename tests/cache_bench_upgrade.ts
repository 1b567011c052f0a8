/**
 * How long the schema 4 -> 5 upgrade holds a file: 1,000,000 entries with
 * the default one-hour TTL (every row is rewritten once), the file turned
 * back into schema 4's shape (write times as timestamps, user_version 4),
 * then opened; the time is the open, upgrade included, under the write lock.
 *
 *   deno run --allow-read --allow-write --allow-env tests/cache_bench_upgrade.ts
 *
 * SUP_BENCH_KEYS (default 1000000) sets the entries.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { createSupCache } from "../mod.ts";
import { keyOf, VALUE } from "./cache_bench_util.ts";

const n = Number(Deno.env.get("SUP_BENCH_KEYS") ?? 1_000_000);
const dir = await Deno.makeTempDir({ prefix: "sup-cache-upgrade-" });
try {
  {
    await using cache = await createSupCache({
      dataDir: dir,
      sweepIntervalMs: 0,
    });
    const ns = cache.namespace("bench");
    for (let i = 0; i < n; i += 10_000) {
      ns.sync.setMany(
        Array.from(
          { length: Math.min(10_000, n - i) },
          (_, j) => [keyOf(i + j), VALUE] as const,
        ),
      );
    }
  }
  const db = new DatabaseSync(join(dir, "cache.db"));
  db.exec(`UPDATE entries SET written_at = expires_at + written_at
    WHERE written_at < 0;
    PRAGMA user_version = 4;
    PRAGMA wal_checkpoint(TRUNCATE);`);
  db.close();
  const t0 = performance.now();
  const cache = await createSupCache({ dataDir: dir, sweepIntervalMs: 0 });
  const s = (performance.now() - t0) / 1000;
  await cache.close();
  console.log(
    `upgrade of ${n.toLocaleString("en-US")} entries from schema 4 to 5: ${
      s.toFixed(2)
    } s (the open included)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
