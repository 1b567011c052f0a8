// Child of sandbox_attacks_test.ts: runs one attack (named in Deno.args) in
// its own process and prints one JSON line with what happened. A hang or a
// crash here fails one test instead of taking the test runner down.
import { createSupCache, loadPlugin } from "../../mod.ts";
import { compileWat, frames } from "../fixtures/wat.ts";
import { attackModule, ATTACKS } from "./sandbox_attacks.ts";

const [dataDir, name] = Deno.args;
const attack = ATTACKS[name];
const cache = await createSupCache({ dataDir, ttl: null });
for (let i = 0; i < 10; i++) {
  await cache.namespace("attacker").set(`seed-${i}`, `v${i}`);
}
const bytes = await attackModule(attack.module);
const neighbour = await loadPlugin(await compileWat("bridge"), {
  cache,
  name: "neighbour",
  hostFunctions: { noop: (_cx, h) => h },
});
const rssBefore = Deno.memoryUsage().rss;
const result: Record<string, unknown> = { name };
const started = performance.now();
try {
  await using plugin = await loadPlugin(bytes, {
    cache,
    name: "attacker",
    timeoutMs: attack.timeoutMs,
    maxMemoryBytes: attack.maxMemoryBytes,
    hostFunctions: {
      slow: async () => {
        await new Promise((r) => setTimeout(r, 3000));
      },
    },
  });
  const callStarted = performance.now();
  try {
    await plugin.call(attack.fn);
    result.outcome = "returned";
  } catch (err) {
    result.outcome = (err as Error).constructor.name;
    result.message = (err as Error).message;
  }
  result.elapsedMs = performance.now() - callStarted;
  // The same plugin serves the next call, on a fresh instance if needed.
  result.after = (await plugin.call("ok"))!.text();
} catch (err) {
  result.outcome = (err as Error).constructor.name;
  result.message = (err as Error).message;
  result.elapsedMs = performance.now() - started;
}
result.rssGrowth = Deno.memoryUsage().rss - rssBefore;
const echo = await neighbour.call("echo", frames("alive"));
result.neighbour = echo!.text();
let kept = 0;
for (let i = 0; i < 10; i++) {
  const v = await cache.namespace("attacker").get(`seed-${i}`);
  if (v !== null && new TextDecoder().decode(v) === `v${i}`) kept++;
}
result.kept = kept;
await neighbour.close();
await cache.close();
console.log(JSON.stringify(result));
