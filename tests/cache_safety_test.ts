// Operator safety of the storage layer: expiry times every reader can
// handle, a quota purge in bounded steps, a full disk that leaves no empty
// cache.db behind, and another program's SQLite file left exactly as it was.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  type Backend,
  createSupCache,
  InvalidInputError,
  StorageError,
} from "../mod.ts";
import { openNodeSqlite } from "../src/storage/node_sqlite.ts";
import { SqliteBackend } from "../src/storage/sqlite_backend.ts";
import { MAX_EXPIRES_AT } from "../src/cache/validate.ts";
import { sleep, testEachDriver, text, withDataDir } from "./support/drivers.ts";

testEachDriver(
  "expiry times a JavaScript Date cannot hold are refused with the range, nothing written",
  async (open) => {
    const cache = await open();
    const ns = cache.namespace("exp");
    await ns.set("k", "kept");
    const range = /from 0 to 8,640,000,000,000,000/;
    for (
      const options of [
        { expiresAt: MAX_EXPIRES_AT + 1 },
        { expiresAt: Number.MAX_SAFE_INTEGER },
        { expiresAt: -1 },
      ]
    ) {
      await assert.rejects(ns.set("k", "lost", options), (err: Error) => {
        assert.ok(err instanceof InvalidInputError);
        assert.match(err.message, range);
        return true;
      });
    }
    // What a plugin can pass as ttl_ms: 2^53 - 1.
    for (const ttl of [Number.MAX_SAFE_INTEGER, MAX_EXPIRES_AT]) {
      await assert.rejects(ns.set("k", "lost", { ttl }), (err: Error) => {
        assert.ok(err instanceof InvalidInputError);
        assert.match(
          err.message,
          /out of range: it must be from 1 to [0-9,]+ ms/,
        );
        assert.match(err.message, /8,640,000,000,000,000 ms since the epoch/);
        return true;
      });
    }
    await assert.rejects(
      ns.setMany([["a", "1"], ["b", "2", { ttl: Number.MAX_SAFE_INTEGER }]]),
      InvalidInputError,
    );
    await assert.rejects(
      ns.atomic().set("a", "1", { expiresAt: MAX_EXPIRES_AT + 1 }).commit(),
      InvalidInputError,
    );
    assert.equal(text(await ns.get("k")), "kept");
    assert.equal(await ns.get("a"), null);
    // The last valid instant is accepted, and every stored expiry is a Date.
    await ns.set("edge", "x", { expiresAt: MAX_EXPIRES_AT });
    for (const info of await cache.namespaces()) {
      if (info.nextExpiry !== null) {
        assert.ok(!Number.isNaN(new Date(info.nextExpiry).getTime()));
      }
    }
    await assert.rejects(
      open({ ttl: Number.MAX_SAFE_INTEGER }),
      /options.ttl is [0-9,]+ ms, out of range/,
    );
  },
);

