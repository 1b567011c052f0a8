// Bad storage: a data file that is not a database, truncated, structurally
// corrupt, read-only, full, or from a newer schema. Each must give a typed
// StorageError that names the file; nothing stored earlier may be destroyed
// and no stray files may be left behind.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  createSupCache,
  SchemaVersionError,
  StorageError,
  type SupCache,
} from "../../mod.ts";
import { openNodeSqlite } from "../../src/storage/node_sqlite.ts";
import { SqliteBackend } from "../../src/storage/sqlite_backend.ts";
import {
  cacheFlags,
  integrityCheck,
  report,
  Rng,
  runDeno,
  SEED,
  supportScript,
  text,
  withTempDir,
} from "./support/common.ts";

const ENTRIES = 300;

/** Fill `dir` with entries whose values span overflow pages; returns them. */
async function seed(dir: string): Promise<Map<string, string>> {
  const rng = new Rng(SEED);
  const stored = new Map<string, string>();
  await using cache = await createSupCache({ dataDir: dir, ttl: null });
  const ns = cache.namespace("keep");
  for (let i = 0; i < ENTRIES; i++) {
    const value = `v${i}-${"x".repeat(rng.int(0, 3000))}`;
    await ns.set(`k${i}`, value);
    stored.set(`k${i}`, value);
  }
  return stored;
}

