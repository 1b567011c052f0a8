/**
 * Runs a real subprocess and collects what it printed: the one helper the
 * tests that build outside projects (imports, the PDK, the docs' commands)
 * share.
 */

/** What one run produced. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/** Run `cmd` with `args` in `cwd`, without colour or update checks. */
export async function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<Output> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Run this Deno binary with `args` in `cwd`. */
export function deno(args: string[], cwd: string): Promise<Output> {
  return run(Deno.execPath(), args, cwd);
}
