/**
 * The sandbox's output, computed once per module: the rewrite
 * (sandbox.ts) is content-addressed by the SHA-256 of the module bytes,
 * the sandbox version and the environment baked in, and kept in memory
 * and on disk under `<dataDir>/sandbox/`. Files are written atomically
 * (temporary file, then rename) and carry the SHA-256 of their body, which
 * is checked on every read; a damaged or foreign file is rebuilt.
 *
 * @module
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { instrument, SANDBOX_VERSION } from "./sandbox.ts";

const DIGEST_BYTES = 32;
const memory = new Map<string, Uint8Array<ArrayBuffer>>();

// node:crypto hashes synchronously; crypto.subtle's promise costs more
// than hashing a plugin-sized module.
function sha256(data: Uint8Array): Uint8Array {
  return createHash("sha256").update(data).digest();
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The content address of `wasm` rewritten with `env`.
 *
 * @example
 * ```ts
 * import { sandboxKey } from "./sandbox_store.ts";
 * const key = sandboxKey(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), []);
 * console.log(key.length); // 64
 * ```
 */
export function sandboxKey(
  wasm: Uint8Array,
  env: ReadonlyArray<readonly [string, string]>,
): string {
  return createHash("sha256")
    .update(`sup-sandbox/${SANDBOX_VERSION}\0${JSON.stringify(env)}\0`)
    .update(wasm)
    .digest("hex");
}

/**
 * Where cached rewrites live under a data directory.
 *
 * @example
 * ```ts
 * import { sandboxDir } from "./sandbox_store.ts";
 * console.log(sandboxDir("/data")); // "/data/sandbox"
 * ```
 */
export function sandboxDir(dataDir: string): string {
  return join(dataDir, "sandbox");
}

/**
 * The content address and rewritten module for `wasm`: from memory, else from a verified file
 * under `dataDir`, else rewritten now (and stored in both).
 *
 * @example
 * ```ts
 * import { sandboxed } from "./sandbox_store.ts";
 * const out = await sandboxed(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), [], null);
 * console.log(WebAssembly.validate(out.wasm)); // true
 * ```
 */
export async function sandboxed(
  wasm: Uint8Array,
  env: ReadonlyArray<readonly [string, string]>,
  dataDir: string | null,
): Promise<{ key: string; wasm: Uint8Array<ArrayBuffer> }> {
  const key = sandboxKey(wasm, env);
  return { key, wasm: await lookup(key, wasm, env, dataDir) };
}

async function lookup(
  key: string,
  wasm: Uint8Array,
  env: ReadonlyArray<readonly [string, string]>,
  dataDir: string | null,
): Promise<Uint8Array<ArrayBuffer>> {
  const hit = memory.get(key);
  if (hit !== undefined) return hit;
  const file = dataDir === null
    ? null
    : join(sandboxDir(dataDir), `${key}.wasm`);
  if (file !== null) {
    const stored = readVerified(file);
    if (stored !== null) {
      memory.set(key, stored);
      return stored;
    }
  }
  const out = await instrument(wasm, { env });
  memory.set(key, out);
  if (file !== null) writeAtomic(file, out);
  return out;
}

function readVerified(
  file: string,
): Uint8Array<ArrayBuffer> | null {
  let data: Uint8Array;
  try {
    data = readFileSync(file);
  } catch {
    return null;
  }
  if (data.length <= DIGEST_BYTES) return null;
  const body = new Uint8Array(data.subarray(DIGEST_BYTES));
  if (!equal(data.subarray(0, DIGEST_BYTES), sha256(body))) return null;
  return body;
}

function writeAtomic(file: string, body: Uint8Array): void {
  const data = new Uint8Array(DIGEST_BYTES + body.length);
  data.set(sha256(body));
  data.set(body, DIGEST_BYTES);
  const tmp = `${file}.${crypto.randomUUID()}.tmp`;
  try {
    mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // A read-only data directory only costs the next process a rewrite.
  }
}

/**
 * Forget the in-memory copies (tests measure the disk path with it).
 *
 * @example
 * ```ts
 * import { clearSandboxMemory } from "./sandbox_store.ts";
 * clearSandboxMemory();
 * ```
 */
export function clearSandboxMemory(): void {
  memory.clear();
}
