import assert from "node:assert/strict";
import {
  cases,
  guarded,
  interleave,
  isAsync,
  makeSubjects,
} from "./cache_bench_util.ts";

Deno.test("a bench that returns a Promise without being declared async is refused", async () => {
  // Stands in for an async API such as Deno KV's get.
  const asyncGet = (k: string) =>
    new Promise<string>((resolve) => setTimeout(() => resolve(k), 1));
  const bad = guarded("get", () => asyncGet("k"));
  assert.throws(() => bad(), /returned a Promise but is not declared async/);
  const good = guarded("get", async () => void await asyncGet("k"));
  assert.ok(isAsync(good));
  await good();
  assert.equal(guarded("sync", () => 1)(), 1);
});

Deno.test("every case of the cache benchmark runs through the guard", async () => {
  const root = await Deno.makeTempDir({ prefix: "sup-cache-bench-test-" });
  try {
    // Deno KV needs --unstable-kv, which `deno task test` does not grant;
    // its cases are the same shapes and run in `deno task bench`.
    const s = await makeSubjects(root, 200, false);
    try {
      const { cases: list, pairs } = cases(s);
      const names = new Set(list.map((c) => c.name));
      for (const [, base, ours] of pairs) {
        assert.ok(names.has(base) && names.has(ours), `${base} / ${ours}`);
      }
      // One short round of each: a sync case returning a Promise throws here.
      const times = await interleave(
        list.map((c) => ({ ...c, ops: Math.min(c.ops, 3) })),
        1,
      );
      for (const [name, t] of times) assert.equal(t.wall.length, 1, name);
      assert.ok(s.bytesPerKey.ours > 0 && s.bytesPerKey.minimal > 0);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
