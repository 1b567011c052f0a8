// The binary-safe ABI: status byte + payload, errors distinct from misses.
import assert from "node:assert/strict";
import { bridge, GARBAGE, openHost } from "./fixtures/setup.ts";
import { ERROR, MISS, OK } from "../src/host/mod.ts";

Deno.test("sup_cache_*: raw bytes in and out, miss vs error", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  const raw = new Uint8Array([0, 255, 10, 34, 92, 0xc3]);
  assert.deepEqual(await bridge(p, "sup_cache_get", "k"), {
    status: MISS,
    bytes: new Uint8Array(),
    text: "",
  });
  assert.equal((await bridge(p, "sup_cache_set", "k", raw, 0n)).status, OK);
  const hit = await bridge(p, "sup_cache_get", "k");
  assert.equal(hit.status, OK);
  assert.deepEqual(hit.bytes, raw);
  // An empty value is a value.
  assert.equal(
    (await bridge(p, "sup_cache_set", "empty", new Uint8Array(), -1n)).status,
    OK,
  );
  assert.deepEqual(await bridge(p, "sup_cache_get", "empty"), {
    status: OK,
    bytes: new Uint8Array(),
    text: "",
  });
  assert.equal((await bridge(p, "sup_cache_has", "k")).status, OK);
  assert.equal((await bridge(p, "sup_cache_has", "nope")).status, MISS);
  assert.equal((await bridge(p, "sup_cache_delete", "k")).status, OK);
  assert.equal((await bridge(p, "sup_cache_delete", "k")).status, MISS);
  assert.equal((await bridge(p, "sup_cache_get", "k")).status, MISS);

  // Errors: status 2 with a message naming the function.
  const cases: Array<[string, Parameters<typeof bridge>]> = [
    ["key handle 0x0 is not a live", [p, "sup_cache_get", null]],
    ["key handle 0x7fff000000000001 is not a live", [
      p,
      "sup_cache_get",
      GARBAGE,
    ]],
    ["key is not valid UTF-8", [p, "sup_cache_get", new Uint8Array([0xff])]],
    ["ttl_ms -2 is invalid", [p, "sup_cache_set", "k", "v", -2n]],
    ["value handle", [p, "sup_cache_set", "k", GARBAGE, 0n]],
    ["2,048", [p, "sup_cache_set", "x".repeat(3000), "v", 0n]],
    ["limit -1 is negative", [p, "sup_cache_list", "", -1n, null]],
    ["outside the safe integer range", [
      p,
      "sup_cache_increment",
      "n",
      1n << 62n,
    ]],
  ];
  for (const [expected, args] of cases) {
    const r = await bridge(...args);
    assert.equal(r.status, ERROR, expected);
    assert.ok(r.text.startsWith(`${args[1]}: `), r.text);
    assert.ok(
      r.text.includes(expected),
      `${r.text} should mention ${expected}`,
    );
  }
  // Empty key is the cache's InvalidInputError, as an error reply.
  assert.equal((await bridge(p, "sup_cache_get", "")).status, ERROR);
});

Deno.test("sup_cache_set: per-item TTL seen from inside the plugin", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  assert.equal(
    (await bridge(p, "sup_cache_set", "short", "v", 30n)).status,
    OK,
  );
  assert.equal(
    (await bridge(p, "sup_cache_set", "forever", "v", -1n)).status,
    OK,
  );
  assert.equal(
    (await bridge(p, "sup_cache_set", "default", "v", 0n)).status,
    OK,
  );
  const entry = await host.cache.namespace("bridge").getEntry("default");
  assert.ok(
    entry?.expiresAt && entry.expiresAt > Date.now() + 3_000_000,
    "default TTL is the cache's hour",
  );
  assert.equal(
    (await host.cache.namespace("bridge").getEntry("forever"))?.expiresAt,
    null,
  );
  // Poll rather than assume timing: the key must vanish, and not come back.
  while ((await bridge(p, "sup_cache_get", "short")).status === OK) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal((await bridge(p, "sup_cache_has", "short")).status, MISS);
  assert.equal((await bridge(p, "sup_cache_get", "forever")).status, OK);
});

