/**
 * The AssemblyScript PDK against a tiny host written here (Maps, no SQLite),
 * so its encoding of both ABIs, its handling of misbehaving hosts, its JSON
 * module and its kernel wrappers are checked in isolation from sup-cache's
 * real host. The end-to-end tests through `loadPlugin` are in the other
 * `plugins_*_test.ts` files.
 */
import assert from "node:assert/strict";
import createPlugin, { type CallContext } from "npm:@extism/extism@2.0.0-rc13";
import fc from "npm:fast-check@4.10.2";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";

await buildPlugins({ only: ["probe"] });

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A host that does what the agreed ABIs say, on Maps, and can misbehave on request. */
class MapHost {
  cache = new Map<string, Uint8Array>();
  store = new Map<string, Uint8Array>();
  lastTtl: bigint | null = null;
  lastListArgs: { limit: bigint; cursor: string | null } | null = null;
  /** When set, every binary-ABI function answers this instead. */
  rawReply: ((cx: CallContext) => bigint) | null = null;
  /** When set, sup's JSON functions answer this text instead. */
  supReply: string | null = null;
  logs: string[] = [];

  reply(
    cx: CallContext,
    status: number,
    payload: Uint8Array = new Uint8Array(),
  ) {
    if (this.rawReply) return this.rawReply(cx);
    const block = new Uint8Array(payload.length + 1);
    block[0] = status;
    block.set(payload, 1);
    return cx.store(block);
  }

