// Child of files_test.ts: loads the bridge plugin on a cache in a data
// directory and makes the plugin call read_file / list_directory as the
// test's plan says, printing what the plugin got back as one JSON line.
// Runs with exactly the flags the test chooses (also the narrow ones), so
// a host that hangs or dies on a hostile file is seen from outside.
import { createSupCache, loadPlugin } from "../../../mod.ts";
import { frames } from "../../fixtures/wat.ts";

/** What to do: single reads, or `rounds` reads of one path during a race. */
export interface Plan {
  reads?: string[];
  race?: { fn: "read_file" | "list_directory"; path: string; rounds: number };
}

const [dataDir, wasmPath, planJson] = Deno.args;
const plan: Plan = JSON.parse(planJson);
await using cache = await createSupCache({ dataDir, ttl: null });
const warnings: string[] = [];
await using plugin = await loadPlugin(wasmPath, {
  cache,
  name: "files",
  hostFunctions: { noop: (_cx, h) => h },
  logger: {
    debug() {},
    info() {},
    warn: (m) => warnings.push(String(m)),
    error() {},
  },
});
const out: Record<string, unknown> = { warnings };
if (plan.reads) {
  const replies: string[] = [];
  for (const path of plan.reads) {
    replies.push((await plugin.call("read_file", frames(path)))!.text());
  }
  out.replies = replies;
}
if (plan.race) {
  // Tally distinct replies so the parent can see every answer it got.
  const seen: Record<string, number> = {};
  for (let i = 0; i < plan.race.rounds; i++) {
    const reply = (await plugin.call(plan.race.fn, frames(plan.race.path)))!
      .text();
    seen[reply] = (seen[reply] ?? 0) + 1;
  }
  out.seen = seen;
}
console.log(JSON.stringify(out));
