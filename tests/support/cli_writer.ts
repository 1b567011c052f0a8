/**
 * A plugin-like writer for backup tests, run as its own process:
 * `deno run ... cli_writer.ts <dataDir> write` commits batches that set keys
 * k0..k49 of namespace "w" all to the same round number, one `atomic()`
 * each, until killed, printing "ready" after the first; a consistent
 * snapshot therefore holds 50 equal values. `hold` opens the cache, prints
 * "ready" and keeps it open until stdin closes.
 */
import { createSupCache } from "../../mod.ts";

const [dataDir, mode] = Deno.args;
const cache = await createSupCache({ dataDir, sweepIntervalMs: 0 });
const ns = cache.namespace("w");
if (mode === "hold") {
  await ns.set("held", "1");
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
  await cache.close();
} else {
  for (let round = 1;; round++) {
    const op = ns.atomic();
    for (let i = 0; i < 50; i++) op.set(`k${i}`, String(round), { ttl: null });
    await op.commit();
    if (round === 1) console.log("ready");
  }
}
