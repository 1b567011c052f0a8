import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { createSupCache, SchemaVersionError, StorageError } from "../mod.ts";
import { TestClock } from "../src/testing/clock.ts";
import { text, withDataDir } from "./support/drivers.ts";

Deno.test("a file from a newer schema is refused and left untouched", () =>
  withDataDir(async (dir) => {
    (await createSupCache({ dataDir: dir })).close();
    const file = join(dir, "cache.db");
    const db = new DatabaseSync(file);
    db.exec("PRAGMA user_version = 99");
    db.close();
    const before = await Deno.readFile(file);
    await assert.rejects(
      () => createSupCache({ dataDir: dir }),
      (err: Error) => {
        assert.ok(err instanceof SchemaVersionError);
        assert.equal(err.path, file);
        assert.equal(err.found, 99);
        assert.match(
          err.message,
          /schema version 99, but this sup-cache understands up to 5; it was written by a newer sup-cache/,
        );
        return true;
      },
    );
    assert.deepEqual(await Deno.readFile(file), before);
  }));

Deno.test("a file that is not a database gives a StorageError naming it", () =>
  withDataDir(async (dir) => {
    const file = join(dir, "cache.db");
    const junk = "this is a text file, not SQLite. ".repeat(200);
    await Deno.writeTextFile(file, junk);
    await assert.rejects(
      () => createSupCache({ dataDir: dir }),
      (err: Error) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.path, file);
        assert.match(
          err.message,
          new RegExp(`^${file} is not an SQLite database`),
        );
        return true;
      },
    );
    assert.equal(await Deno.readTextFile(file), junk);
  }));

Deno.test("another program's SQLite database is refused, not written into", () =>
  withDataDir(async (dir) => {
    const file = join(dir, "sup.db");
    const db = new DatabaseSync(file);
    db.exec("CREATE TABLE key_values (key TEXT PRIMARY KEY, value TEXT)");
    db.close();
    await assert.rejects(
      () => createSupCache({ path: file }),
      /is an SQLite database but not a sup-cache one/,
    );
    const check = new DatabaseSync(file);
    const tables = check.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table'",
    ).all();
    check.close();
    assert.deepEqual(tables.map((t) => t.name), ["key_values"]);
  }));

Deno.test("the data directory is created with mode 0700 and holds cache.db", () =>
  withDataDir(async (parent) => {
    const dir = join(parent, "nested", "sup");
    const cache = await createSupCache({ dataDir: dir });
    assert.equal(cache.dataDir, dir);
    assert.equal(cache.path, join(dir, "cache.db"));
    await cache.close();
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.ok((await Deno.stat(join(dir, "cache.db"))).isFile);
  }));

Deno.test("the default data directory follows SUP_DATA_DIR, then XDG_DATA_HOME, then HOME", () =>
  withDataDir(async (parent) => {
    const saved = ["SUP_DATA_DIR", "XDG_DATA_HOME", "HOME"].map((k) =>
      [k, Deno.env.get(k)] as const
    );
    try {
      Deno.env.set("SUP_DATA_DIR", join(parent, "explicit"));
      Deno.env.set("XDG_DATA_HOME", join(parent, "xdg"));
      Deno.env.set("HOME", join(parent, "home"));
      let cache = await createSupCache();
      assert.equal(cache.dataDir, join(parent, "explicit"));
      await cache.close();
      Deno.env.delete("SUP_DATA_DIR");
      cache = await createSupCache();
      assert.equal(cache.dataDir, join(parent, "xdg", "sup-cache"));
      await cache.close();
      Deno.env.delete("XDG_DATA_HOME");
      cache = await createSupCache();
      assert.equal(
        cache.dataDir,
        join(parent, "home", ".local", "share", "sup-cache"),
      );
      await cache.close();
    } finally {
      for (const [k, v] of saved) {
        v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
      }
    }
  }));

Deno.test("durability full and :memory: work", async () => {
  await using mem = await createSupCache({
    path: ":memory:",
    durability: "full",
  });
  await mem.namespace("m").set("k", "v");
  assert.equal(text(await mem.namespace("m").get("k")), "v");
  assert.equal(mem.dataDir, null);
});

/**
 * Schema 4's write times (timestamps) from schema 5's (negative: the time
 * back from the expiry), to turn a file made by this build back into an
 * older schema's shape for an upgrade test.
 */
