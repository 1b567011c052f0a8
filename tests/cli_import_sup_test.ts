/**
 * `import-sup` against databases built the way sup's kv package builds them
 * (see support/cli_sup_db.ts): kv's table and upsert, BLOB values, Go
 * `time.Time.String()` expiry text, and sup's `plugin:key` prefixes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { cli, ok, okJson, withDir } from "./support/cli_run.ts";
import { createSupDb, goTimeString } from "./support/cli_sup_db.ts";

interface Report {
  source: string;
  kind: string;
  total: number;
  moved: number;
  namespaces: Record<string, number>;
  skipped: { key: string; reason: string }[];
}

async function sha(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

const BINARY = new Uint8Array([0, 255, 0xc3, 0x28, 10]);

/** A sup cache.db: a mix of rows sup writes and rows it cannot move. */
function supCache(path: string, now: number, wal = false): void {
  createSupDb(path, [
    // sup's cache: time.Now().Add(1h) in a local zone, with a monotonic reading.
    {
      key: "counter:visits",
      value: "41",
      expiresAt: goTimeString(now + 3_600_000, {
        offsetMinutes: 60,
        zone: "CET",
        nanos: 123_456_789,
        mono: "+3600.000012345",
      }),
    },
    {
      key: "counter:user:123",
      value: BINARY,
      expiresAt: goTimeString(now + 600_000, {
        offsetMinutes: -300,
        zone: "EST",
      }),
    },
    // "alpha:beta" is not a namespace in sup: the key splits at the first colon.
    {
      key: "alpha:beta:x",
      value: "ab",
      expiresAt: goTimeString(now + 600_000),
    },
    {
      key: "weather:berlin",
      value: "12C",
      expiresAt: goTimeString(now - 60_000, {
        offsetMinutes: 120,
        zone: "CEST",
      }),
    },
    { key: "orphan", value: "x", expiresAt: goTimeString(now + 600_000) },
    { key: "counter:", value: "x", expiresAt: goTimeString(now + 600_000) },
    { key: "counter:weird", value: "x", expiresAt: "next tuesday" },
  ], { wal });
}

Deno.test("import-sup moves a sup cache.db into cache namespaces, keeping TTLs and bytes, and reports every skip", () =>
  withDir(async (dir) => {
    const now = Date.now();
    const source = `${dir}/sup/cache.db`;
    await Deno.mkdir(`${dir}/sup`);
    supCache(source, now);
    const before = await sha(source);
    const d = ["--data-dir", `${dir}/data`];
    const report = await okJson<Report>(["import-sup", source, ...d]);
    assert.equal(report.kind, "cache");
    assert.equal(report.source, source);
    assert.equal(report.total, 7);
    assert.equal(report.moved, 3);
    assert.deepEqual(report.namespaces, { alpha: 1, counter: 2 });
    const reasons = Object.fromEntries(
      report.skipped.map((s) => [s.key, s.reason]),
    );
    assert.deepEqual(Object.keys(reasons).sort(), [
      "counter:",
      "counter:weird",
      "orphan",
      "weather:berlin",
    ]);
    assert.match(reasons["weather:berlin"], /^expired at /);
    assert.match(reasons.orphan, /no plugin prefix/);
    assert.match(reasons["counter:"], /key after the plugin prefix is empty/);
    assert.match(
      reasons["counter:weird"],
      /expires_at "next tuesday" is not a real time as sup.s kv writes it/,
    );

    assert.equal((await ok(["get", "counter", "visits", ...d])).stdout, "41");
    assert.deepEqual(
      (await ok(["get", "counter", "user:123", ...d])).bytes,
      BINARY,
    );
    assert.equal((await ok(["get", "alpha", "beta:x", ...d])).stdout, "ab");
    assert.equal((await cli(["get", "alpha:beta", "x", ...d])).code, 1);
    // Go's local time with zone and nanoseconds resolves to the same instant;
    // the TTL is re-applied at write time, so it can only have grown by the run time.
    const visits = await okJson<{ expiresAt: number }>([
      "get",
      "counter",
      "visits",
      ...d,
    ]);
    const sent = now - (now % 1000) + 3_600_000 + 123;
    assert.ok(
      visits.expiresAt >= sent && visits.expiresAt <= Date.now() + 3_600_000,
      String(visits.expiresAt - sent),
    );
    const user = await okJson<{ expiresAt: number }>([
      "get",
      "counter",
      "user:123",
      ...d,
    ]);
    assert.ok(
      user.expiresAt >= now + 600_000 && user.expiresAt <= Date.now() + 600_000,
    );

    assert.equal(
      await sha(source),
      before,
      "the sup database is left as it was",
    );
  }));

