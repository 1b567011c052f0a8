/**
 * Runs the CLI in process with stdout and stderr that claim to be a
 * terminal, to see exactly what a person's terminal would receive.
 */
import { main, Output, type Sink } from "../../src/cli.ts";

/** A sink that keeps what it is given and says it is a terminal. */
class TerminalSink implements Sink {
  readonly chunks: Uint8Array[] = [];
  write(p: Uint8Array): Promise<number> {
    this.chunks.push(p.slice());
    return Promise.resolve(p.length);
  }
  isTerminal(): boolean {
    return true;
  }
  text(): string {
    return new TextDecoder().decode(
      new Uint8Array(this.chunks.flatMap((c) => [...c])),
    );
  }
}

/** What a terminal would show for `sup-cache <argv>`. */
export async function onTerminal(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new TerminalSink();
  const stderr = new TerminalSink();
  const code = await main(argv, new Output(stdout, stderr));
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
