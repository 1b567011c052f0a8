// Child of host_parity_test.ts, run with --allow-net=127.0.0.1 (the test
// task has no network): serves a 5,000-byte body with a header, and loads a
// plugin that fetches it under each memory.maxHttpResponseBytes and reads
// the response headers when allowed. Prints what the plugin got back.
import { fetchWat } from "../reliability/support/hostile_wat.ts";
import { compileWat } from "../fixtures/wat.ts";
import { createSupCache, loadPlugin } from "../../mod.ts";

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("x".repeat(5_000), { headers: { "x-parity": "yes" } }),
);
const url = `http://127.0.0.1:${server.addr.port}/`;
// fetchWat's module plus an export answering http_headers.
const wat = fetchWat().replace(
  `(memory (export "memory") 1)`,
  `(import "extism:host/env" "http_headers" (func $http_headers (result i64)))
  (memory (export "memory") 1)
  (func (export "headers") (result i32) (local $h i64)
    (local.set $h (call $http_headers))
    (if (i64.ne (local.get $h) (i64.const 0))
      (then (call $output_set (local.get $h) (call $length (local.get $h)))))
    (i32.const 0))`,
);
const wasm = await compileWat("fetch", wat);
await using cache = await createSupCache({ path: ":memory:" });
const request = JSON.stringify({ method: "GET", url });
const result: Record<string, string | null> = {};
for (
  const [label, options] of [
    ["under", { memory: { maxHttpResponseBytes: 10_000 } }],
    ["over", { memory: { maxHttpResponseBytes: 1_000 } }],
    ["headers", { allowHttpResponseHeaders: true }],
    ["noHeaders", {}],
  ] as const
) {
  await using plugin = await loadPlugin(wasm, {
    cache,
    name: "net",
    allowedHosts: ["127.0.0.1"],
    ...options,
  });
  const body = (await plugin.call("fetch", request))?.text() ?? null;
  result[label] = label.endsWith("eaders")
    ? (await plugin.call("headers"))?.text() ?? null
    : body === null
    ? null
    : body.length === 5_000
    ? "5000 bytes"
    : body;
}
await server.shutdown();
console.log(JSON.stringify(result));