Deno.test("import-sup of a store.db fills the store; existing keys are kept unless --overwrite", () =>
  withDir(async (dir) => {
    const source = `${dir}/store.db`;
    createSupDb(source, [
      { key: "settings:lang", value: "en", expiresAt: null },
      { key: "settings:tz", value: "Europe/Madrid", expiresAt: null },
    ]);
    const d = ["--data-dir", `${dir}/data`];
    await ok(["set", "settings", "lang", "fr", "--store", ...d]);
    const human = await ok(["import-sup", source, ...d]);
    assert.match(
      human.stdout,
      /^moved 1 of 2 store entries \(settings 1\), skipped 1\nSKIPPED +REASON\nsettings:lang +exists \(pass --overwrite to replace it\)\n$/,
    );
    assert.equal(human.stderr, "");
    const entry = await okJson<{ expiresAt: null; text: string }>([
      "get",
      "settings",
      "tz",
      "--store",
      ...d,
    ]);
    assert.equal(entry.text, "Europe/Madrid");
    assert.equal(entry.expiresAt, null);
    assert.equal(
      (await cli(["get", "settings", "tz", ...d])).code,
      1,
      "not in the cache keyspace",
    );
    assert.equal(
      (await ok(["get", "settings", "lang", "--store", ...d])).stdout,
      "fr",
    );
    const forced = await okJson<Report>([
      "import-sup",
      source,
      "--overwrite",
      ...d,
    ]);
    assert.equal(forced.moved, 2);
    assert.equal(
      (await ok(["get", "settings", "lang", "--store", ...d])).stdout,
      "en",
    );
  }));

Deno.test("import-sup reads a WAL-mode sup database, and --kind names the keyspace of any file name", () =>
  withDir(async (dir) => {
    const source = `${dir}/sup-cache-backup.sqlite`;
    supCache(source, Date.now(), true);
    const d = ["--data-dir", `${dir}/data`];
    const unnamed = await cli(["import-sup", source, ...d]);
    assert.equal(unnamed.code, 2);
    assert.match(
      unnamed.stderr,
      /cannot tell from the name "sup-cache-backup\.sqlite" whether it is sup's cache or its store; pass --kind cache or --kind store/,
    );
    const report = await okJson<Report>([
      "import-sup",
      source,
      "--kind",
      "cache",
      ...d,
    ]);
    assert.equal(report.moved, 3);
  }));

