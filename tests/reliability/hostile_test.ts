// Hostile plugins: each kind of abuse must end in a typed error or a
// failure code, while the host, the abusive plugin itself and a neighbour
// plugin keep serving, and nothing stored before is lost.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ClosedError,
  createSupCache,
  loadPlugin,
  PluginError,
  PluginLoadError,
  PluginMemoryError,
  PluginTimeoutError,
  QuotaExceededError,
  type SupCache,
  type SupPlugin,
} from "../../mod.ts";
import { BRIDGED, compileWat, frames, GARBAGE } from "../fixtures/wat.ts";
import { report, scale, text, withTempDir } from "./support/common.ts";
import {
  envAbuseWat,
  hostileWat,
  wasiAbuseWat,
} from "./support/hostile_wat.ts";

const REPEAT = scale(3, 10);
const SEEDED = 20;
const MAX_KEYS = 1000;
const dec = new TextDecoder();
const noop = { noop: (_cx: unknown, h: bigint) => h };

const wasm = {
  bridge: await compileWat("bridge"),
  hostile: await compileWat("hostile", hostileWat()),
  wasi: await compileWat("wasi-abuse", wasiAbuseWat()),
  envGarbage: await compileWat("env-garbage", envAbuseWat("garbage")),
  envLoop: await compileWat("env-loop", envAbuseWat("loop")),
};

interface Env {
  dir: string;
  cache: SupCache;
  /** The abusive plugin written for this suite (hostile_wat.ts). */
  hostile: SupPlugin;
  /** The shared bridge fixture, driven with abusive arguments. */
  bridge: SupPlugin;
  /** An innocent plugin on the same cache. */
  neighbour: SupPlugin;
}

/** Namespaces seeded before the abuse, and what they must still hold. */
const SEEDED_NS = ["neighbour", "hostile", "hostile-bridge"];

async function openEnv(dir: string): Promise<Env> {
  const cache = await createSupCache({
    dataDir: dir,
    ttl: null,
    limits: { maxKeys: MAX_KEYS, onQuota: "reject" },
  });
  for (const ns of SEEDED_NS) {
    for (let i = 0; i < SEEDED; i++) {
      await cache.namespace(ns).set(`seed-${i}`, `${ns}-${i}`);
    }
    await cache.store(ns).set("stored", `${ns}-store`);
  }
  // A generous deadline: a flood of 4,000 writes must not race the clock on
  // a busy machine. Rows about deadlines load their own short-lived copy.
  const load = (bytes: Uint8Array, name: string, maxMemoryBytes: number) =>
    loadPlugin(bytes, {
      cache,
      name,
      timeoutMs: 60_000,
      maxMemoryBytes,
      hostFunctions: noop,
    });
  return {
    dir,
    cache,
    hostile: await load(wasm.hostile, "hostile", 160 * 1_048_576),
    bridge: await load(wasm.bridge, "hostile-bridge", 32 * 1_048_576),
    neighbour: await load(wasm.bridge, "neighbour", 32 * 1_048_576),
  };
}

/** Entries seeded by openEnv that are missing or changed. */
async function lostEntries(cache: SupCache): Promise<number> {
  let lost = 0;
  for (const ns of SEEDED_NS) {
    for (let i = 0; i < SEEDED; i++) {
      if (text(await cache.namespace(ns).get(`seed-${i}`)) !== `${ns}-${i}`) {
        lost++;
      }
    }
    if (text(await cache.store(ns).get("stored")) !== `${ns}-store`) lost++;
  }
  return lost;
}

/** The same plugin under the same name, with a 300 ms deadline. */
function withDeadline(env: Env, bytes: Uint8Array, name: string) {
  return loadPlugin(bytes, {
    cache: env.cache,
    name,
    timeoutMs: 300,
    hostFunctions: noop,
  });
}

/** Whether a host function's reply is one of the ABI's failure answers. */
function isFailure(fn: string, out: Uint8Array): boolean {
  const result = BRIDGED.find(([name]) => name === fn)![2];
  if (result === "i32") return out.length === 1 && out[0] === 1;
  if (fn.startsWith("sup_")) return out[0] === 2 && out.length > 1;
  if (fn === "read_file") return out.length === 0;
  const reply = JSON.parse(dec.decode(out));
  return reply.success === false && typeof reply.error === "string";
}

async function expectError<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  check?: (err: E) => void,
): Promise<void> {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
  check?.(err);
}

