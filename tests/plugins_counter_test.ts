/**
 * The counter example plugin end to end: real `.wasm` built from source,
 * loaded with `loadPlugin` on a real SQLite file.
 */
import assert from "node:assert/strict";
import { createSupCache, loadPlugin, type SupCache } from "../mod.ts";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";

await buildPlugins({ only: ["counter"] });
const WASM = wasmPathOf("counter");
const ROOT = new URL("..", import.meta.url).pathname;

async function withCache(
  fn: (cache: SupCache, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sup-counter-" });
  try {
    await using cache = await createSupCache({ dataDir: dir });
    await fn(cache, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function say(
  plugin: Awaited<ReturnType<typeof loadPlugin>>,
  sender: string,
  message: string,
): Promise<string> {
  const out = await plugin.handleMessage({ message, sender });
  assert.equal(out.success, true, `failed: ${out.error}`);
  return out.reply ?? "";
}

Deno.test("counter: sup's commands and replies", async () => {
  await withCache(async (cache) => {
    await using p = await loadPlugin(WASM, { cache });
    const ada = "ada@s.whatsapp.net";
    assert.equal(await say(p, ada, ""), "Counter value: 0 (not set)");
    assert.equal(await say(p, ada, "increment"), "Counter incremented to 1");
    assert.equal(await say(p, ada, "inc"), "Counter incremented to 2");
    assert.equal(await say(p, ada, "+"), "Counter incremented to 3");
    assert.equal(await say(p, ada, "decrement"), "Counter decremented to 2");
    assert.equal(await say(p, ada, "dec"), "Counter decremented to 1");
    assert.equal(await say(p, ada, "-"), "Counter decremented to 0");
    assert.equal(await say(p, ada, "-"), "Counter decremented to 0");
    assert.equal(await say(p, ada, "show"), "Counter value: 0");
    assert.equal(await say(p, ada, "+"), "Counter incremented to 1");
    assert.equal(await say(p, ada, "reset"), "Counter reset to 0");
    assert.equal(
      await say(p, ada, "  +   beans "),
      "Counter 'beans' incremented to 1",
    );
    assert.match(
      await say(p, ada, "frobnicate"),
      /^Unknown action 'frobnicate'/,
    );
    // The default counter lives under sup's own key, readable as decimal text.
    const ns = cache.namespace("counter");
    assert.equal(
      new TextDecoder().decode((await ns.get(`counter:${ada}`))!),
      "0",
    );
    assert.equal(
      new TextDecoder().decode((await ns.get(`counter:${ada}:beans`))!),
      "1",
    );
    // reset makes the counter permanent; a fresh one has the default TTL.
    assert.equal((await ns.getEntry(`counter:${ada}`))!.expiresAt, null);
    assert.notEqual(
      (await ns.getEntry(`counter:${ada}:beans`))!.expiresAt,
      null,
    );

    assert.equal(await p.name(), "counter");
    assert.equal(await p.version(), "1.0.0");
    assert.deepEqual(await p.topics(), ["counter"]);
    const help = await p.help();
    assert.equal(help.name, "counter");
    assert.equal(help.category, "utility");
    assert.ok(help.examples.includes(".sup counter list"));
  });
});

Deno.test("counter: per-sender isolation and list", async () => {
  await withCache(async (cache) => {
    await using p = await loadPlugin(WASM, { cache });
    // "ada" is a prefix of "ada2": list must not show ada2's counters to ada.
    await say(p, "ada", "+");
    await say(p, "ada", "+");
    await say(p, "ada", "+ tea");
    await say(p, "ada2", "+");
    await say(p, "bob", "+ tea");
    await say(p, "bob", "+ tea");
    assert.equal(await say(p, "ada", "show"), "Counter value: 2");
    assert.equal(await say(p, "ada2", "show"), "Counter value: 1");
    assert.equal(await say(p, "bob", "show"), "Counter value: 0 (not set)");
    assert.equal(
      await say(p, "ada", "list"),
      "Counters:\n(default): 2\ntea: 1",
    );
    assert.equal(await say(p, "bob", "list"), "Counters:\ntea: 2");
    assert.equal(await say(p, "carol", "list"), "No counters yet");
    // More counters than one page of the host's list.
    for (let i = 0; i < 120; i++) await say(p, "dora", `+ c${i}`);
    const lines = (await say(p, "dora", "list")).split("\n");
    assert.equal(lines.length, 121);
  });
});

Deno.test("counter: values persist across a host restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-counter-" });
  try {
    {
      await using cache = await createSupCache({ dataDir: dir });
      await using p = await loadPlugin(WASM, { cache });
      for (let i = 0; i < 3; i++) await say(p, "ada", "+");
    }
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(WASM, { cache });
    assert.equal(await say(p, "ada", "show"), "Counter value: 3");
    assert.equal(await say(p, "ada", "+"), "Counter incremented to 4");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("counter: concurrent increments from several hosts give an exact total", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-counter-race-" });
  const HOSTS = 4;
  const EACH = 100;
  const script = `
    import { createSupCache, loadPlugin } from "${ROOT}mod.ts";
    const [dir, wasm, n] = Deno.args;
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(wasm, { cache });
    for (let i = 0; i < Number(n); i++) {
      const out = await p.handleMessage({ message: "+", sender: "race" });
      if (!out.success) throw new Error(out.error);
      const other = await p.handleMessage({ message: "+ other", sender: "race" });
      if (!other.success) throw new Error(other.error);
    }
  `;
  try {
    const children = Array.from(
      { length: HOSTS },
      () =>
        new Deno.Command(Deno.execPath(), {
          args: ["eval", "--ext=ts", script, dir, WASM, String(EACH)],
          cwd: ROOT,
          stdout: "piped",
          stderr: "piped",
        }).output(),
    );
    for (const out of await Promise.all(children)) {
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    await using cache = await createSupCache({ dataDir: dir });
    await using p = await loadPlugin(WASM, { cache });
    assert.equal(
      await say(p, "race", "show"),
      `Counter value: ${HOSTS * EACH}`,
    );
    assert.equal(
      await say(p, "race", "show other"),
      `Counter 'other' value: ${HOSTS * EACH}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
