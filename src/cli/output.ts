/**
 * Where command output goes. Results go to stdout; errors, notes and
 * progress to stderr, so `--json` output and piped values stay parseable.
 * Human text (`line`, `note`) is escaped (see `escape.ts`); JSON and raw
 * bytes are written exactly.
 *
 * @module
 */
import { escapeText } from "./escape.ts";

/** Something bytes can be written to, like `Deno.stdout`. */
export interface Sink {
  /** Write some of `p`, resolving to how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** Whether it is an interactive terminal. */
  isTerminal(): boolean;
}

const encoder = new TextEncoder();

/**
 * Stdout and stderr with the small helpers commands need.
 *
 * @example
 * ```ts
 * import { Output } from "./output.ts";
 * const out = new Output();
 * await out.json({ ok: true }); // prints {"ok":true}
 * ```
 */
export class Output {
  /** Results. */
  readonly stdout: Sink;
  /** Errors, notes, progress. */
  readonly stderr: Sink;

  /** Write to `stdout` and `stderr` (the process's own by default). */
  constructor(stdout: Sink = Deno.stdout, stderr: Sink = Deno.stderr) {
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /** Write all of `bytes` to stdout, exactly. */
  async bytes(bytes: Uint8Array): Promise<void> {
    await writeAll(this.stdout, bytes);
  }

  /** Write `text` and a newline to stdout, control characters escaped. */
  async line(text: string): Promise<void> {
    await writeAll(this.stdout, encoder.encode(`${escapeText(text)}\n`));
  }

  /** Write `value` as one line of JSON to stdout, exactly. */
  async json(value: unknown): Promise<void> {
    await writeAll(this.stdout, encoder.encode(`${JSON.stringify(value)}\n`));
  }

  /** Write `text` and a newline to stderr, control characters escaped. */
  async note(text: string): Promise<void> {
    await writeAll(this.stderr, encoder.encode(`${escapeText(text)}\n`));
  }

  /** Write one line of JSON to stderr, exactly (errors under `--json`). */
  async jsonNote(value: unknown): Promise<void> {
    await writeAll(this.stderr, encoder.encode(`${JSON.stringify(value)}\n`));
  }
}

/** Write every byte of `bytes`; `write` may take only part of it. */
export async function writeAll(sink: Sink, bytes: Uint8Array): Promise<void> {
  for (let n = 0; n < bytes.length;) {
    n += await sink.write(bytes.subarray(n));
  }
}

/** Read all of stdin (for `-` arguments). */
export async function readStdin(): Promise<Uint8Array> {
  return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
}
