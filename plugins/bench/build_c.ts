/**
 * Builds the C bench plugin (bench.c) with Debian's clang for wasm32-wasi.
 * The sandbox benchmark calls this as its setup step.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/**
 * Compile bench.c into `dir` and return the module bytes, or `null` when
 * clang (with lld) is not installed.
 */
export async function buildBenchPlugin(
  dir: string,
): Promise<Uint8Array | null> {
  const source = fileURLToPath(new URL("./bench.c", import.meta.url));
  const out = `${dir}/bench_c.wasm`;
  try {
    const result = await new Deno.Command("clang", {
      args: [
        "--target=wasm32-wasi",
        "-O2",
        "-nostdlib",
        "-Wl,--no-entry",
        "-o",
        out,
        source,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!result.success) {
      throw new Error(new TextDecoder().decode(result.stderr));
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  return await Deno.readFile(out);
}
