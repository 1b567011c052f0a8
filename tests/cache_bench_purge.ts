/**
 * How long a write at a full namespace holds the write lock while expired
 * rows are purged to make room (docs/benchmarks.md, "Quota purge").
 *
 *   deno run --allow-read --allow-write --allow-env tests/cache_bench_purge.ts
 *
 * SUP_BENCH_PURGE_KEYS (default 1000000) sets the namespace size; every key
 * is expired when the write comes. Each purge step is timed, split into the
 * lock-free scan and the write transaction that deletes.
 */
import { join } from "node:path";
import { createSupCache } from "../mod.ts";
import type { Backend } from "../mod.ts";
import { openNodeSqlite } from "../src/storage/node_sqlite.ts";
import { SqliteBackend } from "../src/storage/sqlite_backend.ts";
import { VALUE } from "./cache_bench_util.ts";

const n = Number(Deno.env.get("SUP_BENCH_PURGE_KEYS") ?? 1_000_000);
const dir = await Deno.makeTempDir({ prefix: "sup-cache-purge-" });
try {
  const file = join(dir, "cache.db");
  const inner = new SqliteBackend(openNodeSqlite(file), file, "normal");
  const steps: number[] = [];
  const backend = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "purgeExpiredIn") {
        return (...args: unknown[]) => {
          const t = performance.now();
          const step = (value as (...a: unknown[]) => unknown).apply(
            target,
            args,
          );
          steps.push(performance.now() - t);
          return step;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Backend;
  await using cache = await createSupCache({
    driver: backend,
    limits: { maxKeys: n },
    sweepIntervalMs: 0,
  });
  const ns = cache.namespace("full");
  for (let i = 0; i < n; i += 10_000) {
    ns.sync.setMany(
      Array.from(
        { length: Math.min(10_000, n - i) },
        (_, j) => [`key:${i + j}`, VALUE, { ttl: 1 }] as const,
      ),
    );
  }
  await new Promise((r) => setTimeout(r, 10));
  const t = performance.now();
  await ns.set("one-more", VALUE);
  const write = performance.now() - t;
  console.log(
    `${n.toLocaleString("en-US")} expired keys at the quota: the write took ${
      write.toFixed(1)
    } ms in ${steps.length} purge step(s), longest ${
      Math.max(...steps).toFixed(1)
    } ms (scan of up to 10,000 rows without the lock + one transaction deleting up to 500)`,
  );
  const full = performance.now();
  const purged = await cache.purgeExpired();
  console.log(
    `purgeExpired() of the remaining ${purged.toLocaleString("en-US")} rows: ${
      ((performance.now() - full) / 1000).toFixed(1)
    } s in steps of at most 500 deletions, the lock released between steps`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
