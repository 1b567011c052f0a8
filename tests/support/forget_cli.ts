/**
 * The `sup-cache forget` CLI scenario that tests/forget_test.ts (SQLite)
 * and tests/redis_forget_test.ts (`--redis`) both run: the same data and
 * the same expected output; each test then checks its own store.
 */
import assert from "node:assert/strict";
import type { SupCache } from "../../mod.ts";
import { actFor } from "../../src/cache/namespace.ts";

/** The person forgotten. */
export const ADA = "34600000001@s.whatsapp.net";
/** Someone else, whose entries stay. */
export const BOB = "34600000002@s.whatsapp.net";

/**
 * A counter entry written while acting for {@link ADA} (attributed to her)
 * and each person's settings in the store (keyed by their id).
 */
export async function seedForget(cache: SupCache): Promise<void> {
  const done = actFor([cache.namespace("counter").sync], ADA);
  await cache.namespace("counter").set("total", "1");
  done();
  await cache.store("settings").set(`settings:${ADA}`, "{}");
  await cache.store("settings").set(`settings:${BOB}`, "{}");
}

/**
 * `forget ADA --dry-run` lists both entries with their rule, then
 * `forget ADA --json` deletes them; `run` runs the CLI with the test's
 * store options and returns stdout.
 */
export async function forgetThroughCli(
  run: (...args: string[]) => Promise<string>,
): Promise<void> {
  assert.equal(
    await run("forget", ADA, "--dry-run"),
    `would delete cache "counter" "total" (sender)\n` +
      `would delete store "settings" "settings:${ADA}" (key-segment)\n` +
      `would delete 2 entries for "${ADA}" in 2 namespaces\n`,
  );
  const json = JSON.parse(await run("forget", ADA, "--json"));
  assert.equal(json.dryRun, false);
  assert.deepEqual(
    json.namespaces.map((n: { name: string }) => n.name),
    ["counter", "settings"],
  );
}