Deno.test("import-sup refuses files that are not sup databases, before creating anything", () =>
  withDir(async (dir) => {
    const target = `${dir}/data`;
    await ok(["set", "a", "b", "c", "--data-dir", `${dir}/ours`]);
    const ours = await cli([
      "import-sup",
      `${dir}/ours/cache.db`,
      "--data-dir",
      target,
    ]);
    assert.equal(ours.code, 1);
    assert.match(
      ours.stderr,
      /has no key_values table, so it is not a sup cache\.db or store\.db/,
    );
    await Deno.writeTextFile(
      `${dir}/cache.db`,
      "not a database at all, just some text that is long enough",
    );
    const text = await cli([
      "import-sup",
      `${dir}/cache.db`,
      "--data-dir",
      target,
      "--json",
    ]);
    assert.equal(text.code, 1);
    const error = JSON.parse(text.stderr).error;
    assert.equal(error.code, "INPUT_FORMAT");
    assert.match(error.message, /cannot be read as an SQLite database/);
    const missing = await cli([
      "import-sup",
      `${dir}/nope/cache.db`,
      "--data-dir",
      target,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /check the path/);
    assert.equal(
      (await cli([
        "import-sup",
        `${dir}/cache.db`,
        "--kind",
        "both",
        "--data-dir",
        target,
      ])).code,
      2,
    );
    await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
  }));

Deno.test("import-sup refuses keys that are not UTF-8 (no collisions, counted), keys with NUL, and impossible dates", () =>
  withDir(async (dir) => {
    const source = `${dir}/cache.db`;
    const later = goTimeString(Date.now() + 600_000);
    createSupDb(source, [
      { key: "counter:ok", value: "1", expiresAt: later },
      {
        key: "counter:feb",
        value: "x",
        expiresAt: "2030-02-30 10:00:00 +0000 UTC",
      },
      {
        key: "counter:month",
        value: "x",
        expiresAt: "2030-13-01 10:00:00 +0000 UTC",
      },
      {
        key: "counter:hour",
        value: "x",
        expiresAt: "2030-01-01 24:00:00 +0000 UTC",
      },
      {
        key: "counter:zone",
        value: "x",
        expiresAt: "2030-01-01 10:00:00 +2500 X",
      },
      {
        key: "counter:leap",
        value: "x",
        expiresAt: "2028-02-29 10:00:00 +0000 UTC",
      },
      {
        key: "counter:far",
        value: "x",
        expiresAt: "275761-01-01 00:00:00 +0000 UTC",
      },
      {
        key: "counter:zero",
        value: "x",
        expiresAt: "0001-01-01 00:00:00 +0000 UTC",
      },
    ]);
    // Go strings hold any bytes, and modernc binds them as TEXT unchanged:
    // two keys that differ only in invalid bytes, and one with NUL.
    const db = new DatabaseSync(source);
    const raw = db.prepare(
      "INSERT INTO key_values VALUES (CAST(? AS TEXT), ?, '', '', NULL)",
    );
    const enc = (s: string) => new TextEncoder().encode(s);
    raw.run(new Uint8Array([...enc("counter:"), 0xff]), enc("a"));
    raw.run(new Uint8Array([...enc("counter:"), 0xfe]), enc("b"));
    raw.run(new Uint8Array([...enc("counter:a"), 0, ...enc("b")]), enc("c"));
    db.close();

    const d = ["--data-dir", `${dir}/data`];
    const report = await okJson<Report & { notUtf8: number }>([
      "import-sup",
      source,
      ...d,
    ]);
    assert.equal(report.total, 11);
    assert.deepEqual(report.namespaces, { counter: 2 });
    assert.equal(report.notUtf8, 2);
    const reasons = Object.fromEntries(
      report.skipped.map((s) => [s.key, s.reason]),
    );
    assert.match(reasons["counter:\\xff"], /not valid UTF-8/);
    assert.match(reasons["counter:\\xfe"], /not valid UTF-8/);
    assert.match(reasons["counter:a\0b"], /contains a NUL character/);
    for (const key of ["feb", "month", "hour", "zone"]) {
      assert.match(reasons[`counter:${key}`], /is not a real time/, key);
    }
    assert.match(
      reasons["counter:far"],
      /past the latest time a JavaScript Date holds/,
    );
    assert.match(
      reasons["counter:zero"],
      /^expired at 0001-01-01T00:00:00\.000Z/,
    );
    const keys = await okJson<{ keys: { key: string }[] }>([
      "keys",
      "counter",
      ...d,
    ]);
    assert.deepEqual(keys.keys.map((k) => k.key), ["leap", "ok"]);

    const human = await ok(["import-sup", source, "--overwrite", ...d]);
    assert.match(human.stdout, /skipped 9 \(2 keys not valid UTF-8\)/);
    assert.match(human.stdout, /counter:\\xff/);
    assert.doesNotMatch(human.stdout, /\0/);
  }));
