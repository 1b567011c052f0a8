// Child of crash_test.ts: writes to a cache as fast as it can and prints an
// acknowledgement line after each write returns, until it is SIGKILLed.
// Lines: "ready", "set <key>", "begin-del <key>", "del <key>", "inc <n>",
// "begin <batch> <size>", "ack <batch>".
// The cache module, not mod.ts: mod.ts also loads the plugin host (Extism
// and binaryen, ~0.3 s and ~100 MB per start, plus --allow-env at import;
// see permissions_test.ts), which a cache-only child of 100 rounds need not pay.
import { createSupCache } from "../../../src/cache/cache.ts";
import { Rng } from "./rng.ts";
import {
  batchKeys,
  batchValueFor,
  COUNTER,
  CRASH_NS,
  valueFor,
} from "./crash_protocol.ts";

const [dataDir, mode, roundText, seedText] = Deno.args;
const round = Number(roundText);
const rng = new Rng(Number(seedText));
const enc = new TextEncoder();
// writeSync: the line is in the pipe before the next write starts, so the
// parent never sees an acknowledgement the child had not earned.
const say = (line: string) => Deno.stdout.writeSync(enc.encode(line + "\n"));

const cache = await createSupCache({ dataDir, ttl: null });
const ns = cache.namespace(CRASH_NS);
say("ready");

if (mode === "writes") {
  const live: string[] = [];
  for (let i = 0;; i++) {
    const op = rng.int(0, 9);
    if (op < 6 || live.length === 0) {
      const key = `r${round}-s${i}`;
      await ns.set(key, valueFor(key));
      live.push(key);
      say(`set ${key}`);
    } else if (op < 8) {
      say(`inc ${await ns.increment(COUNTER)}`);
    } else {
      const key = live.splice(rng.int(0, live.length - 1), 1)[0];
      say(`begin-del ${key}`);
      if (!await ns.delete(key)) throw new Error(`${key} was not there`);
      say(`del ${key}`);
    }
  }
} else if (mode === "atomic") {
  for (let batch = 0;; batch++) {
    const size = rng.int(1, 600);
    const marker = await ns.getEntry("marker");
    let op = ns.atomic().check("marker", marker?.version ?? null);
    for (const key of batchKeys(round, batch, size)) {
      op = op.set(key, batchValueFor(key));
    }
    op = op.set("marker", `${round}:${batch}`);
    say(`begin ${batch} ${size}`);
    const { ok } = await op.commit();
    if (!ok) throw new Error(`batch ${batch}: the marker check failed`);
    say(`ack ${batch}`);
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
