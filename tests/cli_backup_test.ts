/**
 * `backup` and `restore` on real files: a consistent single-file copy
 * while another process writes, and a restore that refuses a database in
 * use, checks the backup first and keeps what it replaces.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { cli, CLI_FLAGS, ok, okJson, withDir } from "./support/cli_run.ts";

const WRITER = fileURLToPath(
  new URL("./support/cli_writer.ts", import.meta.url),
);

/** Start the writer in `mode`; resolves once it printed "ready". */
async function start(dataDir: string, mode: "write" | "hold") {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_FLAGS, WRITER, dataDir, mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("writer exited before it was ready");
    seen += value;
  }
  reader.releaseLock();
  return {
    async stop() {
      if (mode === "write") child.kill("SIGKILL");
      else await child.stdin.close();
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stdin.close().catch(() => {});
    },
  };
}

/** The values of k0..k49 in a backup file, read without changing it. */
function rounds(file: string): string[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const check = db.prepare("PRAGMA integrity_check").get();
    assert.equal(check?.integrity_check, "ok");
    return db.prepare("SELECT value FROM entries").all().map((r) =>
      new TextDecoder().decode(r.value as Uint8Array)
    );
  } finally {
    db.close();
  }
}

async function sha(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return new Uint8Array(digest).toHex();
}

Deno.test("backup makes one consistent file while another process writes", () =>
  withDir(async (dir) => {
    const data = `${dir}/data`;
    const writer = await start(data, "write");
    try {
      for (let i = 0; i < 4; i++) {
        const file = `${dir}/backup-${i}.db`;
        const report = await okJson<{ output: string; bytes: number }>([
          "backup",
          file,
          "--data-dir",
          data,
        ]);
        assert.equal(report.output, file);
        assert.equal(report.bytes, (await Deno.stat(file)).size);
        // One file: no -wal or -shm needed beside it.
        await assert.rejects(Deno.stat(`${file}-wal`), Deno.errors.NotFound);
        const values = rounds(file);
        assert.equal(values.length, 50);
        assert.equal(new Set(values).size, 1, `a torn snapshot: ${values}`);
        assert.ok(Number(values[0]) >= 1);
      }
    } finally {
      await writer.stop();
    }
  }));

Deno.test("backup refuses the live database and existing files without --force; a missing database is exit 1", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    const none = await cli(["backup", `${dir}/b.db`, ...d, "--json"]);
    assert.equal(none.code, 1);
    assert.equal(JSON.parse(none.stderr).error.code, "NO_DATABASE");
    await ok(["set", "n", "k", "v", ...d]);
    const before = await sha(`${dir}/cache.db`);
    for (const target of [`${dir}/cache.db`, `${dir}/cache.db-wal`]) {
      const run = await cli(["backup", target, "--force", ...d]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /live database/);
    }
    assert.equal(await sha(`${dir}/cache.db`), before);
    await ok(["backup", `${dir}/b.db`, ...d]);
    const again = await cli(["backup", `${dir}/b.db`, ...d]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the file exists/);
    await ok(["set", "n", "k2", "v", ...d]);
    await ok(["backup", `${dir}/b.db`, "--force", ...d]);
    assert.equal(rounds(`${dir}/b.db`).length, 2);
  }));

Deno.test("restore refuses a database in use, puts a backup back when it is free, and keeps what it replaced", () =>
  withDir(async (dir) => {
    const data = `${dir}/data`;
    const d = ["--data-dir", data];
    await ok(["set", "n", "k", "before", "--ttl", "never", ...d]);
    await ok(["backup", `${dir}/b.db`, ...d]);
    await ok(["set", "n", "k", "after", "--ttl", "never", ...d]);
    await ok(["set", "n", "new", "x", ...d]);

    const holder = await start(data, "hold");
    let refused;
    try {
      const db = await sha(`${data}/cache.db`);
      refused = await cli(["restore", `${dir}/b.db`, ...d, "--json"]);
      assert.equal(await sha(`${data}/cache.db`), db, "nothing changed");
    } finally {
      await holder.stop();
    }
    assert.equal(refused.code, 1);
    const error = JSON.parse(refused.stderr).error;
    assert.equal(error.code, "IN_USE");
    assert.match(error.message, /is open in another process/);
    assert.equal((await ok(["get", "n", "k", ...d])).stdout, "after");

    const report = await okJson<{ previous: string }>([
      "restore",
      `${dir}/b.db`,
      ...d,
    ]);
    assert.equal((await ok(["get", "n", "k", ...d])).stdout, "before");
    assert.equal((await cli(["get", "n", "new", ...d])).code, 1);
    assert.equal((await cli(["get", "w", "held", ...d])).code, 1);
    // The replaced database is kept, whole.
    assert.match(report.previous, /cache\.db\.before-restore-\d{8}T\d{6}Z$/);
    const kept = new DatabaseSync(report.previous, { readOnly: true });
    const keys = kept.prepare("SELECT key FROM entries ORDER BY key").all()
      .map((r) => r.key);
    kept.close();
    assert.deepEqual(keys, ["held", "k", "new"]);
    const names = [...Deno.readDirSync(data)].map((e) => e.name);
    assert.ok(!names.some((n) => n.includes(".restore-")), names.join(" "));
  }));

Deno.test("restore refuses files that are not sound backups, changing nothing", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", `${dir}/data`];
    await ok(["set", "n", "k", "v", ...d]);
    await ok(["export", "--output", `${dir}/export.jsonl`, ...d]);
    await ok(["backup", `${dir}/b.db`, ...d]);
    const bytes = await Deno.readFile(`${dir}/b.db`);
    await Deno.writeFile(`${dir}/torn.db`, bytes.subarray(0, 4096 + 100));
    const other = new DatabaseSync(`${dir}/other.db`);
    other.exec("CREATE TABLE key_values(key TEXT)");
    other.close();
    const before = await sha(`${dir}/data/cache.db`);
    for (
      const [file, message] of [
        [`${dir}/export.jsonl`, /is not an SQLite database.*sup-cache import/],
        [`${dir}/torn.db`, /is not a sound sup-cache backup/],
        [`${dir}/other.db`, /is not a sound sup-cache backup/],
        [`${dir}/data/cache.db`, /is the database itself/],
      ] as const
    ) {
      const run = await cli(["restore", file, ...d]);
      assert.equal(run.code, 1, file);
      assert.match(run.stderr, message, file);
      assert.equal(await sha(`${dir}/data/cache.db`), before, file);
    }
    assert.equal((await ok(["get", "n", "k", ...d])).stdout, "v");
  }));
