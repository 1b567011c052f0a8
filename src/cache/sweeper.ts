/**
 * The background sweep: deletes expired rows a bounded batch at a time on an
 * unref'd timer, so the file does not grow forever (sup's kv never deletes
 * expired rows) and a script can still exit while the timer is armed.
 *
 * @module
 */

/** A repeating tick that never keeps the process alive. */
export class Sweeper {
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Run `tick` every `intervalMs`; report its errors to `onError`. */
  constructor(
    intervalMs: number,
    tick: () => void,
    onError: (err: unknown) => void,
  ) {
    if (intervalMs <= 0) return;
    const timer = setInterval(() => {
      try {
        tick();
      } catch (err) {
        onError(err);
      }
    }, intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stop ticking. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
