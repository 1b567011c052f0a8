import assert from "node:assert/strict";
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