const WRITE_TIME_V4 =
  "UPDATE entries SET written_at = expires_at + written_at WHERE written_at < 0;";

// The schema 0.1.0 wrote (schema version 1), for the upgrade test.
const SCHEMA_V1_FROM_0_1_0 = `
CREATE TABLE entries (
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  version INTEGER NOT NULL,
  expires_at INTEGER,
  size INTEGER NOT NULL,
  written_at INTEGER NOT NULL,
  PRIMARY KEY (space, ns, key)
) WITHOUT ROWID;
CREATE INDEX entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE namespaces (
  space INTEGER NOT NULL,
  ns TEXT NOT NULL,
  keys INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0,
  hits INTEGER NOT NULL DEFAULT 0,
  misses INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (space, ns)
) WITHOUT ROWID;
CREATE TRIGGER entries_insert AFTER INSERT ON entries BEGIN
  INSERT INTO namespaces (space, ns, keys, bytes, seq)
  VALUES (NEW.space, NEW.ns, 1, NEW.size, NEW.version)
  ON CONFLICT (space, ns) DO UPDATE SET
    keys = keys + 1, bytes = bytes + excluded.bytes, seq = max(seq, excluded.seq);
END;
CREATE TRIGGER entries_update AFTER UPDATE ON entries BEGIN
  UPDATE namespaces SET bytes = bytes + NEW.size - OLD.size, seq = max(seq, NEW.version)
  WHERE space = NEW.space AND ns = NEW.ns;
END;
CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN
  UPDATE namespaces SET keys = keys - 1, bytes = bytes - OLD.size
  WHERE space = OLD.space AND ns = OLD.ns;
END;
`;

