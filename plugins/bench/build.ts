/**
 * Builds the bench plugins: bench.c with Debian's clang for wasm32-wasi,
 * and bench_as.ts with the pinned AssemblyScript compiler and the PDK. The
 * sandbox benchmark calls these as its setup step; nothing is committed
 * as a binary.
 *
 * @module
 */
import asc from "npm:assemblyscript@0.28.20/asc";
import { fileURLToPath } from "node:url";

const PLUGINS_DIR = fileURLToPath(new URL("../", import.meta.url));

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

/** Compile bench_as.ts (AssemblyScript, with the PDK) and return the module bytes. */
export async function buildBenchPluginAs(): Promise<Uint8Array> {
  let binary: Uint8Array | null = null;
  const { error, stderr } = await asc.main(
    [
      "bench/bench_as.ts",
      "--baseDir",
      PLUGINS_DIR,
      "--outFile",
      "bench/bench_as.wasm",
      "--optimize",
      "--runtime",
      "incremental",
      "--use",
      "abort=pdk/abort/pdkAbort",
    ],
    {
      readFile: async (file: string, baseDir: string) => {
        try {
          return await Deno.readTextFile(
            file.startsWith("/") ? file : `${baseDir}/${file}`,
          );
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) return null;
          throw err;
        }
      },
      writeFile: (file: string, contents: Uint8Array | string) => {
        if (file.endsWith(".wasm") && typeof contents !== "string") {
          binary = contents;
        }
      },
      listFiles: () => [],
    } as Parameters<typeof asc.main>[1],
  );
  if (error) {
    throw new Error(
      `building bench_as.ts failed: ${error.message}\n${stderr.toString()}`,
    );
  }
  if (binary === null) throw new Error("asc wrote no bench_as.wasm");
  return binary;
}