/** A backend that records how many rows each purge step deleted. */
function recording(inner: Backend, steps: number[]): Backend {
  return new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "purgeExpiredIn" || prop === "purgeExpired") {
        return (...args: unknown[]) => {
          const step = (value as (...a: unknown[]) => { deleted: number })
            .apply(target, args);
          steps.push(step.deleted);
          return step;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("a write at the quota purges expired rows in bounded steps and stops once it fits", () =>
  withDataDir(async (dir) => {
    const file = join(dir, "cache.db");
    const steps: number[] = [];
    const backend = recording(
      new SqliteBackend(openNodeSqlite(file), file, "normal"),
      steps,
    );
    await using cache = await createSupCache({
      driver: backend,
      limits: { maxKeys: 5_000, onQuota: "reject" },
      sweepBatch: 100,
      sweepIntervalMs: 0,
    });
    const ns = cache.namespace("full");
    await ns.setMany(
      Array.from(
        { length: 5_000 },
        (_, i) => [`k${i}`, "v", { ttl: 1 }] as const,
      ),
    );
    await sleep(5);
    await ns.set("one-more", "fits");
    assert.equal(text(await ns.get("one-more")), "fits");
    // Each step is one short transaction of at most sweepBatch deletions;
    // the write went through after the first step that freed a row.
    assert.ok(steps.length >= 1);
    assert.ok(steps.every((n) => n <= 100), String(steps));
    assert.equal(steps.filter((n) => n > 0).length, 1, String(steps));
    assert.ok(ns.stats().keys <= 5_000);

    // A full pass (nothing expired): every step stays bounded, then refused.
    steps.length = 0;
    const live = cache.namespace("live");
    await live.setMany(
      Array.from({ length: 5_000 }, (_, i) => [`k${i}`, "v"] as const),
    );
    await assert.rejects(live.set("over", "x"), /quota of 5,000 keys/);
    assert.ok(steps.length >= 2, "the scan went on past one step");
    assert.ok(steps.every((n) => n === 0));
  }));

Deno.test("cache.purgeExpired works in bounded steps over every namespace", () =>
  withDataDir(async (dir) => {
    const file = join(dir, "cache.db");
    const steps: number[] = [];
    const backend = recording(
      new SqliteBackend(openNodeSqlite(file), file, "normal"),
      steps,
    );
    await using cache = await createSupCache({
      driver: backend,
      sweepBatch: 50,
      sweepIntervalMs: 0,
    });
    for (const name of ["a", "b", "c"]) {
      await cache.namespace(name).setMany(
        Array.from(
          { length: 400 },
          (_, i) => [`k${i}`, "v", { ttl: 1 }] as const,
        ),
      );
      await cache.namespace(name).set("keep", "v");
    }
    await sleep(5);
    assert.equal(await cache.purgeExpired(), 1_200);
    assert.ok(steps.every((n) => n <= 50), String(steps));
    for (const name of ["a", "b", "c"]) {
      assert.deepEqual(cache.namespace(name).stats().keys, 1);
    }
  }));

/** Bytes 18 and 19 of an SQLite header: 1 = rollback journal, 2 = WAL. */
function journalBytes(file: string): number[] {
  const header = Deno.readFileSync(file).subarray(18, 20);
  return [header[0], header[1]];
}

Deno.test("another program's SQLite file is refused before any pragma changes it", () =>
  withDataDir(async (dir) => {
    // sup's own cache: github.com/rubiojr/kv's key_values table.
    const file = join(dir, "sup-cache.db");
    const sup = new DatabaseSync(file);
    sup.exec(
      "CREATE TABLE key_values (key TEXT PRIMARY KEY, value BLOB, expires_at TIMESTAMP)",
    );
    sup.exec("INSERT INTO key_values VALUES ('k', 'v', NULL)");
    sup.close();
    const before = Deno.readFileSync(file);
    assert.deepEqual(journalBytes(file), [1, 1]);
    await assert.rejects(createSupCache({ path: file }), (err: Error) => {
      assert.ok(err instanceof StorageError);
      assert.match(err.message, /not a sup-cache one .* left untouched/);
      return true;
    });
    assert.deepEqual(Deno.readFileSync(file), before);
    assert.deepEqual(journalBytes(file), [1, 1], "still not WAL");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["sup-cache.db"],
    );

    // A file that claims a sup-cache version but lacks our tables, too.
    const other = join(dir, "other.db");
    const db = new DatabaseSync(other);
    db.exec("CREATE TABLE t (x); PRAGMA user_version = 2");
    db.close();
    const otherBefore = Deno.readFileSync(other);
    await assert.rejects(
      createSupCache({ path: other }),
      /user_version is 2 but it has no entries and namespaces tables/,
    );
    assert.deepEqual(Deno.readFileSync(other), otherBefore);
  }));

/** A tiny tmpfs, when this process may mount one (root on Linux). */
async function tinyDisk(): Promise<string | null> {
  if (Deno.build.os !== "linux") return null;
  const dir = await Deno.makeTempDir({ prefix: "sup-cache-full-" });
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=128k", "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  if (!out?.success) {
    await Deno.remove(dir);
    return null;
  }
  return dir;
}

async function releaseDisk(dir: string) {
  await new Deno.Command("umount", { args: [dir] }).output();
  await Deno.remove(dir);
}

const canMount = await (async () => {
  const dir = await tinyDisk().catch(() => null);
  if (dir) await releaseDisk(dir);
  return dir !== null;
})();

Deno.test({
  name: `a full disk leaves no empty cache.db and says the disk is full${
    canMount ? "" : " (skipped: needs root to mount a tiny tmpfs)"
  }`,
  ignore: !canMount,
  async fn() {
    const disk = (await tinyDisk())!;
    try {
      // Fill the disk, leaving less than one database page.
      const filler = await Deno.open(join(disk, "filler"), {
        write: true,
        create: true,
      });
      const block = new Uint8Array(1024);
      try {
        for (;;) await filler.write(block);
      } catch (err) {
        assert.match(String(err), /No space left|os error 28/i);
      } finally {
        filler.close();
      }
      const dataDir = join(disk, "data");
      await Deno.mkdir(dataDir);
      await assert.rejects(createSupCache({ dataDir }), (err: Error) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.match(err.message, /the disk is full/);
        return true;
      });
      assert.deepEqual([...Deno.readDirSync(dataDir)], [], "nothing left");

      // With room again the same directory opens as a fresh cache.
      await Deno.remove(join(disk, "filler"));
      await using cache = await createSupCache({ dataDir });
      await cache.namespace("n").set("k", "v");
      assert.equal(text(await cache.namespace("n").get("k")), "v");
    } finally {
      await releaseDisk(disk);
    }
  },
});