/** Names in `dir`, sorted: a failed open must not leave -wal/-shm or other files. */
function listing(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** How many of `stored` a cache on `dir` returns unchanged. */
async function intact(
  cache: SupCache,
  stored: Map<string, string>,
): Promise<number> {
  let n = 0;
  for (const [key, value] of stored) {
    if (text(await cache.namespace("keep").get(key)) === value) n++;
  }
  return n;
}

function assertNamesFile(err: unknown, file: string, what: string): void {
  assert.ok(err instanceof StorageError, `${what}: got ${err}`);
  assert.equal(err.path, file, what);
  assert.ok(err.message.includes(file), `${what}: ${err.message}`);
}

const figures = { tried: 0, survived: 0, lost: 0 };

/**
 * Damage a seeded data directory with `damage`, then require that opening
 * it fails with a StorageError naming the file (matching `reason`), that
 * the file is byte for byte what the damage left, and that no file was
 * added or left behind.
 */
async function refusedAtOpen(
  name: string,
  damage: (file: string, dir: string) => void | Promise<void>,
  reason: RegExp,
): Promise<void> {
  await withTempDir("bad", async (dir) => {
    figures.tried++;
    const file = join(dir, "cache.db");
    await seed(dir);
    await damage(file, dir);
    const before = await Deno.readFile(file);
    const names = listing(dir);
    const err = await createSupCache({ dataDir: dir }).then(
      async (cache) => {
        await cache.close();
        return null;
      },
      (e) => e,
    );
    assertNamesFile(err, file, name);
    assert.match(err.message, reason, name);
    assert.deepEqual(
      await Deno.readFile(file),
      before,
      `${name}: file changed`,
    );
    assert.deepEqual(listing(dir), names, `${name}: files left behind`);
    figures.survived++;
  });
}

Deno.test("a file that is not a database is refused, named and left as it was", () =>
  refusedAtOpen(
    "not a database",
    (file) => Deno.writeTextFileSync(file, "name,value\nada,1\n".repeat(500)),
    /is not an SQLite database/,
  ));

Deno.test("a database whose header is overwritten is refused and named", () =>
  refusedAtOpen(
    "header overwritten",
    (file) => {
      const bytes = Deno.readFileSync(file);
      bytes.fill(0x41, 0, 100);
      Deno.writeFileSync(file, bytes);
    },
    /is not an SQLite database/,
  ));

for (const fraction of [0.1, 0.5, 0.9]) {
  Deno.test(`a database truncated to ${fraction * 100}% is refused as corrupt and named`, () =>
    refusedAtOpen(
      `truncated to ${fraction}`,
      (file) => {
        const bytes = Deno.readFileSync(file);
        Deno.writeFileSync(
          file,
          bytes.subarray(0, Math.floor(bytes.length * fraction)),
        );
      },
      /is corrupt/,
    ));
}

Deno.test("a file written by a newer schema is refused untouched; the data is intact when it comes back", () =>
  withTempDir("bad", async (dir) => {
    figures.tried++;
    const file = join(dir, "cache.db");
    const stored = await seed(dir);
    const raw = new DatabaseSync(file);
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    const before = await Deno.readFile(file);
    const names = listing(dir);
    const err = await createSupCache({ dataDir: dir }).catch((e) => e);
    assert.ok(err instanceof SchemaVersionError);
    assertNamesFile(err, file, "newer schema");
    assert.deepEqual(await Deno.readFile(file), before);
    assert.deepEqual(listing(dir), names);
    // Nothing was migrated or dropped: undo the version and all is there.
    const back = new DatabaseSync(file);
    back.exec("PRAGMA user_version = 5");
    back.close();
    await using cache = await createSupCache({ dataDir: dir });
    const n = await intact(cache, stored);
    figures.lost += ENTRIES - n;
    assert.equal(n, ENTRIES);
    figures.survived++;
  }));

Deno.test("structurally corrupt pages: every operation returns the stored value or a StorageError naming the file", () =>
  withTempDir("bad", async (dir) => {
    const file = join(dir, "cache.db");
    const stored = await seed(dir);
    // Overwrite some leaf pages of the entries B-tree with an invalid page
    // type, as a torn or misdirected disk write would.
    const raw = new DatabaseSync(file);
    const leaves = raw.prepare(
      "SELECT pageno FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf' ORDER BY pageno",
    ).all().map((r) => Number(r.pageno));
    const pageSize = Number(raw.prepare("PRAGMA page_size").get()!.page_size);
    raw.close();
    assert.ok(leaves.length >= 4, `only ${leaves.length} leaf pages`);
    const rng = new Rng(SEED);
    const bytes = await Deno.readFile(file);
    const hit = new Set<number>();
    while (hit.size < 3) hit.add(rng.pick(leaves.slice(1)));
    for (const page of hit) {
      bytes.fill(0xff, (page - 1) * pageSize, page * pageSize);
    }
    await Deno.writeFile(file, bytes);

    await using cache = await createSupCache({ dataDir: dir, ttl: null });
    const ns = cache.namespace("keep");
    let refused = 0;
    let served = 0;
    const ops: Array<[string, () => Promise<unknown>]> = [];
    for (const [key, value] of stored) {
      ops.push([`get ${key}`, async () => {
        const got = text(await ns.get(key));
        // A value read past the damage must be exactly what was stored.
        assert.equal(got, value, `${key} came back changed`);
      }]);
    }
    ops.push(["list", () => ns.list({ limit: 1000 })]);
    ops.push(["set", () => ns.set("k150", "new")]);
    ops.push(["increment", () => ns.increment("k7x")]);
    ops.push([
      "atomic",
      () => ns.atomic().set("k1", "a").set("k299", "b").commit(),
    ]);
    for (const [what, op] of ops) {
      figures.tried++;
      try {
        await op();
        served++;
      } catch (err) {
        assertNamesFile(err, file, what);
        assert.match((err as Error).message, /is corrupt/, what);
        refused++;
      }
      figures.survived++;
    }
    assert.ok(refused > 0, "the damage was never noticed");
    assert.ok(served > 0, "undamaged pages should still be readable");
    console.log(
      `corrupt pages ${
        [...hit].join(",")
      }: ${served} operations served, ${refused} refused with StorageError`,
    );
  }));

async function chattr(flag: "+i" | "-i", ...paths: string[]): Promise<boolean> {
  const out = await new Deno.Command("chattr", { args: [flag, ...paths] })
    .output().catch(() => null);
  return out?.code === 0;
}

// Root ignores file modes, so "read-only" is made real by the filesystem:
// the immutable attribute refuses writes even to root.
const canChattr = await withTempDir("chattr", async (dir) => {
  const ok = await chattr("+i", dir);
  if (ok) await chattr("-i", dir);
  return ok;
});

Deno.test({
  name:
    `an immutable (read-only) data directory is refused, named and untouched${
      canChattr ? "" : " (skipped: chattr +i unavailable)"
    }`,
  ignore: !canChattr,
  fn: () =>
    withTempDir("bad", async (dir) => {
      figures.tried++;
      const file = join(dir, "cache.db");
      const stored = await seed(dir);
      const before = await Deno.readFile(file);
      const names = listing(dir);
      assert.ok(await chattr("+i", file, dir));
      let err;
      try {
        err = await createSupCache({ dataDir: dir }).catch((e) => e);
      } finally {
        assert.ok(await chattr("-i", file, dir));
      }
      assertNamesFile(err, file, "immutable directory");
      assert.deepEqual(await Deno.readFile(file), before);
      assert.deepEqual(listing(dir), names);
      await using cache = await createSupCache({ dataDir: dir });
      const n = await intact(cache, stored);
      figures.lost += ENTRIES - n;
      assert.equal(n, ENTRIES);
      figures.survived++;
    }),
});

Deno.test({
  name:
    `an immutable database file in a writable directory: reads are served, writes refused and named${
      canChattr ? "" : " (skipped: chattr +i unavailable)"
    }`,
  ignore: !canChattr,
  fn: () =>
    withTempDir("bad", async (dir) => {
      figures.tried++;
      const file = join(dir, "cache.db");
      const stored = await seed(dir);
      const before = await Deno.readFile(file);
      assert.ok(await chattr("+i", file));
      try {
        const cache = await createSupCache({ dataDir: dir });
        assert.equal(await intact(cache, stored), ENTRIES);
        const ns = cache.namespace("keep");
        for (
          const write of [
            () => ns.set("k1", "changed"),
            () => ns.delete("k2"),
            () => ns.increment("n"),
            () => ns.atomic().set("k3", "x").commit(),
          ]
        ) {
          const err = await write().catch((e) => e);
          assertNamesFile(err, file, "write to a read-only file");
          assert.match(err.message, /read-only|readonly/);
        }
        assert.equal(await intact(cache, stored), ENTRIES);
        // close() flushes the in-memory hit counters, a write: on a
        // read-only file it may report that (typed, named), but it must
        // still close.
        const closeErr = await cache.close().then(() => null, (e) => e);
        if (closeErr !== null) assertNamesFile(closeErr, file, "close");
        assert.ok(cache.closed);
      } finally {
        assert.ok(await chattr("-i", file));
      }
      assert.deepEqual(await Deno.readFile(file), before);
      figures.survived++;
    }),
});

const RO_CHILD = supportScript("open_child.ts");

Deno.test("without --allow-write the open fails with a StorageError naming the file and the flag", () =>
  withTempDir("bad", async (dir) => {
    figures.tried++;
    const file = join(dir, "cache.db");
    const stored = await seed(dir);
    const before = await Deno.readFile(file);
    const names = listing(dir);
    const r = await runDeno(RO_CHILD, [`--allow-read=${dir}`], [dir, "path"]);
    assert.equal(r.code, 1, r.stderr);
    const err = JSON.parse(r.stdout);
    assert.equal(err.name, "StorageError", r.stdout);
    assert.equal(err.path, file, err.message);
    assert.match(err.message, /--allow-write/);
    assert.deepEqual(await Deno.readFile(file), before);
    assert.deepEqual(listing(dir), names);
    // With the documented flags the same child reads what was stored.
    const ok = await runDeno(RO_CHILD, cacheFlags(dir), [dir, "dataDir"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), stored.get("k0"));
    figures.survived++;
  }));

// Regression: createSupCache used to call Deno.mkdir even on an existing
// directory, so this failure named the directory ("cannot create") instead
// of cache.db.
Deno.test("an existing data directory without --allow-write gives a StorageError naming cache.db", () =>
  withTempDir("bad", async (dir) => {
    const file = join(dir, "cache.db");
    await seed(dir);
    const r = await runDeno(RO_CHILD, [`--allow-read=${dir}`], [
      dir,
      "dataDir",
    ]);
    assert.equal(r.code, 1, r.stderr);
    const err = JSON.parse(r.stdout);
    assert.equal(err.name, "StorageError", r.stdout);
    assert.match(err.message, /--allow-write/);
    assert.doesNotMatch(err.message, /cannot create the data directory/);
    assert.equal(err.path, file, err.message);
  }));

Deno.test("a full database (max_page_count): writes refused and named, nothing partial, earlier data intact, space freed is reused", () =>
  withTempDir("bad", async (dir) => {
    const file = join(dir, "cache.db");
    const stored = await seed(dir);
    const raw = openNodeSqlite(file);
    const pages = Number(
      raw.prepare("PRAGMA page_count").get()!.page_count,
    );
    // The limit is per connection: set it before the backend takes over.
    raw.exec(`PRAGMA max_page_count = ${pages + 20}`);
    const cache = await createSupCache({
      driver: new SqliteBackend(raw, file, "normal"),
      ttl: null,
    });
    const fill = cache.namespace("fill");
    const written = new Map<string, string>();
    let full: unknown = null;
    for (let i = 0; full === null; i++) {
      const value = `f${i}-${"z".repeat(3000)}`;
      try {
        await fill.set(`f${i}`, value);
        written.set(`f${i}`, value);
      } catch (err) {
        full = err;
        // The refused key must not exist, not even half-written.
        assert.equal(await fill.get(`f${i}`), null);
      }
    }
    figures.tried++;
    assertNamesFile(full, file, "set on a full database");
    assert.match((full as Error).message, /cannot grow/);

    // A batch that cannot fit lands not at all.
    figures.tried++;
    const batch = fill.atomic();
    for (let j = 0; j < 50; j++) batch.set(`batch-${j}`, "b".repeat(2000));
    assertNamesFile(await batch.commit().catch((e) => e), file, "atomic");
    assert.deepEqual((await fill.list({ prefix: "batch-" })).keys, []);
    figures.survived += 2;

    // Growing an existing entry fails and leaves the old value.
    figures.tried++;
    const [firstKey, firstValue] = [...written][0];
    assertNamesFile(
      await fill.set(firstKey, "g".repeat(200_000)).catch((e) => e),
      file,
      "grow an entry",
    );
    assert.equal(text(await fill.get(firstKey)), firstValue);
    figures.survived++;

    // Deleting frees pages inside the file, and writes work again.
    figures.tried++;
    for (const key of [...written.keys()].slice(1, 6)) {
      await fill.delete(key);
      written.delete(key);
    }
    await fill.set("after", "y".repeat(3000));
    written.set("after", "y".repeat(3000));
    figures.survived++;
    await cache.close();

    assert.equal(integrityCheck(file), "ok");
    await using again = await createSupCache({ dataDir: dir, ttl: null });
    const n = await intact(again, stored);
    let fillIntact = 0;
    for (const [key, value] of written) {
      if (text(await again.namespace("fill").get(key)) === value) fillIntact++;
    }
    figures.lost += ENTRIES - n + written.size - fillIntact;
    assert.equal(n, ENTRIES);
    assert.equal(fillIntact, written.size);
  }));

Deno.test("bad storage figures", () => {
  report("bad storage: damaged, read-only, full, newer files", {
    ...figures,
  });
  assert.equal(figures.lost, 0);
});
