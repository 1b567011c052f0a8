// Options that say when they are wrong: unknown names point to the right
// one, contradictory ones are refused, and nothing touches the disk first.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createSupCache, InvalidInputError } from "../mod.ts";
import { testEachDriver, text, withDataDir } from "./support/drivers.ts";

const refuses = (pattern: RegExp) => (err: Error) => {
  assert.ok(err instanceof InvalidInputError, String(err));
  assert.match(err.message, pattern);
  return true;
};

testEachDriver(
  "set options: Deno KV's expireIn points to ttl, and nothing is written",
  async (open) => {
    const ns = (await open()).namespace("o");
    await ns.set("k", "old");
    await assert.rejects(
      // @ts-expect-error: the wrong name, as a Deno KV user would write it
      ns.set("k", "new", { expireIn: 60_000 }),
      refuses(/unknown option "expireIn" for set\(\); did you mean "ttl"\?/),
    );
    await assert.rejects(
      // @ts-expect-error: a misspelling
      ns.set("k", "new", { tll: 5 }),
      refuses(/unknown option "tll" for set\(\); did you mean "ttl"\?/),
    );
    await assert.rejects(
      // @ts-expect-error: a misspelling inside a batch
      ns.setMany([["a", "1"], ["b", "2", { expiresat: 1 }]]),
      refuses(/did you mean "expiresAt"\?/),
    );
    await assert.rejects(
      // @ts-expect-error: unknown list option
      ns.list({ prefx: "a" }),
      refuses(/unknown option "prefx" for list\(\); did you mean "prefix"\?/),
    );
    assert.equal(text(await ns.get("k")), "old");
    assert.equal(await ns.get("a"), null);
  },
);

Deno.test("createSupCache: unknown options are refused with a suggestion, before the disk is touched", () =>
  withDataDir(async (parent) => {
    const dataDir = join(parent, "data");
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { dataDir, dir: "x" },
        /unknown option "dir" for createSupCache\(\); did you mean "dataDir"\?/,
      ],
      [
        { dataDir, expireIn: 5 },
        /unknown option "expireIn" .* did you mean "ttl"\?/,
      ],
      [{ dataDir, durabilty: "full" }, /did you mean "durability"\?/],
      [
        { dataDir, limits: { maxkeys: 5 } },
        /unknown option "maxkeys" for createSupCache limits\(\); did you mean "maxKeys"\?/,
      ],
      [{ dataDir, ttl: -1 }, /options.ttl must be a positive whole number/],
      [
        { dataDir, durability: "fast" },
        /options.durability must be "normal" or "full"/,
      ],
      [
        { dataDir, sweepBatch: 0 },
        /options.sweepBatch must be a whole number of at least 1/,
      ],
      [
        { dataDir, limits: { maxKeys: -3 } },
        /limits.maxKeys must be a positive whole number/,
      ],
      [{ dataDir, driver: "postgres" }, /options.driver must be/],
      [
        { dataDir, path: join(parent, "x.db") },
        /give dataDir .* or path .*, not both/,
      ],
    ];
    for (const [options, pattern] of cases) {
      await assert.rejects(
        createSupCache(options as never),
        refuses(pattern),
        JSON.stringify(options),
      );
      // Validated first: no directory, no cache.db.
      assert.deepEqual(
        [...Deno.readDirSync(parent)],
        [],
        JSON.stringify(options),
      );
    }
    await assert.rejects(
      createSupCache("./data" as never),
      refuses(/options for createSupCache\(\) must be an object, got string/),
    );
    // And the right names work.
    await using cache = await createSupCache({ dataDir, ttl: 60_000 });
    assert.equal(cache.dataDir, dataDir);
  }));