interface Row {
  kind: string;
  act: (env: Env) => Promise<void>;
  /** Rows that close the hostile plugins skip the "still serves" check. */
  closes?: boolean;
}

function callsWith(arg: null | typeof GARBAGE) {
  return async (env: Env) => {
    for (const [fn, args] of BRIDGED) {
      const out = (await env.bridge.call(
        fn,
        frames(...args.map((a) => a === "h" ? arg : 0n)),
      ))!.bytes();
      assert.ok(isFailure(fn, out), `${fn} answered ${dec.decode(out)}`);
    }
  };
}

const ROWS: Row[] = [
  { kind: "handle 0 to each of the 19 host functions", act: callsWith(null) },
  {
    kind: "out-of-range handle to each of the 19 host functions",
    act: callsWith(GARBAGE),
  },
  {
    kind: "output length beyond memory",
    act: (env) =>
      expectError(env.hostile.call("output_beyond"), PluginError, (e) => {
        assert.equal(e.plugin, "hostile");
        assert.equal(e.fn, "output_beyond");
      }),
  },
  {
    kind: "load from an offset beyond memory",
    act: (env) => expectError(env.hostile.call("load_beyond"), PluginError),
  },
  {
    kind: "malformed requests to set_cache and set_store",
    act: async (env) => {
      const bad: Array<string | Uint8Array> = [
        '{"key":',
        "not json",
        "[]",
        "null",
        '"k"',
        '{"key":1,"value":"x"}',
        '{"key":"bad1"}',
        '{"key":"bad2","value":7}',
        '{"key":"","value":"x"}',
        new Uint8Array([0xff, 0xfe, 0x7b]),
      ];
      for (const fn of ["set_cache", "set_store"]) {
        for (const req of bad) {
          const out = (await env.bridge.call(fn, frames(req)))!.bytes();
          assert.deepEqual([...out], [1], `${fn} accepted ${req}`);
        }
      }
      for (const key of ["bad1", "bad2"]) {
        assert.equal(
          await env.cache.namespace("hostile-bridge").get(key),
          null,
        );
      }
    },
  },
  {
    kind: "deeply nested JSON (50,000 levels)",
    act: async (env) => {
      const depth = 50_000;
      for (
        const req of [
          "[".repeat(depth) + "]".repeat(depth),
          `{"key":"deep","value":${"[".repeat(depth)}${"]".repeat(depth)}}`,
          `{"key":"deep","value":"v","x":${'{"a":'.repeat(depth)}1${
            "}".repeat(depth)
          }`, // unterminated: malformed as well as deep
        ]
      ) {
        const out = (await env.bridge.call("set_cache", frames(req)))!.bytes();
        assert.deepEqual([...out], [1]);
      }
      assert.equal(
        await env.cache.namespace("hostile-bridge").get("deep"),
        null,
      );
    },
  },
  {
    kind: "a 100 MiB value (binary ABI and sup JSON ABI)",
    act: async (env) => {
      const binary = (await env.hostile.call("big_value"))!.bytes();
      assert.equal(binary[0], 2);
      assert.match(
        dec.decode(binary.subarray(1)),
        /104,857,600 bytes; the limit is 1,048,576/,
      );
      assert.deepEqual([...(await env.hostile.call("big_json"))!.bytes()], [1]);
      assert.equal(await env.cache.namespace("hostile").get("big"), null);
    },
  },
  {
    kind: `a key flood past the namespace quota (${MAX_KEYS} keys)`,
    act: async (env) => {
      const ns = env.cache.namespace("hostile");
      // The flood's keys, as hostile_wat.ts builds them: "f" + three letters.
      const letter = (n: number) => String.fromCharCode(97 + n);
      const keys = Array.from(
        { length: 4000 },
        (_, i) =>
          "f" + letter(i % 26) + letter(Math.floor(i / 26) % 26) +
          letter(Math.floor(i / 676)),
      );
      const before = ns.stats().keys;
      let present = 0;
      for (const key of keys) if (await ns.has(key)) present++;
      const out = (await env.hostile.call("flood"))!.bytes();
      const view = new DataView(out.buffer, out.byteOffset);
      const [ok, refused] = [view.getUint32(0, true), view.getUint32(4, true)];
      // Overwrites always succeed; new keys stop exactly at the quota.
      const expectedOk = present + Math.min(4000 - present, MAX_KEYS - before);
      assert.deepEqual([ok, refused], [expectedOk, 4000 - expectedOk]);
      assert.equal(ns.stats().keys, MAX_KEYS);
      await expectError(ns.set("one-more", "x"), QuotaExceededError);
      const reply = (await env.bridge.call(
        "sup_cache_set",
        frames("one-more", "x", 0n),
      ))!.bytes();
      // The bridge's namespace is not the flooder's: it still has room.
      assert.equal(reply[0], 1, dec.decode(reply));
    },
  },
  {
    kind: "an infinite loop",
    act: async (env) => {
      await using looper = await withDeadline(
        env,
        wasm.bridge,
        "hostile-bridge",
      );
      await expectError(looper.call("spin"), PluginTimeoutError, (e) => {
        assert.equal(e.timeoutMs, 300);
        assert.equal(e.plugin, "hostile-bridge");
        assert.equal(e.fn, "spin");
      });
      // The same instance answers the next call.
      assert.equal(
        (await looper.call("echo", frames("after")))!.text(),
        "after",
      );
    },
  },
  {
    kind: "a trap (unreachable)",
    act: (env) => expectError(env.bridge.call("trap"), PluginError),
  },
  {
    kind: "a memory bomb (Extism allocations, memory.grow)",
    act: async (env) => {
      await expectError(
        env.bridge.call("alloc_bomb"),
        PluginMemoryError,
        (e) => assert.equal(e.limit, 32 * 1_048_576),
      );
      await expectError(env.bridge.call("grow"), PluginError);
    },
  },
  {
    kind: "unbounded recursion through host calls (get_cache, set_cache)",
    act: async (env) => {
      // Either the stack or the deadline gives out first; both are typed.
      await using deep = await withDeadline(env, wasm.hostile, "hostile");
      await expectError(deep.call("recurse_get"), PluginError);
      await expectError(deep.call("recurse_set"), PluginError);
      // What the recursion stored is whole.
      const rec = text(await env.cache.namespace("hostile").get("rec"));
      assert.ok(rec === null || rec === "v", `rec is ${rec}`);
    },
  },
  {
    kind: "WASI abuse (host paths, unowned descriptors, proc_exit)",
    act: async (env) => {
      await using wasi = await loadPlugin(wasm.wasi, {
        cache: env.cache,
        name: "wasi-abuse",
        timeoutMs: 500,
      });
      const errnos = [...(await wasi.call("probe"))!.bytes()];
      assert.equal(errnos.length, 5);
      // 8 is WASI's EBADF: no descriptor, so nothing is reachable.
      assert.deepEqual(errnos, [8, 8, 8, 8, 8]);
      // proc_exit ends the call, not the host process.
      await expectError(wasi.call("exit"), PluginError);
      assert.deepEqual([...(await wasi.call("probe"))!.bytes()], errnos);
    },
  },
  {
    kind: "file-path escapes (.., absolute, symlinks, NUL)",
    act: async (env) => {
      const files = env.bridge.filesDir!;
      await Deno.writeTextFile(join(files, "ok.txt"), "fine");
      const secret = join(env.dir, "secret.txt");
      await Deno.writeTextFile(secret, "host secret");
      for (
        const [name, target] of [
          ["to-secret", secret],
          ["to-etc", "/etc"],
          ["to-root", "/"],
          ["to-parent", ".."],
        ]
      ) {
        await Deno.symlink(target, join(files, name)).catch((err) => {
          if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
        });
      }
      // Control: the confinement is not simply "refuse everything".
      assert.equal(
        (await env.bridge.call("read_file", frames("ok.txt")))!.text(),
        "fine",
      );
      for (
        const path of [
          "../../secret.txt",
          "../../../secret.txt",
          "../neighbour/x",
          "sub/../../../secret.txt",
          "/../../secret.txt",
          "to-secret",
          "to-etc/passwd",
          "to-root/etc/passwd",
          "to-parent/../secret.txt",
          "ok.txt\0../../secret.txt",
          secret,
          "/etc/passwd",
        ]
      ) {
        const out = (await env.bridge.call("read_file", frames(path)))!.bytes();
        assert.equal(
          out.length,
          0,
          `read_file ${path} gave ${dec.decode(out)}`,
        );
      }
      for (
        const path of ["..", "../..", "to-etc", "to-root", "to-parent", "/.."]
      ) {
        const reply = (await env.bridge.call("list_directory", frames(path)))!
          .json<{ success: boolean }>();
        assert.equal(reply.success, false, `list_directory ${path}`);
      }
    },
  },
  {
    kind: "hostile get_required_env_vars (garbage answer, endless loop)",
    act: async (env) => {
      for (
        const [bytes, name] of [[wasm.envGarbage, "env-garbage"], [
          wasm.envLoop,
          "env-loop",
        ]] as const
      ) {
        await expectError(
          loadPlugin(bytes, { cache: env.cache, name, timeoutMs: 300 }),
          PluginLoadError,
          (e) => assert.equal(e.plugin, name),
        );
      }
    },
  },
  {
    kind: "error_set with a handle that is no block",
    act: (env) => expectError(env.hostile.call("bad_error"), PluginError),
  },
  {
    kind: "invalid UTF-8 keys and prefixes in the binary ABI",
    act: async (env) => {
      const bad = new Uint8Array([0x6b, 0xff, 0xc0]);
      for (
        const [fn, args] of [
          ["sup_cache_get", [bad]],
          ["sup_cache_set", [bad, "v", 0n]],
          ["sup_cache_delete", [bad]],
          ["sup_cache_list", [bad, 10n, null]],
          ["sup_store_set", [bad, "v"]],
        ] as const
      ) {
        const out = (await env.bridge.call(fn, frames(...args)))!.bytes();
        assert.equal(out[0], 2, `${fn}: ${dec.decode(out)}`);
        assert.match(dec.decode(out.subarray(1)), /not valid UTF-8/);
      }
    },
  },
  {
    kind: "calls after close",
    closes: true,
    act: async (env) => {
      await env.hostile.close();
      await env.bridge.close();
      await expectError(env.hostile.call("ok"), ClosedError);
      await expectError(
        env.bridge.call("sup_cache_get", frames("seed-1")),
        ClosedError,
      );
      await env.hostile.close(); // twice is harmless
    },
  },
];

