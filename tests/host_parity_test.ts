// Parity with Extism's JS SDK (issue 13): linked modules, host functions
// under any import module, manifest memory and timeout options, log
// levels, and the SDK's plugin and result API, each on plugins written
// here as WebAssembly text.
import assert from "node:assert/strict";
import { createSupCache } from "../src/cache/cache.ts";
import {
  type HostCallContext,
  loadPlugin,
  type LoadPluginOptions,
  PluginLoadError,
  PluginMemoryError,
  PluginTimeoutError,
} from "../src/host/mod.ts";
import { compileWat } from "./fixtures/wat.ts";
import { frames, openHost } from "./fixtures/setup.ts";

const ENV = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))`;

/** Output one byte. */
const BYTE_OUT = `
  (func $byte (param $v i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (local.get $v))
    (call $output_set (local.get $h) (i64.const 1)))`;

/** A library module: its own memory, arithmetic, growth and a loop. */
const LIB = `(module
  (memory 1)
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "spin") (loop $forever (br $forever))))`;

/** The entry module, importing the library as `lib`. */
const MAIN = `(module ${ENV}
  (import "lib" "add" (func $add (param i32 i32) (result i32)))
  (import "lib" "grow" (func $lib_grow (param i32) (result i32)))
  (import "lib" "spin" (func $lib_spin))
  (memory (export "memory") 1)
  ${BYTE_OUT}
  (func (export "run") (result i32)
    (call $byte (call $add (i32.const 20) (i32.const 22))) (i32.const 0))
  (func (export "lib_grow") (result i32)
    (call $byte (i32.ne (call $lib_grow (i32.wrap_i64 (call $input_length))) (i32.const -1)))
    (i32.const 0))
  (func (export "main_grow") (result i32)
    (call $byte (i32.ne (memory.grow (i32.wrap_i64 (call $input_length))) (i32.const -1)))
    (i32.const 0))
  (func (export "lib_spin") (result i32) (call $lib_spin) (i32.const 0)))`;

async function withCache<T>(
  fn: (options: LoadPluginOptions) => Promise<T>,
): Promise<T> {
  await using cache = await createSupCache({ path: ":memory:" });
  return await fn({ cache, name: "parity" });
}

Deno.test("linked modules: the entry imports a library by name, as Extism links them", async () => {
  const lib = await compileWat("lib", LIB);
  const main = await compileWat("main", MAIN);
  await withCache(async (base) => {
    // The unnamed last module is the entry.
    await using p = await loadPlugin(
      { wasm: [{ name: "lib", data: lib }, { data: main }] },
      base,
    );
    assert.deepEqual([...(await p.call("run"))!.bytes()], [42]);
    // A module named "main" is the entry wherever it stands.
    await using q = await loadPlugin(
      { wasm: [{ name: "main", data: main }, { name: "lib", data: lib }] },
      base,
    );
    assert.deepEqual([...(await q.call("run"))!.bytes()], [42]);
    assert.ok(q.functionExists("run") && !q.functionExists("add"));
  });
});

Deno.test("linked modules: one memory cap over every module, and the deadline holds inside a library", async () => {
  const lib = await compileWat("lib", LIB);
  const main = await compileWat("main", MAIN);
  await withCache(async (base) => {
    await using p = await loadPlugin(
      { wasm: [{ name: "lib", data: lib }, { data: main }] },
      { ...base, maxMemoryBytes: 64 * 65_536, timeoutMs: 200 },
    );
    // 2 pages held; the library grows 40, after which the entry cannot grow 40.
    assert.deepEqual([...(await p.call("lib_grow", "x".repeat(40)))!.bytes()], [
      1,
    ]);
    const err = await p.call("main_grow", "x".repeat(40)).catch((e) => e);
    assert.ok(err instanceof PluginMemoryError, String(err));
    // The library alone cannot pass the cap either (fresh instance: 2 pages).
    const libErr = await p.call("lib_grow", "x".repeat(63)).catch((e) => e);
    assert.ok(libErr instanceof PluginMemoryError, String(libErr));
    const spin = await p.call("lib_spin").catch((e) => e);
    assert.ok(spin instanceof PluginTimeoutError, String(spin));
    assert.deepEqual([...(await p.call("run"))!.bytes()], [42]);
  });
});

Deno.test("linked modules: refusals name the problem", async () => {
  const lib = await compileWat("lib", LIB);
  const main = await compileWat("main", MAIN);
  const bigLib = await compileWat("big", `(module (memory 100))`);
  const command = await compileWat(
    "cmd",
    `(module (memory 1) (func (export "_start"))
      (func (export "add") (param i32 i32) (result i32) (local.get 0)))`,
  );
  await withCache(async (base) => {
    const refused = async (source: unknown, pattern: RegExp) => {
      const err = await loadPlugin(source as Uint8Array, {
        ...base,
        maxMemoryBytes: 64 * 65_536,
      }).catch((e) => e);
      assert.ok(err instanceof PluginLoadError, String(err));
      assert.match(err.message, pattern);
    };
    await refused(
      { wasm: [{ name: "a", data: lib }, { name: "b", data: main }] },
      /name one of them "main"/,
    );
    await refused(
      { wasm: [{ name: "lib", data: bigLib }, { data: main }] },
      /module "lib": .*pages|more than maxMemoryBytes/,
    );
    await refused(
      { wasm: [{ name: "lib", data: command }, { data: main }] },
      /module "lib": a linked module exports _start/,
    );
    // Attack: a module named like the sandbox's hooks would answer its
    // own tick (never stop) and grow (never count).
    const fakeHooks = await compileWat(
      "hooks",
      `(module (func (export "tick") (result i32) (i32.const 0))
        (func (export "grow") (param i32) (result i32) (local.get 0)))`,
    );
    for (const name of ["sup:host/sandbox", "extism:host/env"]) {
      await refused(
        { wasm: [{ name, data: fakeHooks }, { data: main }] },
        /is an import module the host provides/,
      );
    }
    await refused(
      { wasm: [{ data: main }] },
      /imports function "add" from "lib", which nothing provides; pass it in loadPlugin's hostFunctions/,
    );
  });
});

const USER = `(module ${ENV}
  (import "user" "greet" (func $greet (param i64) (result i64)))
  (import "host" "wait" (func $wait))
  (memory (export "memory") 1)
  (func (export "hello") (result i32) (local $h i64)
    (local.set $h (call $greet (call $alloc (i64.const 3))))
    (call $output_set (local.get $h) (call $length (local.get $h)))
    (i32.const 0))
  (func (export "wait") (result i32) (call $wait) (i32.const 0)))`;

Deno.test("host functions under other import modules, in the JS SDK's shape", async () => {
  const wasm = await compileWat("user", USER);
  await withCache(async (base) => {
    const greet = (cx: HostCallContext, h: bigint) =>
      cx.store(`hello, ${cx.read(h)!.bytes().length} bytes`);
    await using p = await loadPlugin(wasm, {
      ...base,
      timeoutMs: 200,
      hostFunctions: {
        user: { greet },
        host: { wait: async () => await new Promise(() => {}) },
      },
    });
    assert.equal((await p.call("hello"))!.text(), "hello, 3 bytes");
    // An async function under any module still ends by the deadline.
    const err = await p.call("wait").catch((e) => e);
    assert.ok(err instanceof PluginTimeoutError, String(err));
    assert.equal((await p.call("hello"))!.text(), "hello, 3 bytes");

    const missing = await loadPlugin(wasm, {
      ...base,
      hostFunctions: { user: { greet } },
    }).catch((e) => e);
    assert.ok(missing instanceof PluginLoadError, String(missing));
    assert.match(
      missing.message,
      /imports function "wait" from "host", which nothing provides; pass it in loadPlugin's hostFunctions option: \{ hostFunctions: \{ "host": \{ "wait"/,
    );
    for (const module of ["extism:host/env", "sup:host/sandbox"]) {
      const reserved = await loadPlugin(wasm, {
        ...base,
        hostFunctions: { [module]: { alloc: () => 0n } },
      }).catch((e) => e);
      assert.ok(reserved instanceof PluginLoadError, String(reserved));
      assert.match(reserved.message, /may not supply/);
    }
  });
});

const VARS = `(module ${ENV}
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "log_debug" (func $log_debug (param i64)))
  (import "extism:host/env" "log_trace" (func $log_trace (param i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (memory (export "memory") 1)
  ${BYTE_OUT}
  ;; a var "k" holding input_length zero bytes
  (func (export "set_var") (result i32) (local $k i64)
    (local.set $k (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $k) (i32.const 107))
    (call $var_set (local.get $k) (call $alloc (call $input_length)))
    (i32.const 0))
  ;; 1 when an Extism block of input_length bytes was refused (handle 0)
  (func (export "big_block") (result i32)
    (call $byte (i64.eqz (call $alloc (call $input_length))))
    (i32.const 0))
  (func $line (param $c i32) (result i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (local.get $c))
    (local.get $h))
  (func (export "log") (result i32)
    (call $log_trace (call $line (i32.const 116)))
    (call $log_debug (call $line (i32.const 100)))
    (call $log_info (call $line (i32.const 105)))
    (i32.const 0))
  (func (export "spin") (result i32) (loop $forever (br $forever)) (i32.const 0)))`;

Deno.test("manifest memory: maxVarBytes and maxPages hold as in the SDK; option beats manifest", async () => {
  const data = await compileWat("vars", VARS);
  await withCache(async (base) => {
    await using p = await loadPlugin(
      { wasm: [{ data }], memory: { maxVarBytes: 100, max_pages: 1 } } as never,
      base,
    );
    assert.equal(await p.call("set_var", "x".repeat(100)), null);
    const err = await p.call("set_var", "x".repeat(101)).catch((e) => e);
    assert.ok(err instanceof PluginMemoryError, String(err));
    assert.match(
      err.message,
      /101 bytes in vars \(memory\.maxVarBytes\); the limit is 100/,
    );
    // One page of Extism blocks: a 100 KB block is refused (handle 0).
    assert.deepEqual([
      ...(await p.call("big_block", "x".repeat(100_000)))!.bytes(),
    ], [1]);
    assert.deepEqual([
      ...(await p.call("big_block", "x".repeat(1_000)))!.bytes(),
    ], [0]);

    await using q = await loadPlugin(
      { wasm: [{ data }], memory: { maxVarBytes: 100 } },
      { ...base, memory: { maxVarBytes: 1_000 } },
    );
    assert.equal(await q.call("set_var", "x".repeat(500)), null);
    assert.deepEqual([
      ...(await q.call("big_block", "x".repeat(100_000)))!.bytes(),
    ], [0]);

    const unknown = await loadPlugin(data, {
      ...base,
      memory: { maxPage: 1 } as never,
    }).catch((e) => e);
    assert.match(String(unknown), /maxPage.*maxPages/);
  });
});

Deno.test("manifest timeoutMs (camelCase or snake_case) is the call deadline unless the option says otherwise", async () => {
  const data = await compileWat("vars", VARS);
  await withCache(async (base) => {
    for (
      const manifest of [
        { wasm: [{ data }], timeoutMs: 150 },
        { wasm: [{ data }], timeout_ms: 150 },
      ]
    ) {
      await using p = await loadPlugin(manifest as never, base);
      const err = await p.call("spin").catch((e) => e);
      assert.ok(err instanceof PluginTimeoutError, String(err));
      assert.equal(err.timeoutMs, 150);
    }
    await using q = await loadPlugin({ wasm: [{ data }], timeoutMs: 150 }, {
      ...base,
      timeoutMs: 120,
    });
    assert.equal((await q.call("spin").catch((e) => e)).timeoutMs, 120);
    // The SDK's "no timeout" still gets a deadline here.
    await using r = await loadPlugin({ wasm: [{ data }], timeoutMs: null }, {
      ...base,
    });
    assert.equal(r.functionExists("spin"), true);
  });
});

Deno.test("logLevel: plugin trace and debug lines reach the logger only when asked", async () => {
  const data = await compileWat("vars", VARS);
  await withCache(async (base) => {
    const lines: string[] = [];
    const logger = {
      trace: (m: unknown) => lines.push(`trace:${m}`),
      debug: (m: unknown) => lines.push(`debug:${m}`),
      info: (m: unknown) => lines.push(`info:${m}`),
      warn: (m: unknown) => lines.push(`warn:${m}`),
      error: (m: unknown) => lines.push(`error:${m}`),
    };
    await using quiet = await loadPlugin(data, { ...base, logger });
    await quiet.call("log");
    assert.deepEqual(lines, ["info:i"]);
    lines.length = 0;
    await using loud = await loadPlugin(data, {
      ...base,
      logger,
      logLevel: "trace",
    });
    await loud.call("log");
    assert.deepEqual(lines, ["trace:t", "debug:d", "info:i"]);
    // Without a trace method, trace lines go to debug.
    lines.length = 0;
    const { trace: _, ...noTrace } = logger;
    await using p = await loadPlugin(data, {
      ...base,
      logger: noTrace,
      logLevel: "trace",
    });
    await p.call("log");
    assert.deepEqual(lines, ["debug:t", "debug:d", "info:i"]);
    const bad = await loadPlugin(data, {
      ...base,
      logLevel: "loud" as never,
    }).catch((e) => e);
    assert.ok(bad instanceof PluginLoadError);
  });
});

const HEADERS = `(module ${ENV}
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "http_headers" (func $http_headers (result i64)))
  (memory (export "memory") 1)
  (func (export "headers") (result i32) (local $h i64)
    (local.set $h (call $http_headers))
    (if (i64.ne (local.get $h) (i64.const 0))
      (then (call $output_set (local.get $h) (call $length (local.get $h)))))
    (i32.const 0)))`;

Deno.test("allowHttpResponseHeaders exposes http_headers as in the SDK", async () => {
  const data = await compileWat("headers", HEADERS);
  await withCache(async (base) => {
    await using off = await loadPlugin(data, base);
    assert.equal(await off.call("headers"), null);
    await using on = await loadPlugin(data, {
      ...base,
      allowHttpResponseHeaders: true,
    });
    assert.equal((await on.call("headers"))!.text(), "{}");
  });
});

const COUNTER = `(module ${ENV}
  (global $n (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  ${BYTE_OUT}
  (func (export "inc") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (call $byte (global.get $n)) (i32.const 0))
  (func (export "json") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 2)))
    (call $store_u8 (local.get $h) (i32.const 91))
    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (i32.const 93))
    (call $output_set (local.get $h) (i64.const 2))
    (i32.const 0))
  (func (export "nothing") (result i32) (i32.const 0)))`;

Deno.test("the SDK's plugin API: reset, getExports, getImports, isActive; results and null", async () => {
  const data = await compileWat("counter", COUNTER);
  await withCache(async (base) => {
    await using p = await loadPlugin(data, base);
    assert.deepEqual([...(await p.call("inc"))!.bytes()], [1]);
    assert.deepEqual([...(await p.call("inc"))!.bytes()], [2]);
    assert.equal(await p.reset(), true);
    assert.deepEqual([...(await p.call("inc"))!.bytes()], [1]);

    const out = (await p.call("json"))!;
    assert.equal(out.text(), "[]");
    assert.deepEqual(out.json(), []);
    assert.deepEqual([...out.bytes()], [91, 93]);
    assert.equal(out.arrayBuffer().byteLength, 2);
    assert.equal(await p.call("nothing"), null);

    const exports = (await p.getExports()).map((e) => `${e.kind}:${e.name}`);
    assert.deepEqual(exports.sort(), [
      "function:inc",
      "function:json",
      "function:nothing",
      "memory:memory",
    ]);
    const imports = (await p.getImports()).map((i) => `${i.module}:${i.name}`);
    assert.ok(imports.includes("extism:host/env:alloc"), String(imports));
    assert.ok(!imports.some((i) => i.startsWith("sup:")), String(imports));

    assert.equal(p.isActive(), false);
    const running = p.call("inc");
    assert.equal(p.isActive(), true);
    assert.equal(await p.reset(), false);
    await running;
    assert.equal(p.isActive(), false);
  });
});

Deno.test("Response sources load; a compiled WebAssembly.Module is refused with the reason", async () => {
  const data = new Uint8Array(await compileWat("counter", COUNTER));
  await withCache(async (base) => {
    await using p = await loadPlugin(new Response(data), base);
    assert.deepEqual([...(await p.call("inc"))!.bytes()], [1]);
    await using buffer = await loadPlugin(data.slice().buffer, base);
    assert.deepEqual([...(await buffer.call("inc"))!.bytes()], [1]);
    await using q = await loadPlugin(
      { wasm: [{ response: new Response(data) }] },
      base,
    );
    assert.deepEqual([...(await q.call("inc"))!.bytes()], [1]);
    const failed = await loadPlugin(
      new Response("nope", { status: 404 }),
      base,
    ).catch((e) => e);
    assert.match(String(failed), /HTTP 404/);
    const module = await WebAssembly.compile(data);
    for (const source of [module, { wasm: [{ module }] }]) {
      const err = await loadPlugin(source as never, base).catch((e) => e);
      assert.ok(err instanceof PluginLoadError, String(err));
      assert.match(err.message, /carries no bytes.*pass the module's bytes/);
    }
  });
});

Deno.test("maxHttpResponseBytes bounds a body and allowHttpResponseHeaders shows real headers (child with --allow-net)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      new URL("./support/parity_http_child.ts", import.meta.url).pathname,
    ],
    cwd: new URL("../", import.meta.url).pathname,
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const got = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(got.under, "5000 bytes");
  assert.equal(got.over, "refused");
  assert.equal(JSON.parse(got.headers)["x-parity"], "yes");
  assert.equal(got.noHeaders, null);
});

/** Build one of tests/fixtures/c/*.c for wasm32-wasi with clang (no libc). */
async function clang(name: string, dir: string): Promise<Uint8Array> {
  const source = new URL(`./fixtures/c/${name}.c`, import.meta.url).pathname;
  const out = `${dir}/${name}.wasm`;
  const result = await new Deno.Command("clang", {
    args: [
      "--target=wasm32-wasi",
      "-O2",
      "-nostdlib",
      "-Wl,--no-entry",
      "-Wl,--allow-undefined",
      "-o",
      out,
      source,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(result.success, new TextDecoder().decode(result.stderr));
  return await Deno.readFile(out);
}

Deno.test("C linked modules (clang, wasm32-wasi): library calls, a user host function, the cap and the deadline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-parity-c-" });
  try {
    const lib = await clang("linked_lib", dir);
    const main = await clang("linked_main", dir);
    await withCache(async (base) => {
      await using p = await loadPlugin(
        { wasm: [{ name: "lib", data: lib }, { name: "main", data: main }] },
        {
          ...base,
          maxMemoryBytes: 64 * 65_536,
          timeoutMs: 200,
          hostFunctions: { user: { twice: (_cx, v) => v * 2n } },
        },
      );
      const u64 = (r: { bytes(): Uint8Array } | null) =>
        new DataView(r!.bytes().buffer).getBigUint64(0, true);
      // fib(90) from the library, doubled by the host.
      assert.equal(
        u64(await p.call("fib", "x".repeat(90))),
        2n * 2880067194370816120n,
      );
      // The library may grow a little, but not past the one cap.
      assert.ok(u64(await p.call("hog", "x".repeat(4))) < 64n);
      const hog = await p.call("hog", "x".repeat(63)).catch((e) => e);
      assert.ok(hog instanceof PluginMemoryError, String(hog));
      const spin = await p.call("forever").catch((e) => e);
      assert.ok(spin instanceof PluginTimeoutError, String(spin));
      assert.equal(u64(await p.call("fib", "x".repeat(10))), 110n);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostFunctions: the SDK shape for extism:host/user replaces sup's functions like the bare shorthand; the SDK's option name points here", async () => {
  await using host = await openHost();
  const p = await host.load("bridge", {
    hostFunctions: { "extism:host/user": { send_image: () => 0 } },
  });
  assert.equal((await p.call("send_image", frames("{}")))!.bytes()[0], 0);
  const sdkName = await loadPlugin(await compileWat("bridge"), {
    cache: host.cache,
    name: "bridge",
    functions: {},
  } as never).catch((e) => e);
  assert.match(String(sdkName), /hostFunctions/);
});

Deno.test("attack: a linked library's Extism allocations and big table count against the one cap", async () => {
  const greedy = await compileWat(
    "greedy",
    `(module
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (func (export "bomb") (loop $more
        (drop (call $alloc (i64.const 1048576))) (br $more))))`,
  );
  const main = await compileWat(
    "main",
    `(module (import "lib" "bomb" (func $bomb)) (memory (export "memory") 1)
      (func (export "run") (result i32) (call $bomb) (i32.const 0)))`,
  );
  const tabled = await compileWat(
    "tabled",
    `(module (table 100000 funcref) (func (export "bomb")))`,
  );
  await withCache(async (base) => {
    await using p = await loadPlugin(
      { wasm: [{ name: "lib", data: greedy }, { data: main }] },
      { ...base, maxMemoryBytes: 8 * 1_048_576 },
    );
    const err = await p.call("run").catch((e) => e);
    assert.ok(err instanceof PluginMemoryError, String(err));
    // 100,000 table entries (plus growth room) pass a 1 MiB cap up front.
    const refused = await loadPlugin(
      { wasm: [{ name: "lib", data: tabled }, { data: main }] },
      { ...base, maxMemoryBytes: 1_048_576 },
    ).catch((e) => e);
    assert.ok(refused instanceof PluginLoadError, String(refused));
    assert.match(refused.message, /module "lib"/);
  });
});
