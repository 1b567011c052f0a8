import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { createSupCache, SchemaVersionError, StorageError } from "../mod.ts";
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
          /schema version 99, but this sup-cache understands up to 2; it was written by a newer sup-cache/,
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
