// The sandbox against plain Extism, same wasm, same process, interleaved
// (`deno bench -A tests/host_sandbox_bench.ts`). Compare the medians
// ("p50") of each pair; issue 9's targets are ratios of those.
// The bench plugins (plugins/bench/) are built here: bench_as.ts with
// AssemblyScript, bench.c with Debian's clang for wasm32-wasi (without
// clang the C groups are skipped).
import createPlugin from "npm:@extism/extism@2.0.0-rc13";
import { DatabaseSync } from "node:sqlite";
import { createSupCache } from "../src/cache/cache.ts";
import { loadPlugin } from "../src/host/mod.ts";
import { compileWat, frames } from "./fixtures/wat.ts";
import {
  buildBenchPlugin,
  buildBenchPluginAs,
} from "../plugins/bench/build.ts";

const dir = await Deno.makeTempDir({ prefix: "sup-sandbox-bench-" });
const cache = await createSupCache({ dataDir: dir });
const c = await buildBenchPlugin(dir);
const as = await buildBenchPluginAs();
const benchPlugins: Array<[string, Uint8Array]> = [["AS", as]];
if (c !== null) benchPlugins.push(["C", c]);

const vowels = new TextEncoder().encode(
  "The quick brown fox jumps over the lazy dog. ".repeat(23_302).slice(
    0,
    1_048_576,
  ),
);

for (const [lang, wasm] of benchPlugins) {
  const sandboxed = await loadPlugin(wasm, {
    cache,
    name: `bench-${lang}`,
    timeoutMs: 60_000,
  });
  const plain = await createPlugin({ wasm: [{ data: wasm }] }, {
    useWasi: false,
    runInWorker: false,
  });
  const cases: Array<[string, Uint8Array]> = [
    ["tight_loop", new Uint8Array(0)],
    ["nested_loops", new Uint8Array(0)],
    ["fib", new Uint8Array(0)],
    ["count_vowels", vowels],
    ["sort", new Uint8Array(0)],
    ["nothing", new Uint8Array(0)],
  ];
  for (const [fn, input] of cases) {
    Deno.bench(`${lang} ${fn}: plain Extism`, {
      group: `${lang} ${fn}`,
      baseline: true,
    }, async () => {
      await plain.call(fn, input);
    });
    Deno.bench(`${lang} ${fn}: sup sandbox`, {
      group: `${lang} ${fn}`,
    }, async () => {
      await sandboxed.call(fn, input);
    });
  }
}

if (c !== null) {
  Deno.bench("load: plain createPlugin", {
    group: "load",
    baseline: true,
  }, async () => {
    const p = await createPlugin({ wasm: [{ data: c }] }, {
      useWasi: false,
      runInWorker: false,
    });
    await p.close();
  });
  Deno.bench("load: loadPlugin, repeated (warm)", {
    group: "load",
  }, async () => {
    const p = await loadPlugin(c, { cache, name: "bench-load" });
    await p.close();
  });
}

// A cache read from inside a plugin: the binary ABI through the sandbox
// against a minimal plain-Extism host function running the same SQL.
const bridge = await compileWat("bridge");
const value = "v".repeat(100);
await cache.namespace("bench").set("k", value, { ttl: null });
const viaSandbox = await loadPlugin(bridge, {
  cache,
  name: "bench",
  hostFunctions: { noop: (_cx, h) => h },
});
const db = new DatabaseSync(`${dir}/cache.db`);
const read = db.prepare(
  `SELECT value FROM entries
   WHERE space = 0 AND ns = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`,
);
const dec = new TextDecoder();
type Cx = {
  read(h: bigint): { bytes(): Uint8Array } | null;
  store(b: Uint8Array): bigint;
};
const user: Record<string, (cx: Cx, ...a: bigint[]) => bigint | number> = {};
for (
  const i of WebAssembly.Module.imports(
    new WebAssembly.Module(bridge as Uint8Array<ArrayBuffer>),
  )
) {
  if (i.module === "extism:host/user") user[i.name] = () => 0n;
}
// A fresh reply each time: Extism adopts a whole-buffer Uint8Array as the
// block without copying it, so one reused reply buffer would make every
// reply block of a call the same memory (about 8% cheaper, and wrong for a
// plugin that keeps two replies).
user.sup_cache_get = (cx, h) => {
  const key = dec.decode(cx.read(h)!.bytes());
  const row = read.get("bench", key, Date.now()) as { value: Uint8Array };
  const reply = new Uint8Array(1 + row.value.length);
  reply[0] = 1;
  reply.set(row.value, 1);
  return cx.store(reply);
};
const plainBridge = await createPlugin({ wasm: [{ data: bridge }] }, {
  useWasi: false,
  runInWorker: false,
  functions: { "extism:host/user": user as never },
});
const input = frames("k", 1000n);
Deno.bench("cache read ×1000: minimal plain-Extism host function", {
  group: "cache read",
  baseline: true,
}, async () => {
  await plainBridge.call("bench_sup_cache_get", input);
});
Deno.bench("cache read ×1000: sup_cache_get through the sandbox", {
  group: "cache read",
}, async () => {
  await viaSandbox.call("bench_sup_cache_get", input);
});
