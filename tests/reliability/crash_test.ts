// Crash safety: a real child process writing to a real cache file is killed
// with SIGKILL at random moments. Every write it acknowledged must be there
// afterwards, the file must pass PRAGMA integrity_check, and the cache must
// open normally. Atomic commits cut by the kill must be all or nothing.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createSupCache, type SupCache } from "../../mod.ts";
import {
  cacheFlags,
  completeLines,
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
import {
  batchKeys,
  batchPrefix,
  batchValueFor,
  COUNTER,
  CRASH_NS,
  valueFor,
} from "./support/crash_protocol.ts";

const CHILD = supportScript("crash_child.ts");

/**
 * Run the child in `mode` and SIGKILL it when `killWhen` says so (it sees
 * each complete line). Returns every complete line the child printed.
 */
async function killedRun(
  dir: string,
  mode: string,
  round: number,
  rng: Rng,
  killWhen: (line: string) => number | null,
): Promise<string[]> {
  const child = spawnDeno(CHILD, cacheFlags(dir), [
    dir,
    mode,
    String(round),
    String(rng.int(1, 2 ** 31)),
  ]);
  const stderr = new Response(child.stderr).text();
  const lines: string[] = [];
  let killing = false;
  const kill = () => {
    if (killing) return;
    killing = true;
    child.kill("SIGKILL");
  };
  // Some rounds kill after a random delay from spawn, which can land while
  // the child is still opening (or creating) the file.
  const early = rng.next() < 0.2
    ? setTimeout(kill, rng.int(0, 400))
    : undefined;
  for await (const line of completeLines(child.stdout)) {
    lines.push(line);
    if (killing) continue;
    const delay = killWhen(line);
    if (delay === 0) kill();
    else if (delay !== null) setTimeout(kill, delay);
  }
  clearTimeout(early);
  const status = await child.status;
  assert.equal(
    status.signal,
    "SIGKILL",
    `the child ended on its own (code ${status.code}) before the kill: ${await stderr}`,
  );
  return lines;
}

async function allKeys(cache: SupCache, prefix = ""): Promise<string[]> {
  const ns = cache.namespace(CRASH_NS);
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ns.list({ prefix, limit: 1000, cursor });
    keys.push(...page.keys);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return keys;
}

Deno.test("SIGKILL at random moments loses no acknowledged write", () =>
  withTempDir("crash", async (dir) => {
    const rounds = scale(60, 400);
    const rng = new Rng(SEED);
    const file = join(dir, "cache.db");
    // What the children acknowledged, over all rounds.
    const present = new Set<string>(); // set, not deleted
    const deleted = new Set<string>(); // delete acknowledged
    let counter = 0; // last counter value known to be stored
    let acked = 0;
    let lost = 0;
    let survived = 0;
    let extras = 0; // unacknowledged writes that landed anyway (allowed)
    for (let round = 0; round < rounds; round++) {
      const target = rng.int(0, 300);
      let seen = 0;
      const lines = await killedRun(dir, "writes", round, rng, () => {
        seen++;
        return seen > target ? rng.int(0, 3) : null;
      });
      const pendingDel = new Set<string>();
      let maxInc = 0;
      for (const line of lines) {
        const [op, arg] = line.split(" ");
        if (op === "set") present.add(arg);
        else if (op === "begin-del") pendingDel.add(arg);
        else if (op === "del") {
          pendingDel.delete(arg);
          present.delete(arg);
          deleted.add(arg);
        } else if (op === "inc") maxInc = Math.max(maxInc, Number(arg));
        if (op !== "ready" && op !== "begin-del") acked++;
      }

      assert.equal(integrityCheck(file), "ok", `round ${round}`);
      const cache = await createSupCache({ dataDir: dir, ttl: null });
      let roundLost = 0;
      try {
        const ns = cache.namespace(CRASH_NS);
        for (const key of present) {
          const value = text(await ns.get(key));
          if (value === valueFor(key)) continue;
          // A delete that was under way when the kill came may have landed.
          if (value === null && pendingDel.has(key)) {
            present.delete(key);
            continue;
          }
          roundLost++;
          console.error(`round ${round}: ${key} is ${JSON.stringify(value)}`);
        }
        for (const key of deleted) {
          if (await ns.has(key)) {
            roundLost++;
            console.error(`round ${round}: deleted ${key} is back`);
          }
        }
        // The kill may cut one increment after it committed but before its
        // acknowledgement, so the counter is the last known value or one more.
        const base = Math.max(counter, maxInc);
        const stored = Number(text(await ns.get(COUNTER)) ?? "0");
        if (stored !== base && stored !== base + 1) {
          roundLost++;
          console.error(`round ${round}: counter ${stored}, expected ${base}`);
        }
        counter = stored;
        // At most the one write in flight may exist beyond what was acked.
        const unexpected = (await allKeys(cache)).filter((k) =>
          k !== COUNTER && !present.has(k)
        );
        for (const key of unexpected) {
          const value = text(await ns.get(key));
          assert.ok(
            key.startsWith(`r${round}-s`) && value === valueFor(key),
            `round ${round}: unexpected entry ${key}`,
          );
          present.add(key);
        }
        assert.ok(unexpected.length <= 1, `round ${round}: ${unexpected}`);
        extras += unexpected.length;
      } finally {
        await cache.close();
      }
      lost += roundLost;
      if (roundLost === 0) survived++;
    }
    report("crash: SIGKILL during writes", {
      tried: rounds,
      survived,
      lost,
      acknowledged: acked,
      unacknowledgedButStored: extras,
    });
    assert.equal(lost, 0);
    assert.equal(survived, rounds);
  }));

Deno.test("SIGKILL during atomic() commits leaves each batch all or nothing", () =>
  withTempDir("crash-atomic", async (dir) => {
    const rounds = scale(60, 300);
    const rng = new Rng(SEED ^ 0x5a5a5a5a);
    const file = join(dir, "cache.db");
    let partial = 0;
    let lost = 0;
    let survived = 0;
    let cutCommitted = 0; // kill landed after "begin", commit had landed
    let cutRolledBack = 0; // kill landed after "begin", nothing of it landed
    let batchesChecked = 0;
    let previousMarker: string | null = null;
    for (let round = 0; round < rounds; round++) {
      const targetBatch = rng.int(0, 6);
      const lines = await killedRun(dir, "atomic", round, rng, (line) => {
        const [op, batch] = line.split(" ");
        // Kill a few milliseconds after a commit starts, to land inside it.
        return op === "begin" && Number(batch) === targetBatch
          ? rng.int(0, 6)
          : null;
      });
      const begun = new Map<number, number>(); // batch -> size
      const ackedBatches = new Set<number>();
      for (const line of lines) {
        const [op, a, b] = line.split(" ");
        if (op === "begin") begun.set(Number(a), Number(b));
        if (op === "ack") ackedBatches.add(Number(a));
      }

      assert.equal(integrityCheck(file), "ok", `round ${round}`);
      const cache = await createSupCache({ dataDir: dir, ttl: null });
      let roundBad = 0;
      try {
        const ns = cache.namespace(CRASH_NS);
        let lastWhole = -1;
        for (const [batch, size] of begun) {
          batchesChecked++;
          const keys = batchKeys(round, batch, size);
          const stored = await allKeys(cache, batchPrefix(round, batch));
          const whole = stored.length === size;
          if (whole) {
            for (const key of keys) {
              if (text(await ns.get(key)) !== batchValueFor(key)) {
                roundBad++;
                console.error(`round ${round}: ${key} has a wrong value`);
              }
            }
            lastWhole = batch;
          }
          if (stored.length !== 0 && !whole) {
            partial++;
            roundBad++;
            console.error(
              `round ${round} batch ${batch}: ${stored.length} of ${size} keys`,
            );
          }
          if (ackedBatches.has(batch) && !whole) {
            lost++;
            roundBad++;
          }
          if (!ackedBatches.has(batch)) {
            if (whole) cutCommitted++;
            else if (stored.length === 0) cutRolledBack++;
          }
        }
        // The marker is written in the same commit, so it names the last
        // whole batch (or the previous round's when none landed).
        const marker = text(await ns.get("marker"));
        const expected: string | null = lastWhole >= 0
          ? `${round}:${lastWhole}`
          : previousMarker;
        if (marker !== expected) {
          roundBad++;
          console.error(
            `round ${round}: marker ${marker}, expected ${expected}`,
          );
        }
        previousMarker = marker;
      } finally {
        await cache.close();
      }
      if (roundBad === 0) survived++;
    }
    report("crash: SIGKILL during atomic() commits", {
      tried: rounds,
      survived,
      lost,
      partialBatches: partial,
      batchesChecked,
      killedMidCommitCommitted: cutCommitted,
      killedMidCommitRolledBack: cutRolledBack,
    });
    assert.equal(partial, 0);
    assert.equal(lost, 0);
    assert.equal(survived, rounds);
  }));
