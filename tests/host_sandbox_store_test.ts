// The content-addressed store of the sandbox's rewrite: written once under
// the data directory, verified on read, rebuilt when damaged.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clearSandboxMemory,
  sandboxDir,
  sandboxed,
  sandboxKey,
} from "../src/host/sandbox_store.ts";
import { compileWat } from "./fixtures/wat.ts";

Deno.test("the rewrite is stored by content, reused, and rebuilt when the file is damaged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sup-sandbox-store-" });
  try {
    const wasm = await compileWat("bridge");
    const key = sandboxKey(wasm, []);
    assert.notEqual(key, sandboxKey(wasm, [["A", "b"]]));
    const first = await sandboxed(wasm, [], dir);
    assert.equal(first.key, key);
    const file = join(sandboxDir(dir), `${key}.wasm`);
    const stored = await Deno.readFile(file);
    assert.ok(WebAssembly.validate(stored.subarray(32)));
    // No temporary files are left behind.
    const names = [...Deno.readDirSync(sandboxDir(dir))].map((e) => e.name);
    assert.deepEqual(names, [`${key}.wasm`]);

    // A fresh process (no memory copy) reads the verified file.
    clearSandboxMemory();
    const again = await sandboxed(wasm, [], dir);
    assert.deepEqual(again.wasm, first.wasm);

    // Damage: a flipped byte fails the digest; the file is rewritten whole.
    const damaged = stored.slice();
    damaged[damaged.length - 5] ^= 0xff;
    await Deno.writeFile(file, damaged);
    clearSandboxMemory();
    const rebuilt = await sandboxed(wasm, [], dir);
    assert.deepEqual(rebuilt.wasm, first.wasm);
    assert.deepEqual(await Deno.readFile(file), stored);

    // Truncated to nothing: rebuilt too.
    await Deno.writeFile(file, new Uint8Array(3));
    clearSandboxMemory();
    assert.deepEqual((await sandboxed(wasm, [], dir)).wasm, first.wasm);
    assert.deepEqual(await Deno.readFile(file), stored);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