  #text(cx: CallContext, h: bigint): string {
    const out = cx.read(h);
    if (!out) throw new Error(`bad handle ${h}`);
    return out.text();
  }
  #bytes(cx: CallContext, h: bigint): Uint8Array {
    const out = cx.read(h);
    if (!out) throw new Error(`bad handle ${h}`);
    return out.bytes();
  }
  #list(
    cx: CallContext,
    map: Map<string, Uint8Array>,
    p: bigint,
    limit: bigint,
    c: bigint,
  ) {
    const prefix = this.#text(cx, p);
    const cursor = c === 0n ? null : this.#text(cx, c);
    this.lastListArgs = { limit, cursor };
    const n = limit === 0n ? 100 : Number(limit);
    const keys = [...map.keys()].filter((k) =>
      k.startsWith(prefix) && (cursor === null || k > cursor)
    ).sort();
    const page = keys.slice(0, n);
    const next = keys.length > n ? page[page.length - 1] : null;
    return this.reply(
      cx,
      1,
      enc.encode(JSON.stringify({ keys: page, cursor: next })),
    );
  }
  #supGet(cx: CallContext, map: Map<string, Uint8Array>, h: bigint) {
    if (this.supReply !== null) return cx.store(this.supReply);
    const v = map.get(this.#text(cx, h));
    // sup's Go host: a miss is kv's "key not found" error; empty data is omitted.
    const body = v === undefined
      ? { success: false, error: "key not found" }
      : v.length === 0
      ? { success: true }
      : { success: true, data: dec.decode(v) };
    return cx.store(JSON.stringify(body));
  }
  #supSet(cx: CallContext, map: Map<string, Uint8Array>, h: bigint) {
    try {
      const req = JSON.parse(this.#text(cx, h));
      if (typeof req.key !== "string" || typeof req.value !== "string") {
        return 1;
      }
      map.set(req.key, enc.encode(req.value));
      return 0;
    } catch {
      return 1; // sup's answer to malformed JSON; the test checks the code
    }
  }

  functions() {
    const user = {
      sup_cache_get: (cx: CallContext, k: bigint) => {
        const v = this.cache.get(this.#text(cx, k));
        return v === undefined ? this.reply(cx, 0) : this.reply(cx, 1, v);
      },
      sup_cache_set: (cx: CallContext, k: bigint, v: bigint, ttl: bigint) => {
        this.lastTtl = ttl;
        const key = this.#text(cx, k);
        if (key === "") {
          return this.reply(cx, 2, enc.encode("key must not be empty"));
        }
        this.cache.set(key, this.#bytes(cx, v));
        return this.reply(cx, 1);
      },
      sup_cache_delete: (cx: CallContext, k: bigint) =>
        this.reply(cx, this.cache.delete(this.#text(cx, k)) ? 1 : 0),
      sup_cache_has: (cx: CallContext, k: bigint) =>
        this.reply(cx, this.cache.has(this.#text(cx, k)) ? 1 : 0),
      sup_cache_list: (cx: CallContext, p: bigint, l: bigint, c: bigint) =>
        this.#list(cx, this.cache, p, l, c),
      sup_cache_increment: (cx: CallContext, k: bigint, by: bigint) => {
        const key = this.#text(cx, k);
        const cur = this.cache.get(key);
        const text = cur === undefined ? "0" : dec.decode(cur);
        if (!/^-?\d+$/.test(text)) {
          return this.reply(cx, 2, enc.encode("not an integer"));
        }
        const next = String(BigInt(text) + by);
        this.cache.set(key, enc.encode(next));
        return this.reply(cx, 1, enc.encode(next));
      },
      sup_store_get: (cx: CallContext, k: bigint) => {
        const v = this.store.get(this.#text(cx, k));
        return v === undefined ? this.reply(cx, 0) : this.reply(cx, 1, v);
      },
      sup_store_set: (cx: CallContext, k: bigint, v: bigint) => {
        this.store.set(this.#text(cx, k), this.#bytes(cx, v));
        return this.reply(cx, 1);
      },
      sup_store_delete: (cx: CallContext, k: bigint) =>
        this.reply(cx, this.store.delete(this.#text(cx, k)) ? 1 : 0),
      sup_store_list: (cx: CallContext, p: bigint, l: bigint, c: bigint) =>
        this.#list(cx, this.store, p, l, c),
      get_cache: (cx: CallContext, h: bigint) =>
        this.#supGet(cx, this.cache, h),
      set_cache: (cx: CallContext, h: bigint) =>
        this.#supSet(cx, this.cache, h),
      get_store: (cx: CallContext, h: bigint) =>
        this.#supGet(cx, this.store, h),
      set_store: (cx: CallContext, h: bigint) =>
        this.#supSet(cx, this.store, h),
      list_store: (cx: CallContext, h: bigint) => {
        if (this.supReply !== null) return cx.store(this.supReply);
        const prefix = this.#text(cx, h);
        const keys = [...this.store.keys()].filter((k) => k.startsWith(prefix));
        // sup's Go host omits "keys" when there are none.
        return cx.store(
          JSON.stringify(
            keys.length ? { success: true, keys } : { success: true },
          ),
        );
      },
    };
    return { "extism:host/user": user };
  }
}

async function load(name: string, host: MapHost, config = {}) {
  const logs = host.logs;
  const record = (...a: unknown[]) => void logs.push(a.map(String).join(" "));
  return await createPlugin(wasmPathOf(name), {
    useWasi: false,
    functions: host.functions(),
    config,
    logLevel: "trace",
    logger: {
      ...console,
      info: record,
      debug: record,
      warn: record,
      error: record,
      trace: record,
    } as unknown as Parameters<typeof createPlugin>[1] extends
      { logger?: infer L } | undefined ? L : never,
  });
}

type Probe = (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>;

async function probe(host = new MapHost(), config = {}) {
  const plugin = await load("probe", host, config);
  const run: Probe = async (cmd) => {
    const out = await plugin.call("run", JSON.stringify(cmd));
    assert.ok(out, `no output for ${JSON.stringify(cmd)}`);
    return out.json();
  };
  return { plugin, run, host };
}

const hex = (b: Uint8Array) =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("binary ABI: values are bytes end to end, hit/miss/error distinct", async () => {
  const { plugin, run, host } = await probe();
  try {
    const bytes = new Uint8Array([0, 255, 1, 0xc3, 0x28, 10, 0, 0, 7, 8, 9]);
    assert.deepEqual(
      await run({ op: "cache_set", key: "b", hex: hex(bytes) }),
      {
        status: "hit",
        hex: "",
      },
    );
    assert.deepEqual(host.cache.get("b"), bytes);
    assert.deepEqual(await run({ op: "cache_get", key: "b" }), {
      status: "hit",
      hex: hex(bytes),
    });
    assert.deepEqual(await run({ op: "cache_get", key: "nope" }), {
      status: "miss",
      hex: "",
    });
    // An empty value is a hit, not a miss.
    await run({ op: "cache_set", key: "empty", hex: "" });
    assert.deepEqual(await run({ op: "cache_get", key: "empty" }), {
      status: "hit",
      hex: "",
    });
    assert.deepEqual(await run({ op: "cache_set", key: "", value: "x" }), {
      status: "error",
      error: "sup_cache_set: key must not be empty",
    });
    // Non-ASCII keys travel as UTF-8.
    await run({ op: "cache_set", key: "clé ✓ 🎉", value: "v" });
    assert.ok(host.cache.has("clé ✓ 🎉"));
  } finally {
    await plugin.close();
  }
});

Deno.test("binary ABI: ttl, delete, has, increment, store", async () => {
  const { plugin, run, host } = await probe();
  try {
    await run({ op: "cache_set", key: "k", value: "v", ttl: 1500 });
    assert.equal(host.lastTtl, 1500n);
    await run({ op: "cache_set", key: "k", value: "v", ttl: -1 });
    assert.equal(host.lastTtl, -1n);
    await run({ op: "cache_set", key: "k", value: "v" });
    assert.equal(host.lastTtl, 0n);
    assert.equal((await run({ op: "cache_has", key: "k" })).status, "hit");
    assert.equal((await run({ op: "cache_delete", key: "k" })).status, "hit");
    assert.equal((await run({ op: "cache_delete", key: "k" })).status, "miss");
    assert.equal((await run({ op: "cache_has", key: "k" })).status, "miss");

    assert.deepEqual(await run({ op: "cache_increment", key: "n", by: 5 }), {
      value: 5,
    });
    assert.deepEqual(await run({ op: "cache_increment", key: "n", by: -7 }), {
      value: -2,
    });
    await run({ op: "cache_set", key: "word", value: "abc" });
    assert.deepEqual(await run({ op: "cache_increment", key: "word" }), {
      error: "sup_cache_increment: not an integer",
    });

    await run({ op: "store_set", key: "s", value: "forever" });
    assert.equal(host.cache.has("s"), false);
    assert.deepEqual(await run({ op: "store_get", key: "s" }), {
      status: "hit",
      hex: hex(enc.encode("forever")),
    });
    assert.equal((await run({ op: "store_delete", key: "s" })).status, "hit");
    assert.equal((await run({ op: "store_get", key: "s" })).status, "miss");
  } finally {
    await plugin.close();
  }
});

Deno.test("binary ABI: list passes prefix, limit and cursor and pages", async () => {
  const { plugin, run, host } = await probe();
  try {
    for (let i = 0; i < 5; i++) {
      await run({ op: "cache_set", key: `p:${i}`, value: "x" });
    }
    await run({ op: "cache_set", key: "q:0", value: "x" });
    const first = await run({ op: "cache_list", prefix: "p:", limit: 2 });
    assert.deepEqual(first, { keys: ["p:0", "p:1"], cursor: "p:1" });
    assert.deepEqual(host.lastListArgs, { limit: 2n, cursor: null });
    const rest = await run({
      op: "cache_list",
      prefix: "p:",
      cursor: first.cursor,
    });
    assert.deepEqual(rest, { keys: ["p:2", "p:3", "p:4"], cursor: null });
    assert.deepEqual(host.lastListArgs, { limit: 0n, cursor: "p:1" });
    await run({ op: "store_set", key: "p:store", value: "x" });
    assert.deepEqual(await run({ op: "store_list", prefix: "p:" }), {
      keys: ["p:store"],
      cursor: null,
    });
  } finally {
    await plugin.close();
  }
});

Deno.test("binary ABI: a misbehaving host gives errors, never hits", async () => {
  const { plugin, run, host } = await probe();
  try {
    host.rawReply = () => 0n;
    assert.deepEqual(await run({ op: "cache_get", key: "k" }), {
      status: "error",
      error: "sup_cache_get: the host returned handle 0",
    });
    host.rawReply = (cx) => cx.store(new Uint8Array());
    assert.deepEqual(await run({ op: "cache_has", key: "k" }), {
      status: "error",
      error: "sup_cache_has: the host returned an empty reply",
    });
    host.rawReply = (cx) => cx.store(new Uint8Array([3, 65]));
    assert.deepEqual(await run({ op: "cache_get", key: "k" }), {
      status: "error",
      error: "sup_cache_get: unknown reply status 3",
    });
    host.rawReply = (cx) => cx.store(new Uint8Array([1, ...enc.encode("{")]));
    assert.deepEqual(await run({ op: "cache_list", prefix: "" }), {
      error: "sup_cache_list: malformed list payload",
    });
    host.rawReply = (cx) => cx.store(new Uint8Array([1, ...enc.encode("4x")]));
    assert.deepEqual(await run({ op: "cache_increment", key: "k" }), {
      error: "sup_cache_increment: malformed reply '4x'",
    });
    host.rawReply = (cx) => cx.store(new Uint8Array([0]));
    assert.deepEqual(await run({ op: "cache_list", prefix: "" }), {
      error: "sup_cache_list: unexpected miss reply",
    });
  } finally {
    await plugin.close();
  }
});

Deno.test("sup ABI: getCache/setCache/getStore/setStore/listStore speak sup's JSON", async () => {
  const { plugin, run, host } = await probe();
  try {
    const tricky = 'quote " backslash \\ newline \n tab \t ñ 🎉 \u0001';
    assert.deepEqual(
      await run({ op: "sup_set_cache", key: 'k"ey', value: tricky }),
      { error: null },
    );
    assert.equal(dec.decode(host.cache.get('k"ey')), tricky);
    assert.deepEqual(await run({ op: "sup_get_cache", key: 'k"ey' }), {
      found: true,
      value: tricky,
      error: null,
    });
    // sup's miss ({"success":false,"error":"key not found"}) is not an error.
    assert.deepEqual(await run({ op: "sup_get_cache", key: "absent" }), {
      found: false,
      value: "",
      error: null,
    });
    // sup omits "data" for an empty value: still a hit.
    await run({ op: "sup_set_cache", key: "e", value: "" });
    assert.deepEqual(await run({ op: "sup_get_cache", key: "e" }), {
      found: true,
      value: "",
      error: null,
    });
    await run({ op: "sup_set_store", key: "settings:a", value: "{}" });
    await run({ op: "sup_set_store", key: "settings:b", value: "{}" });
    assert.equal(host.cache.has("settings:a"), false);
    assert.deepEqual(await run({ op: "sup_get_store", key: "settings:a" }), {
      found: true,
      value: "{}",
      error: null,
    });
    assert.deepEqual(await run({ op: "sup_list_store", prefix: "settings:" }), {
      keys: ["settings:a", "settings:b"],
      error: null,
    });
    assert.deepEqual(await run({ op: "sup_list_store", prefix: "zzz" }), {
      keys: [],
      error: null,
    });

    host.supReply = '{"success":false,"error":"disk on fire"}';
    assert.deepEqual(await run({ op: "sup_get_cache", key: "k" }), {
      found: false,
      value: "",
      error: "get_cache failed: disk on fire",
    });
    assert.deepEqual(await run({ op: "sup_list_store", prefix: "" }), {
      keys: [],
      error: "list_store failed: disk on fire",
    });
    host.supReply = "not json";
    assert.deepEqual(await run({ op: "sup_get_store", key: "k" }), {
      found: false,
      value: "",
      error: "get_store: malformed host reply",
    });
    host.supReply = '{"success":true,"data":42}';
    assert.equal(
      (await run({ op: "sup_get_cache", key: "k" })).error,
      "get_cache: malformed host reply",
    );
  } finally {
    await plugin.close();
  }
});

Deno.test("sup ABI: set_cache failure codes reach the plugin", async () => {
  const host = new MapHost();
  const { plugin, run } = await probe(host);
  try {
    // Make the host's set_cache fail the way sup's does (code 1).
    const fns = host.functions()["extism:host/user"];
    fns.set_cache = () => 1;
    const failing = await createPlugin(wasmPathOf("probe"), {
      useWasi: false,
      functions: { "extism:host/user": fns },
    });
    try {
      const out = await failing.call(
        "run",
        JSON.stringify({ op: "sup_set_cache", key: "k", value: "v" }),
      );
      assert.deepEqual(out!.json(), {
        error: "set_cache failed with code 1",
      });
    } finally {
      await failing.close();
    }
    assert.deepEqual(
      await run({ op: "sup_set_store", key: "k", value: "v" }),
      { error: null },
    );
  } finally {
    await plugin.close();
  }
});

Deno.test("kernel: config, vars, log, setError and abort", async () => {
  const { plugin, run, host } = await probe(new MapHost(), {
    city: "Barcelona ✓",
  });
  try {
    assert.deepEqual(await run({ op: "config", key: "city" }), {
      value: "Barcelona ✓",
    });
    assert.deepEqual(await run({ op: "config", key: "missing" }), {
      value: null,
    });
    assert.deepEqual(
      await run({ op: "var_roundtrip", key: "v", hex: "00ff10" }),
      { before: null, after: "00ff10", removed: true },
    );
    await run({ op: "log", message: "hello from the plugin ñ" });
    assert.ok(host.logs.some((l) => l.includes("hello from the plugin ñ")));

    await assert.rejects(
      plugin.call("run", JSON.stringify({ op: "fail", message: "nope ✗" })),
      /Plugin-originated error: nope ✗/,
    );
    await assert.rejects(
      plugin.call("run", JSON.stringify({ op: "abort", message: "boom" })),
    );
    assert.ok(
      host.logs.some((l) => l.includes("plugin aborted: boom")),
      host.logs.join("\n"),
    );
    // A runtime failure inside AssemblyScript names the place.
    await assert.rejects(
      plugin.call("run", JSON.stringify({ op: "out_of_bounds", index: 5 })),
    );
    assert.ok(
      host.logs.some((l) =>
        /plugin aborted: Index out of range at ~lib\/array\.ts:\d+:\d+/.test(l)
      ),
      host.logs.join("\n"),
    );
    // The instance keeps working after a trap.
    assert.deepEqual(await run({ op: "config", key: "city" }), {
      value: "Barcelona ✓",
    });
  } finally {
    await plugin.close();
  }
});

Deno.test("json: the PDK's parser and serializer agree with JSON.parse", async () => {
  const { plugin, run } = await probe();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue({ maxDepth: 4, stringUnit: "binary" }),
        async (value) => {
          const text = JSON.stringify(value);
          const out = await run({ op: "json", text });
          // Round-tripped through the PDK, the value must be the same JSON.
          assert.deepEqual(out.value, JSON.parse(text));
        },
      ),
      { numRuns: 300 },
    );
    for (
      const bad of ["", "{", "[1,]", '{"a" 1}', "01", '"\\x"', "nul", "1 2"]
    ) {
      const out = await run({ op: "json", text: bad });
      assert.equal(
        typeof out.error,
        "string",
        `accepted ${JSON.stringify(bad)}`,
      );
    }
    const deep = "[".repeat(300) + "]".repeat(300);
    assert.match(
      (await run({ op: "json", text: deep })).error as string,
      /nesting deeper than 256/,
    );
  } finally {
    await plugin.close();
  }
});