Deno.test("deletes a killed process never shared are found by a recount when the quota says full", () =>
  withDataDir(async (dir) => {
    const mod = new URL("../mod.ts", import.meta.url).href;
    // Fills the quota, deletes half synchronously, and exits before the
    // deferred usage flush can run (as a crash would).
    const script = `import { createSupCache } from ${JSON.stringify(mod)};
const cache = await createSupCache({ dataDir: ${
      JSON.stringify(dir)
    }, limits: { maxKeys: 10, onQuota: "reject" }, sweepIntervalMs: 0 });
const ns = cache.namespace("q").sync;
for (let i = 0; i < 10; i++) ns.set("k" + i, "v");
for (let i = 0; i < 5; i++) ns.delete("k" + i);
Deno.exit(0);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    await using cache = await createSupCache({
      dataDir: dir,
      limits: { maxKeys: 10, onQuota: "reject" },
    });
    const ns = cache.namespace("q");
    assert.equal(ns.stats().keys, 10, "the unshared deletes are still counted");
    for (let i = 0; i < 5; i++) await ns.set(`new${i}`, "v");
    assert.equal(ns.stats().keys, 10);
    await assert.rejects(ns.set("one-more", "v"), /quota of 10 keys/);
  }));

Deno.test("quota leases: two connections filling one namespace stop at exactly the quota", () =>
  withDataDir(async (dir) => {
    const limits = { maxKeys: 600, onQuota: "reject" as const };
    await using a = await createSupCache({ dataDir: dir, limits });
    await using b = await createSupCache({ dataDir: dir, limits });
    const na = a.namespace("shared");
    const nb = b.namespace("shared");
    // Far from the quota both insert against leases.
    for (let i = 0; i < 100; i++) {
      na.sync.set(`a${i}`, "v");
      nb.sync.set(`b${i}`, "v");
    }
    // Both leases are counted as used in the file, beyond the 200 rows.
    const raw = new DatabaseSync(join(dir, "cache.db"));
    const stored = Number(
      raw.prepare("SELECT keys FROM namespaces WHERE ns = 'shared'").get()!
        .keys,
    );
    raw.close();
    assert.ok(stored > 200, `stored ${stored}`);
    // B still holds unused lease; A fills up, reclaiming it by a recount.
    let aCount = 100;
    for (;; aCount++) {
      try {
        na.sync.set(`a${aCount}`, "v");
      } catch (err) {
        assert.match(String(err), /quota of 600 keys/);
        break;
      }
    }
    await assert.rejects(nb.set("b-late", "v"), /quota of 600 keys/);
    const rows = (await na.list({ limit: 1000 })).keys.length;
    assert.equal(rows, 600, "exactly the quota, never more");
    assert.equal(aCount + 100, 600);
    await a.close();
    await b.close();
    await using c = await createSupCache({ dataDir: dir, limits });
    assert.equal(c.namespace("shared").stats().keys, 600);
  }));
