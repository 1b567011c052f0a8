// Child of contention_test.ts: one of several processes sharing one data
// directory. It mixes increments of a shared counter, money transfers
// between shared accounts (atomic() with version checks, retried on
// conflict), sets and deletes of its own keys, full listings of them,
// short-lived entries and explicit sweeps, with the background sweep
// running every few milliseconds. Any error ends it with a non-zero code.
// It prints one JSON line with what it did, for the parent to check.
import { createSupCache } from "../../../src/cache/cache.ts";
import { Rng } from "./rng.ts";

const [dataDir, idText, opsText, seedText, accountsText] = Deno.args;
const id = Number(idText);
const ops = Number(opsText);
const accounts = Number(accountsText);
const rng = new Rng(Number(seedText));
const dec = new TextDecoder();

await using cache = await createSupCache({
  dataDir,
  ttl: null,
  sweepIntervalMs: 5,
  sweepBatch: 7,
});
const shared = cache.namespace("shared");
const bank = cache.namespace("bank");
const own = cache.namespace(`worker-${id}`);
// Every worker also writes under its own prefix in one common namespace, so
// listing with a prefix must not see the neighbours' keys.
const common = cache.namespace("common");
const mine = new Map<string, string>();
const counts = {
  increments: 0,
  transfers: 0,
  conflicts: 0,
  sets: 0,
  deletes: 0,
  lists: 0,
  shortLived: 0,
  sweeps: 0,
  purged: 0,
};

async function listAll(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await common.list({ prefix, limit: rng.int(1, 50), cursor });
    keys.push(...page.keys);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return keys;
}

for (let i = 0; i < ops; i++) {
  const op = rng.int(0, 99);
  if (op < 30) {
    await shared.increment("total");
    counts.increments++;
  } else if (op < 45) {
    // Move 1..5 units between two accounts; retry until the check holds.
    const a = `acct-${rng.int(0, accounts - 1)}`;
    let b = `acct-${rng.int(0, accounts - 2)}`;
    if (b === a) b = `acct-${accounts - 1}`;
    const amount = rng.int(1, 5);
    for (;;) {
      const [ea, eb] = [await bank.getEntry(a), await bank.getEntry(b)];
      if (!ea || !eb) throw new Error(`account ${a} or ${b} is missing`);
      const { ok } = await bank.atomic()
        .check(a, ea.version)
        .check(b, eb.version)
        .set(a, String(Number(dec.decode(ea.value)) - amount))
        .set(b, String(Number(dec.decode(eb.value)) + amount))
        .commit();
      if (ok) break;
      counts.conflicts++;
    }
    counts.transfers++;
  } else if (op < 65) {
    const key = `w${id}-k${rng.int(0, 199)}`;
    const value = `${id}:${i}:${"v".repeat(rng.int(0, 2000))}`;
    await common.set(key, value);
    await own.set(key, value);
    mine.set(key, value);
    counts.sets++;
  } else if (op < 75) {
    const key = `w${id}-k${rng.int(0, 199)}`;
    const expected = mine.delete(key);
    if (await common.delete(key) !== expected) {
      throw new Error(`delete(${key}) disagreed with what this worker wrote`);
    }
    await own.delete(key);
    counts.deletes++;
  } else if (op < 85) {
    const keys = await listAll(`w${id}-`);
    const want = [...mine.keys()].sort();
    if (JSON.stringify(keys) !== JSON.stringify(want)) {
      throw new Error(
        `list of w${id}- shows ${keys.length} keys, expected ${want.length}`,
      );
    }
    for (const key of keys) {
      if (dec.decode((await common.get(key))!) !== mine.get(key)) {
        throw new Error(`${key} does not hold what this worker wrote`);
      }
    }
    counts.lists++;
  } else if (op < 95) {
    await cache.namespace("ephemeral").set(`w${id}-e${i}`, "x".repeat(100), {
      ttl: rng.int(1, 20),
    });
    counts.shortLived++;
  } else {
    counts.purged += await cache.purgeExpired();
    counts.sweeps++;
  }
}
console.log(JSON.stringify({ id, counts, mine: Object.fromEntries(mine) }));
