// Prototype of design 2 in docs/sandbox.md: the plugin in its own worker,
// with its host functions and its own SQLite connection inside the worker;
// the main thread posts a call and waits for the answer, and would stop a
// runaway plugin with terminate(). Measures what that hop costs against
// the main-thread sandbox (`deno bench -A tests/host_worker_proto_bench.ts`).
import { createSupCache } from "../src/cache/cache.ts";
import { loadPlugin } from "../src/host/mod.ts";
import { buildBenchPlugin } from "../plugins/bench/build.ts";
import { compileWat, frames } from "./fixtures/wat.ts";

const dir = await Deno.makeTempDir({ prefix: "sup-worker-proto-" });
const cache = await createSupCache({ dataDir: dir });
await cache.namespace("bench").set("k", "v".repeat(100), { ttl: null });
const c = await buildBenchPlugin(dir);
if (c === null) throw new Error("the prototype bench needs clang");

const worker = new Worker(
  new URL("./host_worker_proto_child.ts", import.meta.url),
  { type: "module" },
);
let pending: ((v: unknown) => void) | null = null;
worker.onmessage = (e) => pending?.(e.data);
const ask = (msg: unknown) =>
  new Promise((resolve) => {
    pending = resolve;
    worker.postMessage(msg);
  });
const bridge = await compileWat("bridge");
await ask({ load: c, name: "c", db: `${dir}/cache.db` });
await ask({ load: bridge, name: "bridge", db: `${dir}/cache.db` });

const main = await loadPlugin(c, { cache, name: "bench", timeoutMs: 60_000 });
const mainBridge = await loadPlugin(bridge, {
  cache,
  name: "bench",
  hostFunctions: { noop: (_cx, h) => h },
});
const empty = new Uint8Array(0);
const reads = frames("k", 1000n);
Deno.bench("cache read ×1000: main-thread sandbox", {
  group: "cache read",
  baseline: true,
}, async () => {
  await mainBridge.call("bench_sup_cache_get", reads);
});
Deno.bench("cache read ×1000: worker with its own SQLite", {
  group: "cache read",
}, async () => {
  await ask({ name: "bridge", call: "bench_sup_cache_get", input: reads });
});

for (const fn of ["nothing", "fib"]) {
  Deno.bench(`${fn}: main-thread sandbox`, {
    group: fn,
    baseline: true,
  }, async () => {
    await main.call(fn, empty);
  });
  Deno.bench(`${fn}: worker per plugin`, { group: fn }, async () => {
    await ask({ name: "c", call: fn, input: empty });
  });
}
Deno.bench("load: main-thread sandbox (warm)", {
  group: "load",
  baseline: true,
}, async () => {
  const p = await loadPlugin(c, { cache, name: "bench-load" });
  await p.close();
});
Deno.bench("load: new worker + plugin + SQLite connection", {
  group: "load",
}, async () => {
  const w = new Worker(
    new URL("./host_worker_proto_child.ts", import.meta.url),
    { type: "module" },
  );
  await new Promise((resolve) => {
    w.onmessage = resolve;
    w.postMessage({ load: c, name: "c", db: `${dir}/cache.db` });
  });
  w.terminate();
});