const figures = { tried: 0, survived: 0, lost: 0, kinds: ROWS.length };

for (const row of ROWS) {
  Deno.test(`hostile plugin: ${row.kind}`, () =>
    withTempDir("hostile", async (dir) => {
      const env = await openEnv(dir);
      try {
        for (let r = 0; r < REPEAT; r++) {
          if (row.closes && r > 0) {
            env.hostile = await loadPlugin(wasm.hostile, {
              cache: env.cache,
              name: "hostile",
            });
            env.bridge = await loadPlugin(wasm.bridge, {
              cache: env.cache,
              name: "hostile-bridge",
              hostFunctions: noop,
            });
          }
          figures.tried++;
          await row.act(env);
          // The neighbour serves reads and writes on the same cache...
          const served = (await env.neighbour.call(
            "sup_cache_increment",
            frames("served", 1n),
          ))!.bytes();
          assert.equal(dec.decode(served.subarray(1)), String(r + 1));
          assert.equal(
            (await env.neighbour.call("get_cache", frames("seed-3")))!.text(),
            '{"success":true,"data":"neighbour-3"}',
          );
          // ...and so does the abuser, on a fresh instance if it trapped.
          if (!row.closes) {
            assert.equal((await env.hostile.call("ok"))!.text(), "x");
            assert.equal(
              (await env.bridge.call("echo", frames("alive")))!.text(),
              "alive",
            );
          }
          const lost = await lostEntries(env.cache);
          figures.lost += lost;
          assert.equal(lost, 0, "seeded entries were lost");
          figures.survived++;
        }
      } finally {
        for (const p of [env.hostile, env.bridge, env.neighbour]) {
          await p.close();
        }
        await env.cache.close();
      }
    }));
}

Deno.test("hostile plugin figures", () => {
  report("hostile plugins", { ...figures });
  assert.equal(figures.lost, 0);
  assert.ok(figures.kinds >= 12);
});

// Regression: WASI proc_exit throws a WASIProcExit object, not an Error,
// and the host's message used to read "the plugin trapped: [object Object]".
Deno.test("a plugin calling WASI proc_exit gets a PluginError that says so, with the exit code", () =>
  withTempDir("hostile", async (dir) => {
    await using cache = await createSupCache({ dataDir: dir });
    await using wasi = await loadPlugin(wasm.wasi, { cache, name: "exiter" });
    await expectError(wasi.call("exit"), PluginError, (e) => {
      assert.doesNotMatch(e.message, /\[object Object\]/);
      assert.match(e.message, /proc_exit|exit/);
      assert.match(e.message, /\b7\b/);
    });
  }));
