// Timeouts, traps, memory caps, garbage handles, WASI, and the plugin lifecycle.
import assert from "node:assert/strict";
import { bridge, frames, openHost } from "./fixtures/setup.ts";
import {
  loadPlugin,
  PluginError,
  PluginLoadError,
  PluginMemoryError,
  PluginTimeoutError,
} from "../src/host/mod.ts";
import { ClosedError } from "../src/errors.ts";
import { compileWat } from "./fixtures/wat.ts";

Deno.test("an infinite loop is stopped with PluginTimeoutError; the plugin keeps working", async () => {
  await using host = await openHost();
  const p = await host.load("bridge", { name: "looper", timeoutMs: 100 });
  const err = await p.call("spin").catch((e) => e);
  assert.ok(err instanceof PluginTimeoutError, String(err));
  assert.equal(err.plugin, "looper");
  assert.equal(err.fn, "spin");
  assert.match(err.message, /"looper".*"spin".*100 ms/);
  assert.equal((await bridge(p, "sup_cache_set", "k", "v", 0n)).status, 1);
  assert.equal((await bridge(p, "sup_cache_get", "k")).text, "v");
});

Deno.test("traps, bad output handles and plugin-reported errors are PluginErrors", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  // A memory.grow past the cap is the typed memory error (a PluginError).
  const grow = await p.call("grow").catch((e) => e);
  assert.ok(grow instanceof PluginMemoryError, String(grow));
  assert.match(grow.message, /"bridge", function "grow": .*the limit is/);
  for (const fn of ["trap", "bad_output"]) {
    const err = await p.call(fn).catch((e) => e);
    assert.ok(err instanceof PluginError, `${fn}: ${err}`);
    assert.match(
      err.message,
      new RegExp(`"bridge", function "${fn}": the plugin trapped`),
    );
  }
  const reported = await p.call("fail", frames("it broke")).catch((e) => e);
  assert.ok(reported instanceof PluginError);
  assert.match(reported.message, /reported an error: it broke/);
  const missing = await p.call("no_such_export").catch((e) => e);
  assert.ok(missing instanceof PluginError);
  assert.match(missing.message, /exports no such function/);
  assert.equal(
    (await p.call("echo", frames("still alive")))!.text(),
    "still alive",
  );
});

Deno.test("memory: huge Extism allocations and memory.grow hit the cap", async () => {
  await using host = await openHost();
  const p = await host.load("bridge", { maxMemoryBytes: 8 * 1_048_576 });
  const err = await p.call("alloc_bomb").catch((e) => e);
  assert.ok(err instanceof PluginMemoryError, String(err));
  assert.equal(err.limit, 8 * 1_048_576);
  assert.ok((await p.call("grow").catch((e) => e)) instanceof PluginError);
  // A plugin whose initial memory exceeds the cap does not load.
  const big = await compileWat(
    "big",
    '(module (memory (export "memory") 200))',
  );
  await assert.rejects(
    loadPlugin(big, {
      cache: host.cache,
      name: "big",
      maxMemoryBytes: 1_048_576,
    }),
    (e) => e instanceof PluginLoadError && /200 pages/.test(e.message),
  );
});

Deno.test("100,000 consecutive calls of one plugin", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  const input = frames("x");
  for (let i = 0; i < 100_000; i++) {
    const out = await p.call("echo", input);
    if (out?.bytes().length !== 1) {
      assert.fail(`call ${i} returned ${out?.bytes().length} bytes`);
    }
  }
  assert.equal((await bridge(p, "sup_cache_increment", "n", 1n)).text, "1");
});

Deno.test("a WASI plugin gets exactly the variables it names, from options.env or Deno.env", async () => {
  await using host = await openHost();
  const p = await host.load("wasi", {
    env: { SUP_TEST_GREETING: "hola", OTHER: "hidden" },
  });
  assert.equal((await p.call("show_env"))!.text(), "SUP_TEST_GREETING=hola\0");
  await p.call("say"); // fd_write goes to /dev/null
  const none = await host.load("wasi", { file: "wasi2.wasm", env: {} });
  assert.equal((await none.call("show_env"))!.text(), "");
  Deno.env.set("SUP_TEST_GREETING", "from process");
  const proc = await host.load("wasi", { file: "wasi3.wasm" });
  assert.equal(
    (await proc.call("show_env"))!.text(),
    "SUP_TEST_GREETING=from process\0",
  );
  Deno.env.delete("SUP_TEST_GREETING");
  await assert.rejects(
    host.load("wasi", { file: "wasi4.wasm", wasi: false }),
    (e) => e instanceof PluginLoadError && /WASI/.test(e.message),
  );
});

