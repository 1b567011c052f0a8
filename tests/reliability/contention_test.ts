// Contention: several real processes hammer one data directory at once.
// Totals must come out exact and no error (SQLITE_BUSY or other) may reach
// any caller.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createSupCache } from "../../mod.ts";
import {
  cacheFlags,
  integrityCheck,
  report,
  Rng,
  scale,
  SEED,
  spawnDeno,
  supportScript,
  text,
  withTempDir,
} from "./support/common.ts";

const WORKER = supportScript("contention_worker.ts");

interface WorkerResult {
  id: number;
  counts: Record<string, number>;
  mine: Record<string, string>;
}

Deno.test("processes sharing one data directory finish with exact totals and no error", () =>
  withTempDir("contention", async (dir) => {
    const workers = scale(4, 8);
    const ops = scale(3000, 20000);
    const accounts = 6;
    const perAccount = 1000;
    const rng = new Rng(SEED ^ 0x1234567);
    {
      await using cache = await createSupCache({ dataDir: dir, ttl: null });
      for (let a = 0; a < accounts; a++) {
        await cache.namespace("bank").set(`acct-${a}`, String(perAccount));
      }
    }
    const children = Array.from(
      { length: workers },
      (_, id) =>
        spawnDeno(WORKER, cacheFlags(dir), [
          dir,
          String(id),
          String(ops),
          String(rng.int(1, 2 ** 31)),
          String(accounts),
        ]).output(),
    );
    const results: WorkerResult[] = [];
    let failed = 0;
    for (const out of await Promise.all(children)) {
      const stderr = new TextDecoder().decode(out.stderr);
      if (out.code !== 0 || stderr !== "") {
        failed++;
        console.error(`worker failed (code ${out.code}): ${stderr}`);
        continue;
      }
      results.push(JSON.parse(new TextDecoder().decode(out.stdout)));
    }
    assert.equal(failed, 0, "a worker saw an error");

    assert.equal(integrityCheck(join(dir, "cache.db")), "ok");
    await using cache = await createSupCache({ dataDir: dir, ttl: null });
    const sum = (k: string) =>
      results.reduce((n, r) => n + (r.counts[k] ?? 0), 0);
    let lost = 0;
    const check = (ok: boolean, what: string) => {
      if (!ok) {
        lost++;
        console.error(what);
      }
    };

    const total = Number(text(await cache.namespace("shared").get("total")));
    check(
      total === sum("increments"),
      `total ${total}, expected ${sum("increments")}`,
    );

    let money = 0;
    for (let a = 0; a < accounts; a++) {
      money += Number(text(await cache.namespace("bank").get(`acct-${a}`)));
    }
    check(
      money === accounts * perAccount,
      `accounts hold ${money}, expected ${accounts * perAccount}`,
    );

    let keysChecked = 0;
    for (const r of results) {
      for (const nsName of ["common", `worker-${r.id}`]) {
        const ns = cache.namespace(nsName);
        const keys: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await ns.list({
            prefix: `w${r.id}-`,
            limit: 1000,
            cursor,
          });
          keys.push(...page.keys);
          cursor = page.cursor ?? undefined;
        } while (cursor !== undefined);
        check(
          JSON.stringify(keys) === JSON.stringify(Object.keys(r.mine).sort()),
          `${nsName}: worker ${r.id}'s keys differ`,
        );
        for (const [key, value] of Object.entries(r.mine)) {
          keysChecked++;
          check(
            text(await ns.get(key)) === value,
            `${nsName}/${key} lost its value`,
          );
        }
      }
    }

    // Every short-lived entry has expired by now; a sweep removes them all.
    await cache.purgeExpired();
    const left = (await cache.namespaces()).find((n) =>
      n.kind === "cache" && n.name === "ephemeral"
    );
    check(
      (left?.keys ?? 0) === 0,
      `${left?.keys} expired entries survived the sweep`,
    );

    const tried = workers * ops;
    report("contention: processes on one data directory", {
      tried,
      survived: results.length * ops,
      lost,
      processes: workers,
      increments: sum("increments"),
      transfers: sum("transfers"),
      conflictsRetried: sum("conflicts"),
      sets: sum("sets"),
      deletes: sum("deletes"),
      fullListings: sum("lists"),
      shortLived: sum("shortLived"),
      explicitSweeps: sum("sweeps"),
      keysChecked,
    });
    assert.equal(lost, 0);
  }));
