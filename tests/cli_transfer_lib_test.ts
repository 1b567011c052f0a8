/**
 * The transfer library without the CLI: the batch writer's semantics
 * (only-if-absent per entry inside a batch, duplicates, a key that appears
 * while a batch is queued, limits) and export/import through the API.
 */
import assert from "node:assert/strict";
import { createSupCache } from "../mod.ts";
import {
  checkExport,
  type Entry,
  EntryWriter,
  EXISTS,
  exportCache,
  importExport,
  writeExport,
} from "../src/transfer/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const entry = (key: string, value: string, namespace = "n"): Entry => ({
  kind: "cache",
  namespace,
  key,
  value: enc.encode(value),
  expiresAt: null,
});

async function run(
  cache: Awaited<ReturnType<typeof createSupCache>>,
  entries: Entry[],
  options = {},
  before?: () => Promise<void>,
) {
  const written: string[] = [];
  const skipped: [string, string][] = [];
  const writer = new EntryWriter<number>(
    cache,
    options,
    (e, reason) => skipped.push([e.key, reason]),
    (e) => written.push(e.key),
  );
  for (const [i, e] of entries.entries()) await writer.add(e, i);
  await before?.();
  await writer.flush();
  return { written, skipped };
}

Deno.test("EntryWriter: a key that appears while its batch is queued is skipped, the rest of the batch lands", async () => {
  await using cache = await createSupCache({ path: ":memory:" });
  const ns = cache.namespace("n");
  const result = await run(
    cache,
    [entry("a", "1"), entry("b", "1"), entry("c", "1")],
    {},
    () => ns.set("b", "plugin"),
  );
  assert.deepEqual(result.written, ["a", "c"]);
  assert.deepEqual(result.skipped, [["b", EXISTS]]);
  assert.equal(dec.decode((await ns.get("b"))!), "plugin", "never overwritten");
});

Deno.test("EntryWriter: a key twice keeps the first unless overwrite, as one by one would", async () => {
  await using cache = await createSupCache({ path: ":memory:" });
  const input = [entry("k", "first"), entry("x", "1"), entry("k", "second")];
  const kept = await run(cache, input);
  assert.deepEqual(kept.skipped, [["k", EXISTS]]);
  assert.equal(dec.decode((await cache.namespace("n").get("k"))!), "first");
  await using other = await createSupCache({ path: ":memory:" });
  await run(other, input, { overwrite: true });
  assert.equal(dec.decode((await other.namespace("n").get("k"))!), "second");
});

Deno.test("EntryWriter: of a key twice in one batch the later entry is the one skipped; a key already there skips both", async () => {
  const tags = async (
    cache: Awaited<ReturnType<typeof createSupCache>>,
    entries: Entry[],
  ) => {
    const written: number[] = [];
    const skipped: number[] = [];
    const writer = new EntryWriter<number>(
      cache,
      {},
      (_e, _reason, tag) => skipped.push(tag),
      (_e, tag) => written.push(tag),
    );
    await writer.addAll(entries, entries.map((_, i) => i));
    await writer.flush();
    return { written, skipped };
  };
  const input = [entry("k", "a"), entry("x", "1"), entry("k", "b")];
  await using fresh = await createSupCache({ path: ":memory:" });
  assert.deepEqual(await tags(fresh, input), { written: [0, 1], skipped: [2] });
  await using full = await createSupCache({ path: ":memory:" });
  await full.namespace("n").set("k", "there");
  assert.deepEqual(await tags(full, input), { written: [1], skipped: [0, 2] });
  assert.equal(dec.decode((await full.namespace("n").get("k"))!), "there");
});

Deno.test("EntryWriter: limits skip one entry or one namespace, not the batch; byte-bounded batches all land", async () => {
  await using cache = await createSupCache({
    path: ":memory:",
    limits: { maxKeyBytes: 8 },
  });
  const result = await run(cache, [
    entry("ok1", "1"),
    entry("much-too-long", "1"),
    entry("ok2", "1"),
    entry("k", "1", "x".repeat(300)),
  ]);
  assert.deepEqual(result.written, ["ok1", "ok2"]);
  assert.equal(result.skipped.length, 2);
  assert.match(result.skipped[0][1], /key is 13 bytes; the limit is 8/);
  assert.match(result.skipped[1][1], /namespace name is 300 bytes/);

  await using small = await createSupCache({ path: ":memory:" });
  const many = Array.from(
    { length: 50 },
    (_, i) => entry(`k${i}`, "v".repeat(100)),
  );
  const bounded = await run(small, many, { batchBytes: 250 });
  assert.equal(bounded.written.length, 50);
});

Deno.test("exportCache then importExport moves a cache through the API alone", async () => {
  await using from = await createSupCache({ path: ":memory:" });
  await from.namespace("counter").set("visits", "41", { ttl: 60_000 });
  await from.store("settings").set("lang", "en");
  const lines: string[] = [];
  const summary = await exportCache(from, (line) => {
    lines.push(line);
  });
  assert.deepEqual(summary, { entries: 2, namespaces: 2 });
  await using to = await createSupCache({ path: ":memory:" });
  const bytes = enc.encode(lines.join("\n"));
  const report = await importExport(to, "memory", () => [bytes]);
  assert.deepEqual(report, { imported: 2, skipped: [] });
  const visits = await to.namespace("counter").getEntry("visits");
  const original = await from.namespace("counter").getEntry("visits");
  assert.equal(visits?.expiresAt, original?.expiresAt);
});

Deno.test("checkExport keeps parsed entries only within keepBytes; writeExport reads the source again otherwise", async () => {
  const header = JSON.stringify({
    format: "sup-cache-export",
    version: 1,
    exportedAt: 0,
  });
  const lines = Array.from({ length: 20 }, (_, i) =>
    JSON.stringify({
      kind: "cache",
      namespace: "n",
      key: `k${i}`,
      value: "eA==",
      expiresAt: null,
    }));
  const bytes = enc.encode([header, ...lines].join("\n"));
  let reads = 0;
  const source = () => {
    reads++;
    return [bytes];
  };
  const kept = await checkExport("x", source, 1_000_000);
  assert.equal(kept.entries?.length, 20);
  const none = await checkExport("x", source, 100);
  assert.equal(none.entries, null);
  assert.equal(none.total, 20);
  reads = 0;
  await using a = await createSupCache({ path: ":memory:" });
  assert.equal((await writeExport(a, "x", source, kept)).imported, 20);
  assert.equal(reads, 0, "kept entries need no second read");
  await using b = await createSupCache({ path: ":memory:" });
  assert.equal((await writeExport(b, "x", source, none)).imported, 20);
  assert.equal(reads, 1);
});
