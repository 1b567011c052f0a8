// Each plugin sees only its own namespace, across both ABIs and restarts.
import assert from "node:assert/strict";
import { bridge, frames, openHost, supCall } from "./fixtures/setup.ts";

Deno.test("plugins named a, a:b and b see only their own keys", async () => {
  await using host = await openHost();
  const a = await host.load("bridge", { name: "a", file: "a.wasm" });
  const ab = await host.load("bridge", { name: "a:b", file: "ab.wasm" });
  const b = await host.load("bridge", { name: "b", file: "b.wasm" });
  // sup glued "a" + ":" + key, so "a:b" could read a's "b:x"; here it cannot.
  assert.equal(
    (await a.call("set_cache", frames('{"key":"b:x","value":"from a"}')))!
      .bytes()[0],
    0,
  );
  assert.equal(
    (await bridge(ab, "sup_cache_set", "x", "from a:b", -1n)).status,
    1,
  );
  assert.equal(
    await supCall(ab, "get_cache", "x"),
    '{"success":true,"data":"from a:b"}',
  );
  assert.equal(
    await supCall(ab, "get_cache", "b:x"),
    '{"success":false,"error":"key not found"}',
  );
  assert.equal(
    await supCall(a, "get_cache", "x"),
    '{"success":false,"error":"key not found"}',
  );
  assert.equal((await bridge(b, "sup_cache_get", "x")).status, 0);
  assert.deepEqual(
    JSON.parse((await bridge(a, "sup_cache_list", "", 0n, null)).text).keys,
    ["b:x"],
  );
  assert.deepEqual(
    JSON.parse((await bridge(ab, "sup_cache_list", "", 0n, null)).text).keys,
    ["x"],
  );
  // Deleting and storing in one does not touch the other.
  assert.equal((await bridge(b, "sup_cache_delete", "b:x")).status, 0);
  assert.equal(
    (await a.call("set_store", frames('{"key":"s","value":"a"}')))!.bytes()[0],
    0,
  );
  assert.equal(await supCall(ab, "list_store", ""), '{"success":true}');
  assert.equal(
    await supCall(a, "list_store", ""),
    '{"success":true,"keys":["s"]}',
  );
  // The namespace is the plugin name as given, and the file name by default.
  assert.equal(a.namespace, "a");
  assert.equal(ab.namespace, "a:b");
  assert.equal(
    (await host.load("bridge", { file: "counter.wasm" })).namespace,
    "counter",
  );
});

Deno.test("values persist across a host restart on the same data directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-host-" });
  {
    await using host = await openHost(dir);
    const p = await host.load("bridge", { name: "keeper" });
    await bridge(p, "sup_cache_set", "bin", new Uint8Array([1, 2, 255]), -1n);
    await p.call("set_store", frames('{"key":"s","value":"stored"}'));
    await bridge(p, "sup_cache_increment", "n", 7n);
  }
  {
    await using host = await openHost(dir);
    const p = await host.load("bridge", { name: "keeper" });
    assert.deepEqual(
      (await bridge(p, "sup_cache_get", "bin")).bytes,
      new Uint8Array([1, 2, 255]),
    );
    assert.equal(
      await supCall(p, "get_store", "s"),
      '{"success":true,"data":"stored"}',
    );
    assert.equal((await bridge(p, "sup_cache_increment", "n", 1n)).text, "8");
  }
});

Deno.test("a failing plugin does not disturb another plugin or stored data", async () => {
  await using host = await openHost();
  const good = await host.load("bridge", { name: "good", file: "good.wasm" });
  const bad = await host.load("bridge", {
    name: "bad",
    file: "bad.wasm",
    timeoutMs: 200,
  });
  await bridge(good, "sup_cache_set", "k", "safe", -1n);
  await bridge(bad, "sup_cache_set", "k", "bad's", -1n);
  await assert.rejects(bad.call("trap"));
  await assert.rejects(bad.call("spin"));
  await assert.rejects(bad.call("alloc_bomb"));
  assert.equal((await bridge(good, "sup_cache_get", "k")).text, "safe");
  assert.equal((await bridge(bad, "sup_cache_get", "k")).text, "bad's");
});
