/**
 * Cache benchmark: our namespace operations against (a) raw node:sqlite
 * prepared statements on the same schema and pragmas and (b) Deno KV doing
 * the same work, at 10k and 1M keys. Deno's report gives each row as a
 * ratio to the raw node:sqlite baseline of its group, measured in the same
 * run. Run with `deno task bench`; SUP_BENCH_SIZES=10000 skips the 1M tier.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { createSupCache } from "../mod.ts";
import { connectionPragmas } from "../src/storage/schema.ts";
import { SET_UNLIMITED } from "../src/storage/sqlite_backend.ts";

const sizes = (Deno.env.get("SUP_BENCH_SIZES") ?? "10000,1000000").split(",")
  .map(Number);
const root = await Deno.makeTempDir({ prefix: "sup-cache-bench-" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(root, { recursive: true }),
);

const value = new TextEncoder().encode(
  "a cached value of a typical size, ~40 B",
);
const keyOf = (i: number) => `user:${i}`;

for (const n of sizes) {
  const label = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;

  // Ours, with default options (quota checks on, as users get them).
  const cache = await createSupCache({
    dataDir: join(root, `ours-${n}`),
    ttl: null,
    sweepIntervalMs: 0,
  });
  const ns = cache.namespace("bench");
  // Prefill through the sync path in transactions of 50k for speed.
  for (let i = 0; i < n;) {
    const batch = ns.atomic();
    for (const end = Math.min(n, i + 50_000); i < end; i++) {
      batch.set(keyOf(i), value);
    }
    batch.commitSync();
  }

  // Raw node:sqlite on a file with the same schema (made by us) and pragmas.
  const rawPath = join(root, `raw-${n}`, "cache.db");
  await (await createSupCache({ dataDir: join(root, `raw-${n}`) })).close();
  const raw = new DatabaseSync(rawPath);
  raw.exec(connectionPragmas("normal"));
  const rawGet = raw.prepare(
    "SELECT value, version, expires_at FROM entries WHERE space = 0 AND ns = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)",
  );
  const rawSet = raw.prepare(SET_UNLIMITED);
  const rawDelete = raw.prepare(
    "DELETE FROM entries WHERE space = 0 AND ns = ? AND key = ?",
  );
  raw.exec("BEGIN");
  for (let i = 0; i < n; i++) {
    rawSet.run(0, "bench", keyOf(i), value, null, 40, Date.now());
  }
  raw.exec("COMMIT");
  const rawIncrement = (key: string) => {
    raw.exec("BEGIN IMMEDIATE");
    const row = rawGet.get("bench", key, Date.now());
    const next =
      (row ? Number(new TextDecoder().decode(row.value as Uint8Array)) : 0) + 1;
    rawSet.run(
      0,
      "bench",
      key,
      new TextEncoder().encode(String(next)),
      null,
      key.length + 8,
      Date.now(),
    );
    raw.exec("COMMIT");
  };

  // Deno KV on its own file.
  const kv = await Deno.openKv(join(root, `kv-${n}.sqlite`));
  for (let i = 0; i < n;) {
    const op = kv.atomic();
    for (const end = Math.min(n, i + 1000); i < end; i++) {
      op.set(["bench", keyOf(i)], value);
    }
    await op.commit();
  }

  let i = 0;
  const next = () => keyOf(i++ % n);
  const miss = () => `missing:${i++ % n}`;
  const group = (name: string) => `${name} (${label} keys)`;
  const bench = (name: string, baseline: boolean, fn: () => unknown) =>
    Deno.bench({
      name: `${name} ${label}`,
      group: group(name.split(" ")[0]),
      baseline,
      fn: fn as () => void,
    });

  bench(
    "get-hit raw node:sqlite",
    true,
    () => rawGet.get("bench", next(), Date.now()),
  );
  bench("get-hit sup-cache", false, () => ns.sync.get(next()));
  bench("get-hit sup-cache(async)", false, () => ns.get(next()));
  bench("get-hit deno-kv", false, () => kv.get(["bench", next()]));

  bench(
    "get-miss raw node:sqlite",
    true,
    () => rawGet.get("bench", miss(), Date.now()),
  );
  bench("get-miss sup-cache", false, () => ns.sync.get(miss()));
  bench("get-miss deno-kv", false, () => kv.get(["bench", miss()]));

  bench(
    "set raw node:sqlite",
    true,
    () => rawSet.run(0, "bench", next(), value, null, 48, Date.now()),
  );
  bench("set sup-cache", false, () => ns.sync.set(next(), value));
  bench("set sup-cache(async)", false, () => ns.set(next(), value));
  bench("set deno-kv", false, () => kv.set(["bench", next()], value));

  bench("set+delete raw node:sqlite", true, () => {
    const k = next();
    rawSet.run(0, "bench", k, value, null, 48, Date.now());
    rawDelete.run("bench", k);
  });
  bench("set+delete sup-cache", false, () => {
    const k = next();
    ns.sync.set(k, value);
    ns.sync.delete(k);
  });
  bench("set+delete deno-kv", false, async () => {
    const k = ["bench", next()];
    await kv.set(k, value);
    await kv.delete(k);
  });

  bench(
    "increment raw node:sqlite",
    true,
    () => rawIncrement(`count:${i++ % 100}`),
  );
  bench(
    "increment sup-cache",
    false,
    () => ns.sync.increment(`count:${i++ % 100}`),
  );
  bench(
    "increment deno-kv",
    false,
    () => kv.atomic().sum(["count", i++ % 100], 1n).commit(),
  );
}
