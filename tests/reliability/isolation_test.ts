// Isolation, property-based (fast-check): random namespace names (including
// ones built to collide under sup's "name:key" gluing) and random keys.
// Every operation's answer must equal a model where each namespace is its
// own map, so no namespace or plugin ever reads, lists, overwrites or
// deletes another's entries — through the cache API and through both
// plugin ABIs.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import {
  createSupCache,
  InvalidInputError,
  loadPlugin,
  type SupPlugin,
} from "../../mod.ts";
import { compileWat, frames } from "../fixtures/wat.ts";
import { report, scale, SEED, text, withTempDir } from "./support/common.ts";

/**
 * NUL is left out of the random strings: keys and names containing it are
 * refused (node:sqlite reads text back only up to a NUL), which its own
 * test below pins; isolation itself is what this file is about.
 */
const noNul = (s: string) => s.isWellFormed() && !s.includes("\0");

/** Names that collide when glued as `name + ":" + key`, plus random ones. */
const nameArb = fc.oneof(
  fc.constantFrom("a", "a:b", "a:", ":a", "b", "a%", "a_", "A", "a/b", ".."),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 8 }),
).filter((s) => noNul(s) && new TextEncoder().encode(s).length <= 256);

const keyArb = fc.oneof(
  fc.constantFrom("k", "b:k", "b", "k%", "k_", "", "key"),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 6 }),
).filter((s) => s !== "" && noNul(s));

type Op =
  | { op: "set"; ns: number; key: string; value: string }
  | { op: "get" | "delete" | "has"; ns: number; key: string }
  | { op: "list"; ns: number; prefix: string }
  | { op: "increment"; ns: number; key: string };

function opsArb(namespaces: number) {
  const ns = fc.nat({ max: namespaces - 1 });
  return fc.array(
    fc.oneof(
      fc.record({
        op: fc.constant("set" as const),
        ns,
        key: keyArb,
        value: fc.string({ maxLength: 20 }),
      }),
      fc.record({
        op: fc.constantFrom("get" as const, "delete" as const, "has" as const),
        ns,
        key: keyArb,
      }),
      fc.record({
        op: fc.constant("list" as const),
        ns,
        prefix: fc.oneof(fc.constant(""), keyArb),
      }),
      fc.record({ op: fc.constant("increment" as const), ns, key: keyArb }),
    ),
    { minLength: 1, maxLength: 40, size: "medium" },
  );
}

/** The reference: one Map per namespace, nothing shared. */
class Model {
  maps: Map<string, string>[];
  constructor(n: number) {
    this.maps = Array.from({ length: n }, () => new Map());
  }
  /** UTF-8 byte order, as the cache lists. */
  static order(a: string, b: string): number {
    const x = new TextEncoder().encode(a);
    const y = new TextEncoder().encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i] - y[i];
    }
    return x.length - y.length;
  }
  list(ns: number, prefix: string): string[] {
    return [...this.maps[ns].keys()].filter((k) => k.startsWith(prefix))
      .sort(Model.order);
  }
}

const figures = { tried: 0, survived: 0, lost: 0 };

Deno.test("property: namespaces of one cache never see each other (cache API)", () =>
  withTempDir("iso", async (dir) => {
    await using cache = await createSupCache({ dataDir: dir, ttl: null });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(nameArb, { minLength: 2, maxLength: 4 }),
        opsArb(4),
        async (names, ops) => {
          // A fresh prefix per run keeps runs apart inside one file.
          const prefix = `run${run++}/`;
          const spaces = names.map((n) => cache.namespace(prefix + n));
          const model = new Model(names.length);
          for (const o of ops) {
            const i = o.ns % names.length;
            const ns = spaces[i];
            const m = model.maps[i];
            figures.tried++;
            switch (o.op) {
              case "set":
                await ns.set(o.key, o.value);
                m.set(o.key, o.value);
                break;
              case "get":
                assert.equal(text(await ns.get(o.key)), m.get(o.key) ?? null);
                break;
              case "has":
                assert.equal(await ns.has(o.key), m.has(o.key));
                break;
              case "delete":
                assert.equal(await ns.delete(o.key), m.delete(o.key));
                break;
              case "list":
                assert.deepEqual(
                  (await ns.list({ prefix: o.prefix, limit: 1000 })).keys,
                  model.list(i, o.prefix),
                );
                break;
              case "increment": {
                const current = m.get(o.key);
                if (
                  current !== undefined && !/^-?(0|[1-9]\d*)$/.test(current)
                ) {
                  await assert.rejects(ns.increment(o.key));
                } else {
                  const next = Number(current ?? "0") + 1;
                  assert.equal(await ns.increment(o.key), next);
                  m.set(o.key, String(next));
                }
                break;
              }
            }
            figures.survived++;
          }
          // Finally every namespace holds exactly its model, nothing more.
          for (let i = 0; i < spaces.length; i++) {
            const keys = (await spaces[i].list({ limit: 1000 })).keys;
            assert.deepEqual(keys, model.list(i, ""));
            for (const [k, v] of model.maps[i]) {
              if (text(await spaces[i].get(k)) !== v) figures.lost++;
            }
          }
        },
      ),
      { numRuns: scale(400, 5000), seed: SEED },
    );
    assert.equal(figures.lost, 0);
  }));

