/**
 * Import benchmarks. Run: `deno bench --allow-read --allow-write --allow-env tests/cli_import_bench.ts`.
 *
 * - "import 10k": `importExport` (batches of 10,000 in one `atomic()` commit
 *   each, random keys, the default one-hour TTL) against the baseline of raw
 *   `node:sqlite` inserts of the same rows in one transaction into a minimal
 *   table (`PRIMARY KEY(ns, key) WITHOUT ROWID`, WAL, `synchronous=NORMAL`),
 *   and against writing one entry per transaction, as import did before.
 * - "long line": checking an export whose one entry line is 4 MB against one
 *   of 16 MB. Linear work makes the second about 4x the first; the old
 *   splitter, which re-scanned the growing line for every chunk, was
 *   quadratic (about 16x; a 40 MB line took 17.6 s, `/usr/bin/time deno run
 *   --allow-read --allow-write --allow-env src/cli.ts import big.jsonl`).
 *
 * Every bench is `async` and awaits its work; each iteration writes to a
 * fresh database file, made outside the timed part.
 */
import { join } from "node:path";
import { createSupCache } from "../mod.ts";
import { checkExport, importExport } from "../src/transfer/import.ts";
import { openRawImportDb, rawImport } from "./cache_bench_util.ts";

const N = 10_000;
const root = await Deno.makeTempDir({ prefix: "sup-cache-import-bench-" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(root, { recursive: true }),
);
const encoder = new TextEncoder();
const value = crypto.getRandomValues(new Uint8Array(100));
const keys = Array.from(
  { length: N },
  () => crypto.getRandomValues(new Uint8Array(8)).toHex(),
);
const expiresAt = Date.now() + 3_600_000;
const header = JSON.stringify({
  format: "sup-cache-export",
  version: 1,
  exportedAt: 0,
});
const text = [
  header,
  ...keys.map((key) =>
    JSON.stringify({
      kind: "cache",
      namespace: "bench",
      key,
      value: value.toBase64(),
      expiresAt,
    })
  ),
].join("\n");
const exportBytes = encoder.encode(text);

let run = 0;
const freshDir = () => join(root, `db-${run++}`);

Deno.bench({
  name: "raw inserts, one transaction",
  group: "import 10k",
  baseline: true,
  async fn(b) {
    const dir = freshDir();
    await Deno.mkdir(dir);
    const db = openRawImportDb(join(dir, "raw.db"));
    b.start();
    rawImport(db, text);
    b.end();
    db.close();
    await Promise.resolve();
  },
});

Deno.bench({
  name: "importExport (batches of 10,000)",
  group: "import 10k",
  async fn(b) {
    const cache = await createSupCache({
      dataDir: freshDir(),
      sweepIntervalMs: 0,
    });
    b.start();
    await importExport(cache, "bench", () => [exportBytes]);
    b.end();
    await cache.close();
  },
});

Deno.bench({
  name: "importExport, one entry per transaction (as before)",
  group: "import 10k",
  async fn(b) {
    const cache = await createSupCache({
      dataDir: freshDir(),
      sweepIntervalMs: 0,
    });
    b.start();
    await importExport(cache, "bench", () => [exportBytes], { batchSize: 1 });
    b.end();
    await cache.close();
  },
});

function oneLine(bytes: number): Uint8Array {
  const line = JSON.stringify({
    kind: "cache",
    namespace: "n",
    key: "k",
    value: new Uint8Array(bytes * 3 / 4).toBase64(),
    expiresAt: null,
  });
  return encoder.encode(`${header}\n${line}\n`);
}
const chunked = (bytes: Uint8Array) => () => {
  // As a file stream delivers it: 64 KiB chunks.
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 65_536) {
    chunks.push(bytes.subarray(i, i + 65_536));
  }
  return chunks;
};
const line4 = chunked(oneLine(4_000_000));
const line16 = chunked(oneLine(16_000_000));

Deno.bench({
  name: "check a 4 MB line",
  group: "long line",
  baseline: true,
  async fn() {
    await checkExport("bench", line4);
  },
});

Deno.bench({
  name: "check a 16 MB line",
  group: "long line",
  async fn() {
    await checkExport("bench", line16);
  },
});