Deno.test("sup_cache_list: JSON page with escaping, limit and cursor", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  const keys = [
    'q"uote',
    "back\\slash",
    "new\nline",
    "日本",
    "p:1",
    "p:2",
    "p:3",
    "p%_",
  ];
  for (const k of keys) {
    assert.equal((await bridge(p, "sup_cache_set", k, "v", 0n)).status, OK);
  }
  const page1 = await bridge(p, "sup_cache_list", "p:", 2n, null);
  assert.equal(page1.status, OK);
  const j1 = JSON.parse(page1.text);
  assert.deepEqual(j1.keys, ["p:1", "p:2"]);
  assert.equal(typeof j1.cursor, "string");
  const j2 = JSON.parse(
    (await bridge(p, "sup_cache_list", "p:", 2n, j1.cursor)).text,
  );
  assert.deepEqual(j2, { keys: ["p:3"], cursor: null });
  const all = JSON.parse(
    (await bridge(p, "sup_cache_list", "", 0n, null)).text,
  );
  assert.deepEqual(all.keys.toSorted(), keys.toSorted());
  assert.equal(all.cursor, null);
  // The raw payload escapes quotes, backslashes and newlines; non-ASCII stays UTF-8.
  const text = (await bridge(p, "sup_cache_list", "", 0n, null)).text;
  assert.ok(text.includes('"q\\"uote"'), text);
  assert.ok(
    text.includes('"back\\\\slash"') && text.includes('"new\\nline"') &&
      text.includes('"日本"'),
  );
  // "%" and "_" are literal.
  assert.deepEqual(
    JSON.parse((await bridge(p, "sup_cache_list", "p%", 0n, null)).text).keys,
    ["p%_"],
  );
  assert.equal(
    (await bridge(p, "sup_cache_list", "", 0n, "garbage-cursor")).status,
    ERROR,
  );
});

Deno.test("sup_cache_increment: decimal text, error on non-integers (value untouched)", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  assert.deepEqual((await bridge(p, "sup_cache_increment", "n", 1n)).text, "1");
  assert.deepEqual(
    (await bridge(p, "sup_cache_increment", "n", 41n)).text,
    "42",
  );
  assert.deepEqual(
    (await bridge(p, "sup_cache_increment", "n", -50n)).text,
    "-8",
  );
  assert.equal((await bridge(p, "sup_cache_get", "n")).text, "-8");
  await bridge(p, "sup_cache_set", "word", "ada", 0n);
  const r = await bridge(p, "sup_cache_increment", "word", 1n);
  assert.equal(r.status, ERROR);
  assert.match(r.text, /^sup_cache_increment: /);
  assert.equal((await bridge(p, "sup_cache_get", "word")).text, "ada");
});

Deno.test("sup_store_*: same operations on the never-expiring store, separate from the cache", async () => {
  await using host = await openHost(undefined, 1);
  const p = await host.load("bridge");
  assert.equal(
    (await bridge(p, "sup_store_set", "k", "store-value")).status,
    OK,
  );
  assert.equal(
    (await bridge(p, "sup_cache_set", "k", "cache-value", 0n)).status,
    OK,
  );
  await new Promise((r) => setTimeout(r, 20)); // the cache's default ttl is 1 ms here
  assert.equal((await bridge(p, "sup_store_get", "k")).text, "store-value");
  assert.equal((await bridge(p, "sup_cache_get", "k")).status, MISS);
  assert.deepEqual(
    JSON.parse((await bridge(p, "sup_store_list", "", 0n, null)).text),
    { keys: ["k"], cursor: null },
  );
  assert.equal((await bridge(p, "sup_store_delete", "k")).status, OK);
  assert.equal((await bridge(p, "sup_store_delete", "k")).status, MISS);
  assert.equal((await bridge(p, "sup_store_get", GARBAGE)).status, ERROR);
  assert.equal((await bridge(p, "sup_store_set", "k", null)).status, ERROR);
});
