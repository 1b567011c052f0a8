/**
 * Shared pieces of the reliability suite: the --long switch, a seeded random
 * source (so a failing run can be repeated), temporary data directories,
 * child processes, and the one-line figures every scenario prints.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
export { Rng } from "./rng.ts";

/**
 * `deno task test:reliability --long` (the task ends in `--`, so the flag
 * reaches Deno.args) or SUP_RELIABILITY_LONG=1 pushes every count up.
 */
export const LONG = Deno.args.includes("--long") ||
  Deno.env.get("SUP_RELIABILITY_LONG") === "1";

/** The default count, or the --long one. */
export function scale(normal: number, long: number): number {
  return LONG ? long : normal;
}

/**
 * The run's seed: SUP_RELIABILITY_SEED when set (to replay a failure),
 * else a fresh one. It is printed with every figure line.
 */
export const SEED = Number(Deno.env.get("SUP_RELIABILITY_SEED") ?? "") ||
  (crypto.getRandomValues(new Uint32Array(1))[0] || 1);

/** Figures of one scenario, as the README's "Guarantees" section quotes them. */
export interface Figures {
  /** Attempts made (rounds, operations, hostile calls...). */
  tried: number;
  /** Attempts after which every check held. */
  survived: number;
  /** Acknowledged writes (or stored entries) missing or changed afterwards. */
  lost: number;
  /** Scenario-specific detail, printed as key=value. */
  [detail: string]: number;
}

/** Print one figure line; the README draft is built from these lines. */
export function report(scenario: string, figures: Figures): void {
  const detail = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  console.log(
    `[reliability] ${scenario}: ${detail} mode=${
      LONG ? "long" : "default"
    } seed=${SEED}`,
  );
}

/** A fresh temporary directory, removed after `fn` (also when it throws). */
export async function withTempDir<T>(
  prefix: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: `sup-rel-${prefix}-` });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Absolute path of a child script in tests/reliability/support/. */
export function supportScript(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** The repository root, so children resolve deno.json's import map. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Start `deno run` on `script` with exactly `flags` (never -A: permission
 * tests depend on what is left out).
 */
export function spawnDeno(
  script: string,
  flags: string[],
  args: string[],
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, script, ...args],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Run `deno run` to completion and return its exit code and text output. */
export async function runDeno(
  script: string,
  flags: string[],
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await spawnDeno(script, flags, args).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/**
 * Complete lines from a child's stdout. A last line without its newline is
 * dropped: a child killed mid-print never acknowledged that write.
 */
export async function* completeLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
}

/** `PRAGMA integrity_check` on a raw connection: "ok" or SQLite's findings. */
export function integrityCheck(path: string): string {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("PRAGMA integrity_check").all()
      .map((r) => String(r.integrity_check)).join("; ");
  } finally {
    db.close();
  }
}

/** Decode a value read from the cache (null stays null). */
export function text(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

/** Flags a child needs to use a cache in `dir` and nothing else. */
export function cacheFlags(dir: string): string[] {
  return [`--allow-read=${dir}`, `--allow-write=${dir}`];
}