const dec = new TextDecoder();

/** A reply of the binary ABI: status byte then payload. */
function binary(out: Uint8Array) {
  return { status: out[0], text: dec.decode(out.subarray(1)) };
}

type Space = "cache" | "store";
type PluginOp =
  | {
    abi: "sup";
    op: "set";
    space: Space;
    p: number;
    key: string;
    value: string;
  }
  | { abi: "sup"; op: "get"; space: Space; p: number; key: string }
  | { abi: "sup"; op: "list"; space: Space; p: number; prefix: string }
  | {
    abi: "bin";
    op: "set";
    space: Space;
    p: number;
    key: string;
    value: string;
  }
  | {
    abi: "bin";
    op: "get" | "delete" | "has";
    space: Space;
    p: number;
    key: string;
  }
  | { abi: "bin"; op: "list"; space: Space; p: number; prefix: string };

Deno.test("property: plugins loaded under random names never see each other (sup JSON ABI and binary ABI, cache and store)", () =>
  withTempDir("iso-plugins", async (dir) => {
    await using cache = await createSupCache({ dataDir: dir, ttl: null });
    const wasm = await compileWat("bridge");
    const pluginCount = 3;
    const p = fc.nat({ max: pluginCount - 1 });
    const space = fc.constantFrom("cache" as const, "store" as const);
    // Plain text values: sup's JSON transport carries strings.
    const value = fc.string({ unit: "grapheme", maxLength: 16 });
    const prefix = fc.oneof(fc.constant(""), keyArb);
    const opArb: fc.Arbitrary<PluginOp> = fc.oneof(
      fc.record({
        abi: fc.constant("sup" as const),
        op: fc.constant("set" as const),
        space,
        p,
        key: keyArb,
        value,
      }),
      fc.record({
        abi: fc.constant("sup" as const),
        op: fc.constant("get" as const),
        space,
        p,
        key: keyArb,
      }),
      // sup has list_store only.
      fc.record({
        abi: fc.constant("sup" as const),
        op: fc.constant("list" as const),
        space: fc.constant("store" as const),
        p,
        prefix,
      }),
      fc.record({
        abi: fc.constant("bin" as const),
        op: fc.constant("set" as const),
        space,
        p,
        key: keyArb,
        value,
      }),
      fc.record({
        abi: fc.constant("bin" as const),
        op: fc.constantFrom("get" as const, "delete" as const),
        space,
        p,
        key: keyArb,
      }),
      // The binary ABI has sup_cache_has but no sup_store_has.
      fc.record({
        abi: fc.constant("bin" as const),
        op: fc.constant("has" as const),
        space: fc.constant("cache" as const),
        p,
        key: keyArb,
      }),
      fc.record({
        abi: fc.constant("bin" as const),
        op: fc.constant("list" as const),
        space,
        p,
        prefix,
      }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(nameArb, {
          minLength: pluginCount,
          maxLength: pluginCount,
        }),
        fc.array(opArb, { minLength: 1, maxLength: 30, size: "medium" }),
        async (names, ops) => {
          const runPrefix = `plugin-run${run++}/`;
          const plugins: SupPlugin[] = [];
          try {
            for (const n of names) {
              plugins.push(
                await loadPlugin(wasm, {
                  cache,
                  name: runPrefix + n,
                  hostFunctions: { noop: (_cx, h) => h },
                }),
              );
            }
            // One map per plugin and keyspace: 2p is its cache, 2p+1 its store.
            const model = new Model(pluginCount * 2);
            for (const o of ops) {
              const plugin = plugins[o.p];
              const slot = o.p * 2 + (o.space === "store" ? 1 : 0);
              const m = model.maps[slot];
              const call = async (
                fn: string,
                ...args: Parameters<typeof frames>
              ) => (await plugin.call(fn, frames(...args)))!.bytes();
              figures.tried++;
              if (o.abi === "sup" && o.op === "set") {
                const req = JSON.stringify({ key: o.key, value: o.value });
                const out = await call(`set_${o.space}`, req);
                assert.deepEqual([...out], [0], `set_${o.space} ${req}`);
                m.set(o.key, o.value);
              } else if (o.abi === "sup" && o.op === "get") {
                const reply = JSON.parse(
                  dec.decode(await call(`get_${o.space}`, o.key)),
                );
                // Go's encoding/json omits an empty "data", and so does sup.
                const data = m.get(o.key);
                assert.deepEqual(
                  reply,
                  data === undefined
                    ? { success: false, error: "key not found" }
                    : data === ""
                    ? { success: true }
                    : { success: true, data },
                );
              } else if (o.abi === "sup" && o.op === "list") {
                const reply = JSON.parse(
                  dec.decode(await call("list_store", o.prefix)),
                );
                const keys = model.list(slot, o.prefix);
                // Go's encoding/json omits an empty list, as sup does.
                assert.deepEqual(
                  reply,
                  keys.length ? { success: true, keys } : { success: true },
                );
              } else if (o.op === "set") {
                const r = binary(
                  o.space === "cache"
                    ? await call("sup_cache_set", o.key, o.value, 0n)
                    : await call("sup_store_set", o.key, o.value),
                );
                assert.equal(r.status, 1, r.text);
                m.set(o.key, o.value);
              } else if (o.op === "get") {
                const r = binary(await call(`sup_${o.space}_get`, o.key));
                assert.deepEqual(
                  r,
                  m.has(o.key)
                    ? { status: 1, text: m.get(o.key) }
                    : { status: 0, text: "" },
                );
              } else if (o.op === "has" || o.op === "delete") {
                const r = binary(await call(`sup_${o.space}_${o.op}`, o.key));
                const expected = o.op === "has"
                  ? m.has(o.key)
                  : m.delete(o.key);
                assert.equal(r.status, expected ? 1 : 0, r.text);
              } else if (o.op === "list") {
                const r = binary(
                  await call(`sup_${o.space}_list`, o.prefix, 1000n, null),
                );
                assert.equal(r.status, 1, r.text);
                assert.deepEqual(
                  JSON.parse(r.text).keys,
                  model.list(slot, o.prefix),
                );
              }
              figures.survived++;
            }
            // The host's view: each plugin's keyspaces are exactly its model.
            for (let i = 0; i < pluginCount; i++) {
              for (
                const [offset, ns] of [
                  [0, cache.namespace(runPrefix + names[i])],
                  [1, cache.store(runPrefix + names[i])],
                ] as const
              ) {
                assert.deepEqual(
                  (await ns.list({ limit: 1000 })).keys,
                  model.list(i * 2 + offset, ""),
                );
                for (const [k, v] of model.maps[i * 2 + offset]) {
                  if (text(await ns.get(k)) !== v) figures.lost++;
                }
              }
            }
          } finally {
            for (const plugin of plugins) await plugin.close();
          }
        },
      ),
      { numRuns: scale(60, 600), seed: SEED },
    );
    assert.equal(figures.lost, 0);
  }));

Deno.test("a key or namespace name containing NUL is refused or round-trips through list() and namespaces()", () =>
  withTempDir("iso-nul", async (dir) => {
    await using cache = await createSupCache({ dataDir: dir, ttl: null });
    const ns = cache.namespace("n");
    const stored: string[] = [];
    for (const key of ["a\0b", "a\0c", "a"]) {
      try {
        await ns.set(key, key);
        stored.push(key);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, String(err));
      }
    }
    assert.deepEqual((await ns.list()).keys, stored.sort(Model.order));
    const names: string[] = [];
    for (const name of ["p\0x", "p\0y"]) {
      try {
        await cache.namespace(name).set("k", name);
        names.push(name);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, String(err));
      }
    }
    const listed = (await cache.namespaces()).map((n) => n.name)
      .filter((n) => n.startsWith("p"));
    assert.deepEqual(listed, names);
  }));

Deno.test("isolation figures", () => {
  report("isolation: property-based, cache API and both plugin ABIs", {
    ...figures,
  });
  assert.equal(figures.lost, 0);
});
