/**
 * Progress lines for long operations (export, import, purge). They go to
 * stderr, and only when stderr is a terminal: piped or redirected output
 * stays clean for scripts and logs.
 *
 * @module
 */

/** Reports how far a long operation got. */
export interface Progress {
  /** Show that `done` items (of `total`, when known) are finished. */
  update(done: number, total?: number): void;
  /** Clear the progress line. Call once, when the operation ends or fails. */
  end(): void;
}

const encoder = new TextEncoder();
// Repainting more often than this only costs time; a person cannot read it.
const REPAINT_MS = 100;

/**
 * A progress reporter labelled `label`, writing to `out` when `enabled`
 * (by default: when stderr is a terminal), otherwise doing nothing.
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * const progress = createProgress("exporting", { enabled: false });
 * progress.update(10, 100);
 * progress.end();
 * ```
 */
export function createProgress(
  label: string,
  options: { enabled?: boolean; out?: { writeSync(p: Uint8Array): number } } =
    {},
): Progress {
  const out = options.out ?? Deno.stderr;
  const enabled = options.enabled ?? Deno.stderr.isTerminal();
  if (!enabled) return { update() {}, end() {} };
  let last = 0;
  let shown = false;
  const write = (s: string) => {
    const bytes = encoder.encode(s);
    for (let n = 0; n < bytes.length;) n += out.writeSync(bytes.subarray(n));
  };
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < REPAINT_MS && done !== total) return;
      last = now;
      const of = total === undefined
        ? ""
        : ` of ${total.toLocaleString("en-US")}`;
      // \r returns to the line start and \x1b[K clears what a longer
      // previous line left behind.
      write(`\r${label}: ${done.toLocaleString("en-US")}${of}\x1b[K`);
      shown = true;
    },
    end() {
      if (shown) write("\r\x1b[K");
      shown = false;
    },
  };
}
