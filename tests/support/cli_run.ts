/**
 * Runs the CLI the way a user does: a real `deno run` subprocess of
 * src/cli.ts with exactly the permission flags the README documents.
 */
import { fileURLToPath } from "node:url";

/** The repository root (where deno.json is). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The CLI entry point. */
export const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

/** The documented flags, as in the `sup` task of deno.json. */
export const CLI_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env=SUP_DATA_DIR,XDG_DATA_HOME,HOME,SUP_CACHE_CWD,EXTISM_ENABLE_WASI_OUTPUT,__MINIMATCH_TESTING_PLATFORM__",
];

/** What one run produced. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary values. */
  bytes: Uint8Array;
}

/** Options of one run. */
export interface RunOptions {
  /** Bytes or text for stdin (default: none). */
  stdin?: Uint8Array | string;
  /** Replace the documented flags (to test what happens without one). */
  flags?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The directory to run in (default: the repository root). */
  cwd?: string;
}

const decoder = new TextDecoder();

/** Run `sup-cache <args>` and collect its exit code and output. */
export async function cli(
  args: string[],
  options: RunOptions = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.flags ?? CLI_FLAGS), CLI, ...args],
    cwd: options.cwd ?? ROOT,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(
      typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin,
    );
    await writer.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    bytes: out.stdout,
  };
}

/** Run and require exit code 0; returns the run. */
export async function ok(args: string[], options?: RunOptions): Promise<Run> {
  const run = await cli(args, options);
  if (run.code !== 0) {
    throw new Error(
      `sup-cache ${args.join(" ")} exited ${run.code}:\n${run.stderr}`,
    );
  }
  return run;
}

/** Run with `--json` and parse stdout. */
export async function okJson<T = unknown>(
  args: string[],
  options?: RunOptions,
): Promise<T> {
  return JSON.parse((await ok([...args, "--json"], options)).stdout) as T;
}

/** A fresh data directory on disk, removed after `fn`. */
export async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "sup-cache-cli-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
