// sup's host functions, answer for answer (shapes of sup's Go host).
import assert from "node:assert/strict";
import { frames, GARBAGE, openHost, supCall } from "./fixtures/setup.ts";

const ok = (
  p: { call(fn: string, i: unknown): Promise<{ bytes(): Uint8Array } | null> },
) => p;

Deno.test("get_cache/set_cache: round trip, Go JSON escaping, miss and failures", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  const set = async (body: string | null | typeof GARBAGE) =>
    (await ok(p).call(
      "set_cache",
      frames(body),
    ))!.bytes()[0];

  assert.equal(
    await supCall(p, "get_cache", "k"),
    '{"success":false,"error":"key not found"}',
  );
  const tricky =
    'quote " backslash \\ newline \n tab \t <b>&amp; é 日本 \u2028 \u0001 \b \f';
  assert.equal(await set(JSON.stringify({ key: "k", value: tricky })), 0);
  assert.equal(
    await supCall(p, "get_cache", "k"),
    '{"success":true,"data":"quote \\" backslash \\\\ newline \\n tab \\t \\u003cb\\u003e\\u0026amp; é 日本 \\u2028 \\u0001 \\b \\f"}',
  );
  // The answer is JSON that parses back to the stored text.
  assert.equal(JSON.parse(await supCall(p, "get_cache", "k")).data, tricky);

  // An empty value: Go's omitempty drops "data".
  assert.equal(await set('{"key":"empty","value":""}'), 0);
  assert.equal(await supCall(p, "get_cache", "empty"), '{"success":true}');

  // Failures answer 1 and store nothing.
  const bads: Array<string | null | typeof GARBAGE> = [
    "not json",
    "[1,2]",
    "null",
    '{"value":"v"}',
    '{"key":1,"value":"v"}',
    '{"key":"x","value":5}',
    '{"key":"x"}',
    '{"key":"","value":"v"}',
    null,
    GARBAGE,
  ];
  for (const bad of bads) {
    assert.equal(await set(bad), 1, `set_cache(${String(bad)}) should fail`);
  }
  assert.equal(
    await supCall(p, "get_cache", "x"),
    '{"success":false,"error":"key not found"}',
  );
  assert.equal(
    await supCall(p, "get_cache", null),
    '{"success":false,"error":"Failed to read key"}',
  );
  assert.equal(
    await supCall(p, "get_cache", GARBAGE),
    '{"success":false,"error":"Failed to read key"}',
  );
  // An oversized key is the cache's typed error, passed on as sup's error shape.
  const long = JSON.parse(await supCall(p, "get_cache", "k".repeat(5000)));
  assert.equal(long.success, false);
  assert.match(long.error, /2,048/);
});

Deno.test("get_cache: invalid UTF-8 in a stored value becomes \\ufffd as in Go", async () => {
  await using host = await openHost();
  const p = await host.load("bridge");
  await host.cache.namespace("bridge").set(
    "raw",
    new Uint8Array([0x61, 0xff, 0xe2, 0x82, 0x62]),
  );
  assert.equal(
    await supCall(p, "get_cache", "raw"),
    '{"success":true,"data":"a\\ufffd\\ufffd\\ufffdb"}',
  );
});

Deno.test("get_store/set_store/list_store: a separate, never-expiring keyspace", async () => {
  await using host = await openHost(undefined, 1);
  const p = await host.load("bridge");
  assert.equal(await supCall(p, "list_store", ""), '{"success":true}');
  for (const k of ["user:b", "user:a", "other", 'user:"q"']) {
    assert.equal(
      (await p.call(
        "set_store",
        frames(JSON.stringify({ key: k, value: `v-${k}` })),
      ))!.bytes()[0],
      0,
    );
  }
  assert.equal(
    await supCall(p, "list_store", "user:"),
    '{"success":true,"keys":["user:\\"q\\"","user:a","user:b"]}',
  );
  assert.equal(
    await supCall(p, "get_store", "user:a"),
    '{"success":true,"data":"v-user:a"}',
  );
  // The cache (ttl 1 ms here) does not see store keys, and store keys do not expire.
  assert.equal(
    await supCall(p, "get_cache", "user:a"),
    '{"success":false,"error":"key not found"}',
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(
    await supCall(p, "get_store", "user:a"),
    '{"success":true,"data":"v-user:a"}',
  );
  assert.equal(
    await supCall(p, "get_store", "nope"),
    '{"success":false,"error":"key not found"}',
  );
  assert.equal(
    await supCall(p, "list_store", null),
    '{"success":false,"error":"failed to read prefix"}',
  );
  assert.equal((await p.call("set_store", frames("{")))!.bytes()[0], 1);
});

Deno.test("send_image and exec_command answer a clear failure unless supplied", async () => {
  await using host = await openHost();
  const warnings: string[] = [];
  const p = await host.load("bridge", {
    logger: {
      debug() {},
      info() {},
      warn: (m) => warnings.push(String(m)),
      error() {},
    },
  });
  assert.equal(
    (await p.call(
      "send_image",
      frames("{}"),
    ))!.bytes()[0],
    1,
  );
  assert.match(warnings.join("\n"), /send_image is not available/);
  const exec = await supCall(p, "exec_command", '{"command":"ls"}');
  assert.match(
    exec,
    /^\{"success":false,"exit_code":0,"error":"exec_command is not available/,
  );

  const q = await host.load("bridge", {
    file: "bridge2.wasm",
    hostFunctions: {
      send_image: () => 0,
      exec_command: (cx) =>
        cx.store('{"success":true,"stdout":"hi","exit_code":0}'),
    },
  });
  assert.equal(
    (await q.call(
      "send_image",
      frames("{}"),
    ))!.bytes()[0],
    0,
  );
  assert.equal(
    await supCall(q, "exec_command", "{}"),
    '{"success":true,"stdout":"hi","exit_code":0}',
  );
});