Deno.test("sup conveniences: handleMessage, help, name, version, topics and their fallbacks", async () => {
  await using host = await openHost();
  const ping = await host.load("ping");
  assert.deepEqual(
    await ping.handleMessage({ message: "hi", sender: "ada@s.whatsapp.net" }),
    {
      success: true,
      reply: "pong",
    },
  );
  assert.deepEqual(await ping.help(), {
    name: "ping",
    description: "answers pong",
    usage: ".sup ping",
    examples: [".sup ping"],
    category: "plugin",
  });
  assert.equal(await ping.name(), "Ping");
  assert.equal(await ping.version(), "1.2.3");
  assert.deepEqual(await ping.topics(), ["ping", "pong"]);
  assert.ok(ping.functionExists("handle_message"));

  const bare = await host.load("bare", { name: "bare" });
  assert.equal(bare.functionExists("handle_message"), false);
  assert.equal(await bare.name(), "bare");
  assert.equal(await bare.version(), "unknown");
  assert.deepEqual(await bare.topics(), ["bare"]);
  assert.equal(
    (await bare.help()).description,
    "WASM plugin (help not available)",
  );
  await assert.rejects(
    bare.handleMessage({ message: "x", sender: "y" }),
    PluginError,
  );
});

Deno.test("close: idempotent, calls after close fail, await using, owned cache closed", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  await p.close();
  await p.close();
  await assert.rejects(p.call("nothing"), ClosedError);
  {
    await using q = await host.load("bridge", { file: "q.wasm" });
    await q.call("nothing");
  }
  // Without options.cache, loadPlugin opens the default data dir and closes it with the plugin.
  const dir = await Deno.makeTempDir({ prefix: "sup-default-" });
  Deno.env.set("SUP_DATA_DIR", dir);
  try {
    const own = await loadPlugin(await compileWat("bridge"), {
      name: "own",
      hostFunctions: { noop: (_cx, h) => h },
    });
    await bridge(own, "sup_cache_set", "k", "v", -1n);
    await own.close();
    await using again = await openHost(dir);
    assert.equal(
      new TextDecoder().decode((await again.cache.namespace("own").get("k"))!),
      "v",
    );
  } finally {
    Deno.env.delete("SUP_DATA_DIR");
  }
});

Deno.test("load errors are typed and name the plugin", async () => {
  await using host = await openHost();
  await assert.rejects(
    loadPlugin(`${host.dir}/missing.wasm`, { cache: host.cache }),
    (e) =>
      e instanceof PluginLoadError && /missing/.test(e.message) &&
      /no such file/.test(e.message),
  );
  await assert.rejects(
    loadPlugin(new Uint8Array([1, 2, 3]), { cache: host.cache, name: "junk" }),
    (e) => e instanceof PluginLoadError && /"junk"/.test(e.message),
  );
  await assert.rejects(
    loadPlugin(await compileWat("bare"), { cache: host.cache }),
    (e) => e instanceof PluginLoadError && /options.name/.test(e.message),
  );
  const needsHost = await compileWat(
    "needs",
    '(module (import "extism:host/user" "mystery" (func)) (memory (export "memory") 1))',
  );
  await assert.rejects(
    loadPlugin(needsHost, { cache: host.cache, name: "needs" }),
    (e) => e instanceof PluginLoadError && /mystery/.test(e.message),
  );
});

Deno.test("Extism vars survive the fresh instance a failed call gets", async () => {
  await using host = await openHost();
  const { ATTACKS: _a, attackModule } = await import(
    "./reliability/sandbox_attacks.ts"
  );
  const p = await loadPlugin(await attackModule("attack"), {
    cache: host.cache,
    name: "vars",
    timeoutMs: 200,
    hostFunctions: { slow: () => {} },
  });
  try {
    await p.call("var_put", "kept");
    assert.ok((await p.call("trap").catch((e) => e)) instanceof PluginError);
    assert.equal((await p.call("var_show"))!.text(), "kept");
    // And after a timeout (the plugin even catches the host's exception).
    await p.call("var_put", "still kept");
    assert.ok(
      (await p.call("catch_loop").catch((e) => e)) instanceof
        PluginTimeoutError,
    );
    assert.equal((await p.call("var_show"))!.text(), "still kept");
  } finally {
    await p.close();
  }
});

Deno.test("loadPlugin refuses unknown options, naming the closest known one", async () => {
  await using host = await openHost();
  await assert.rejects(
    loadPlugin(await compileWat("bare"), {
      cache: host.cache,
      name: "bare",
      timeout: 5,
    } as Record<string, unknown>),
    /unknown option "timeout" for loadPlugin\(\); did you mean "timeoutMs"\?/,
  );
});
