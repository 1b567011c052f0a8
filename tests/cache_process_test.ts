import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSupCache } from "../mod.ts";
import { text, withDataDir } from "./support/drivers.ts";

const worker = fileURLToPath(
  new URL("./support/increment_worker.ts", import.meta.url),
);

Deno.test("processes incrementing one key concurrently lose no increment", () =>
  withDataDir(async (dir) => {
    const perProcess = 300;
    const children = Array.from(
      { length: 3 },
      () =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-read",
            "--allow-write",
            "--allow-env",
            worker,
            dir,
            "hits",
            String(perProcess),
          ],
          stdout: "piped",
          stderr: "piped",
        }).output(),
    );
    for (const out of await Promise.all(children)) {
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "done");
    }
    await using cache = await createSupCache({ dataDir: dir });
    assert.equal(
      text(await cache.namespace("shared").get("hits")),
      String(3 * perProcess),
    );
  }));

Deno.test("a script that never closes its cache still exits (the sweep timer is unref'd)", () =>
  withDataDir(async (dir) => {
    const script = `import { createSupCache } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
const cache = await createSupCache({ dataDir: ${
      JSON.stringify(dir)
    }, sweepIntervalMs: 10 });
await cache.namespace("x").set("k", "v");
console.log("exiting");`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Not a speed assertion: only a hang (a ref'd timer) would reach this bound.
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "exiting");
  }));

// Schema 4 counts a change of length in the write (a lease, a later fold,
// or under the lock) instead of a trigger: processes overwriting the same
// keys with values of other lengths, incrementing counters past a digit,
// deleting and writing in bulk must leave the stored usage equal to what
// the rows hold.
Deno.test("processes overwriting keys with values of other lengths keep the stored usage exact", () =>
  withDataDir(async (dir) => {
    const script = `import { createSupCache } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
const seed = Number(Deno.args[0]);
let x = seed;
const rnd = (n) => (x = (x * 1103515245 + 12345) % 2147483648) % n;
const cache = await createSupCache({ dataDir: ${
      JSON.stringify(dir)
    }, sweepIntervalMs: 5 });
const ns = cache.namespace("shared");
for (let i = 0; i < 600; i++) {
  const key = "k" + rnd(40);
  const op = rnd(10);
  if (op < 5) ns.sync.set(key, "v".repeat(rnd(3) === 0 ? rnd(3000) : rnd(20)));
  else if (op < 7) ns.sync.increment("c" + rnd(5), rnd(30) - 10);
  else if (op < 8) ns.sync.delete(key);
  else if (op < 9) ns.sync.setMany([[key, "m".repeat(rnd(50))], ["n" + rnd(40), "x"]]);
  else await ns.atomic().set(key, "a".repeat(rnd(100))).delete("n" + rnd(40)).commit();
}
await cache.close();
console.log("done");`;
    const children = [1, 2, 3].map((seed) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--ext=ts", script, String(seed)],
        stdout: "piped",
        stderr: "piped",
      }).output()
    );
    for (const out of await Promise.all(children)) {
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "done");
    }
    const db = new DatabaseSync(join(dir, "cache.db"));
    try {
      const rows = db.prepare(
        `SELECT count(*) AS keys,
           sum(length(CAST(key AS BLOB)) + length(value)) AS bytes
         FROM entries WHERE ns = 'shared'`,
      ).get()!;
      const stored = db.prepare(
        "SELECT keys, bytes FROM namespaces WHERE ns = 'shared'",
      ).get()!;
      assert.ok(Number(rows.keys) > 0);
      assert.deepEqual(
        { keys: Number(stored.keys), bytes: Number(stored.bytes) },
        { keys: Number(rows.keys), bytes: Number(rows.bytes) },
      );
    } finally {
      db.close();
    }
  }));