Deno.test("a file from 0.1.0 (schema 1) is upgraded in place, losing nothing", () =>
  withDataDir(async (dir) => {
    const file = join(dir, "cache.db");
    const old = new DatabaseSync(file);
    old.exec("PRAGMA journal_mode = WAL");
    old.exec(SCHEMA_V1_FROM_0_1_0);
    old.exec("PRAGMA user_version = 1");
    const put = old.prepare(
      `INSERT INTO entries (space, ns, key, value, version, expires_at, size, written_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = Date.now();
    put.run(
      0,
      "counter",
      "visits",
      new TextEncoder().encode("41"),
      7,
      now + 60_000,
      8,
      now,
    );
    put.run(
      0,
      "counter",
      "gone",
      new TextEncoder().encode("x"),
      8,
      now - 1,
      5,
      now,
    );
    put.run(
      1,
      "settings",
      "lang",
      new TextEncoder().encode("en"),
      3,
      null,
      6,
      now,
    );
    // What a plugin could store in 0.1.0: ttl_ms = 2^53 - 1.
    put.run(0, "far", "k", new Uint8Array([1]), 1, now + 2 ** 53 - 1, 2, now);
    old.prepare("UPDATE namespaces SET hits = 5 WHERE ns = 'counter'").run();
    old.close();

    await using cache = await createSupCache({ dataDir: dir });
    const counter = cache.namespace("counter");
    const visits = (await counter.getEntry("visits"))!;
    assert.equal(text(visits.value), "41");
    assert.equal(visits.expiresAt, now + 60_000);
    assert.equal(visits.writtenAt, now);
    assert.equal(await counter.get("gone"), null);
    assert.equal(text(await cache.store("settings").get("lang")), "en");
    assert.deepEqual(
      { keys: counter.stats().keys, bytes: counter.stats().bytes },
      { keys: 2, bytes: 8 + 5 },
    );
    assert.ok(counter.stats().hits >= 5);
    // Versions keep growing past the old ones, and new writes work.
    assert.equal(await counter.increment("visits"), 42);
    const next = (await counter.getEntry("visits"))!.version;
    assert.ok(next > visits.version && visits.version >= 7);
    await counter.set("new", "v");
    assert.ok((await counter.getEntry("new"))!.version > next);
    const far = (await cache.namespace("far").getEntry("k"))!;
    assert.equal(far.expiresAt, 8_640_000_000_000_000);
    for (const info of await cache.namespaces()) {
      assert.ok(
        info.nextExpiry === null ||
          !Number.isNaN(new Date(info.nextExpiry).getTime()),
      );
    }
    const check = new DatabaseSync(file);
    const version = check.prepare("PRAGMA user_version").get()!.user_version;
    const objects = check.prepare(
      "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name",
    ).all().map((r) => r.name);
    check.close();
    assert.equal(version, 5);
    assert.deepEqual(objects, []);
  }));

// Schema 2 counted single inserts with a trigger; schema 3 dropped it and
// counts in the write. The trigger below is schema 2's, verbatim (schema
// 2 also had schema 3's update trigger, which the migration drops too).
Deno.test("a schema-2 file is upgraded to 5: both triggers go, every insert is still counted", () =>
  withDataDir(async (dir) => {
    {
      await using cache = await createSupCache({ dataDir: dir });
      await cache.namespace("n").set("a", "1");
      await cache.namespace("n").setMany([["b", "22"]]);
    }
    const file = join(dir, "cache.db");
    const v2 = new DatabaseSync(file);
    v2.exec(`CREATE TRIGGER entries_insert AFTER INSERT ON entries
WHEN (NEW.version & 4095) = 0 BEGIN
  INSERT INTO namespaces (space, ns, keys, bytes, seq)
  VALUES (NEW.space, NEW.ns, 1,
    length(CAST(NEW.key AS BLOB)) + length(NEW.value), NEW.version >> 12)
  ON CONFLICT (space, ns) DO UPDATE SET
    keys = keys + 1, bytes = bytes + excluded.bytes,
    seq = max(seq, excluded.seq);
END;
ALTER TABLE entries DROP COLUMN accessed_at;
ALTER TABLE namespaces DROP COLUMN evictions;
DROP TABLE attributions;
${WRITE_TIME_V4}
PRAGMA user_version = 2;`);
    v2.close();
    await using cache = await createSupCache({ dataDir: dir });
    const ns = cache.namespace("n");
    assert.equal(text(await ns.get("a")), "1");
    const before = (await ns.getEntry("b"))!.version;
    // Single inserts outside a lease: a new namespace, a new counter, and
    // a set inside a transaction.
    await cache.namespace("fresh").set("k", "vv");
    assert.equal(await ns.increment("c"), 1);
    await ns.atomic().set("d", "4444").commit();
    assert.ok((await ns.getEntry("c"))!.version > before);
    assert.deepEqual(
      { keys: ns.stats().keys, bytes: ns.stats().bytes },
      { keys: 4, bytes: 2 + 3 + 2 + 5 },
    );
    assert.deepEqual(
      {
        keys: cache.namespace("fresh").stats().keys,
        bytes: cache.namespace("fresh").stats().bytes,
      },
      { keys: 1, bytes: 3 },
    );
    const check = new DatabaseSync(file);
    const version = check.prepare("PRAGMA user_version").get()!.user_version;
    const triggers = check.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    ).all().map((r) => r.name);
    check.close();
    assert.equal(version, 5);
    assert.deepEqual(triggers, []);
  }));

/** keys and bytes of a namespace counted from its rows, and as stored. */
function counted(file: string, ns: string, space = 0) {
  const db = new DatabaseSync(file);
  try {
    const rows = db.prepare(
      `SELECT count(*) AS keys,
         coalesce(sum(length(CAST(key AS BLOB)) + length(value)), 0) AS bytes
       FROM entries WHERE space = ? AND ns = ?`,
    ).get(space, ns)!;
    const stored = db.prepare(
      "SELECT keys, bytes FROM namespaces WHERE space = ? AND ns = ?",
    ).get(space, ns)!;
    return {
      rows: { keys: Number(rows.keys), bytes: Number(rows.bytes) },
      stored: { keys: Number(stored.keys), bytes: Number(stored.bytes) },
    };
  } finally {
    db.close();
  }
}

// A file written by schema-3 code (tests/fixtures/schema3/cache.db: 24
// cache entries in "counter" with one expired, a counter at 5, one entry
// attributed to sender "alice", and "lang" in the store "settings").
Deno.test("a schema-3 file written by schema-3 code is upgraded to 5: the update trigger goes, nothing is lost, changes of length are counted", () =>
  withDataDir(async (dir) => {
    const file = join(dir, "cache.db");
    await Deno.copyFile(
      new URL("./fixtures/schema3/cache.db", import.meta.url),
      file,
    );
    // Its entries carry the default one-hour TTL from when it was written:
    // read them a minute after that, not at today's time.
    const fixture = new DatabaseSync(file, { readOnly: true });
    const writtenAt = Number(
      fixture.prepare("SELECT max(written_at) AS t FROM entries").get()!.t,
    );
    fixture.close();
    {
      await using cache = await createSupCache({
        dataDir: dir,
        sweepIntervalMs: 0,
        clock: new TestClock(writtenAt + 60_000),
      });
      const ns = cache.namespace("counter");
      assert.equal(text(await ns.get("greeting")), "hello");
      assert.equal(text(await ns.get("k7")), "v7");
      assert.equal(await ns.get("gone"), null);
      assert.equal(text(await cache.store("settings").get("lang")), "en");
      const before = (await ns.getEntry("visits"))!.version;
      assert.equal(await ns.increment("visits", 5), 10); // one digit more
      assert.ok((await ns.getEntry("visits"))!.version > before);
      await ns.set("long", "short"); // 100 bytes to 5
      await ns.set("greeting", "hello, world"); // grows
      await ns.setMany([["k1", "a longer value"], ["k2", ""]]);
      // The attribution survived: found by sender, not only by key segment.
      const report = await cache.forget("alice", { dryRun: true });
      assert.deepEqual(report.map((r) => [r.name, r.keys]), [
        ["counter", [{ key: "alice:note", rule: "sender" }]],
      ]);
    }
    const check = new DatabaseSync(file);
    const version = check.prepare("PRAGMA user_version").get()!.user_version;
    const triggers = check.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    ).all();
    check.close();
    assert.equal(version, 5);
    assert.deepEqual(triggers, []);
    const { rows, stored } = counted(file, "counter");
    assert.deepEqual(stored, rows);
    assert.equal(rows.keys, 25);
  }));

Deno.test("overwrites that change a value's length keep usage exact, in one process and across two", () =>
  withDataDir(async (dir) => {
    const file = join(dir, "cache.db");
    {
      await using a = await createSupCache({
        dataDir: dir,
        sweepIntervalMs: 0,
      });
      await using b = await createSupCache({ path: file, sweepIntervalMs: 0 });
      const x = a.namespace("n");
      const y = b.namespace("n");
      await x.setMany(
        Array.from({ length: 50 }, (_, i) => [`k${i}`, "v".repeat(i)] as const),
      );
      const sizes = [0, 1, 7, 300, 2, 2, 40_000, 5, 0, 9];
      for (let round = 0; round < 40; round++) {
        const who = round % 2 ? y : x;
        const key = `k${(round * 7) % 50}`;
        const len = sizes[round % sizes.length];
        if (round % 5 === 4) {
          await who.setMany([[key, "w".repeat(len)], [`new${round}`, "z"]]);
        } else if (round % 5 === 3) {
          await who.atomic().set(key, "q".repeat(len)).delete(`k${round}`)
            .commit();
        } else await who.set(key, "u".repeat(len));
        // 9 -> 10 -> 11...: one more digit on the way.
        assert.equal(await who.increment("c", 9), 9 * (round + 1));
      }
      // An expired entry replaced by setManyIfAbsent, with another length.
      await x.set("old", "expiring value", { ttl: 1 });
      await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(await y.setManyIfAbsent([["old", "n"], ["k1", "x"]]), [
        "k1",
      ]);
      // Epoch roll-over: the 4,095th overwrite of a key starts a new epoch.
      for (let i = 0; i < 4_200; i++) x.sync.set("hot", i % 3 ? "ab" : "abc");
    }
    const { rows, stored } = counted(file, "n");
    assert.deepEqual(stored, rows);
  }));

// A file written by schema-4 code (tests/fixtures/schema4/cache.db, made at
// commit 7f64b8f with a TestClock at T): in "counter", "greeting" (no
// expiry, written at T), "long" (100 bytes, one-hour TTL, T), "gone"
// (expired at T + 1), k0..k19 (setMany at T + 5, one-hour TTL), "visits"
// (incremented to 5 at T + 10), "alice:note" (two-hour TTL, T + 10,
// attributed to sender "alice"); "lang" in the store "settings" (T + 10).
Deno.test("a schema-4 file written by schema-4 code is upgraded to 5: write times become relative to the expiry, nothing else changes, a schema-4 process keeps working", () =>
  withDataDir(async (dir) => {
    const T = 1_795_000_000_000;
    const HOUR = 3_600_000;
    const file = join(dir, "cache.db");
    await Deno.copyFile(
      new URL("./fixtures/schema4/cache.db", import.meta.url),
      file,
    );
    const fixture = new DatabaseSync(file, { readOnly: true });
    const versions = new Map(
      fixture.prepare("SELECT key, version FROM entries").all().map((
        r,
      ) => [r.key as string, Number(r.version)]),
    );
    fixture.close();
    // A schema-4 process still open on the file when it is upgraded: its
    // overwrite (schema 4's, verbatim) stores a timestamp.
    const old = new DatabaseSync(file);
    const oldWrite = old.prepare(
      `UPDATE entries SET expires_at = ?5, version = version + 1, written_at = ?6,
  value = ?4
WHERE space = ?1 AND ns = ?2 AND key = ?3 AND length(value) = length(?4)
  AND (version & 4095) <> 4095`,
    );
    {
      await using cache = await createSupCache({
        dataDir: dir,
        sweepIntervalMs: 0,
        clock: new TestClock(T + 60_000),
      });
      const ns = cache.namespace("counter");
      const entry = async (key: string) => {
        const e = (await ns.getEntry(key))!;
        assert.equal(e.version, versions.get(key), key);
        return [text(e.value), e.expiresAt, e.writtenAt];
      };
      assert.deepEqual(await entry("greeting"), ["hello", null, T]);
      assert.deepEqual(await entry("long"), ["x".repeat(100), T + HOUR, T]);
      assert.deepEqual(await entry("k7"), ["v7", T + 5 + HOUR, T + 5]);
      assert.deepEqual(await entry("visits"), ["5", T + 10 + HOUR, T + 10]);
      assert.deepEqual(await entry("alice:note"), [
        "for alice",
        T + 10 + 2 * HOUR,
        T + 10,
      ]);
      assert.equal(await ns.get("gone"), null);
      const lang = (await cache.store("settings").getEntry("lang"))!;
      assert.deepEqual([text(lang.value), lang.expiresAt, lang.writtenAt], [
        "en",
        null,
        T + 10,
      ]);
      const info = (await cache.namespaces()).find((n) =>
        n.name === "counter"
      )!;
      assert.equal(info.oldest, T);
      // An increment keeps the expiry and stamps the write time.
      assert.equal(await ns.increment("visits", 5), 10);
      const visits = (await ns.getEntry("visits"))!;
      assert.ok(visits.version > versions.get("visits")!);
      assert.deepEqual([visits.expiresAt, visits.writtenAt], [
        T + 10 + HOUR,
        T + 60_000,
      ]);
      await ns.set("long", "short");
      await ns.setMany([["k1", "a longer value"], ["k2", ""]]);
      const report = await cache.forget("alice", { dryRun: true });
      assert.deepEqual(report.map((r) => [r.name, r.keys]), [
        ["counter", [{ key: "alice:note", rule: "sender" }]],
      ]);
    }
    const k0 = old.prepare(
      "SELECT written_at FROM entries WHERE key = 'k0'",
    ).get()!;
    assert.equal(k0.written_at, -HOUR); // 4 bytes on disk, not 6
    // The old process goes on writing timestamps; they are read right.
    const v = new TextEncoder().encode("w3");
    const wrote = oldWrite.run(0, "counter", "k3", v, T + 2 * HOUR, T + 90_000);
    assert.equal(wrote.changes, 1);
    old.close();
    {
      await using cache = await createSupCache({
        dataDir: dir,
        sweepIntervalMs: 0,
        clock: new TestClock(T + 120_000),
      });
      const k3 = (await cache.namespace("counter").getEntry("k3"))!;
      assert.deepEqual([text(k3.value), k3.expiresAt, k3.writtenAt], [
        "w3",
        T + 2 * HOUR,
        T + 90_000,
      ]);
    }
    const check = new DatabaseSync(file);
    const version = check.prepare("PRAGMA user_version").get()!.user_version;
    check.close();
    assert.equal(version, 5);
    const { rows, stored } = counted(file, "counter");
    assert.deepEqual(stored, rows);
    assert.equal(rows.keys, 25);
  }));
