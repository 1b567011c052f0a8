/**
 * The sandbox attacks, shared by sandbox_attacks_test.ts (the parent, which
 * checks the answers) and sandbox_child.ts (which runs one attack in its own
 * process, so a hang or a crash fails one test instead of the runner).
 *
 * @module
 */
import binaryen from "npm:assemblyscript@0.28.20/binaryen";
import wabtInit from "npm:wabt@1.0.39";
import {
  exitAtLoadWat,
  loopAtLoadWat,
  REFUSED_WAT,
  sandboxAttackWat,
} from "./support/hostile_wat.ts";

/** What the host must answer. */
export type Expect = "timeout" | "memory" | "capped" | "refused" | "load-error";

/** One attack: an export of a hostile module, and the limits it runs under. */
export interface Attack {
  module:
    | "attack"
    | keyof typeof REFUSED_WAT
    | "exit-at-load"
    | "loop-at-load";
  fn: string;
  expect: Expect;
  timeoutMs: number;
  maxMemoryBytes: number;
  /** For "refused" and "load-error": what the message must name. */
  mentions?: RegExp;
}

const MiB = 1_048_576;
const short = { timeoutMs: 300, maxMemoryBytes: 64 * MiB };
const greedy = { timeoutMs: 20_000, maxMemoryBytes: 32 * MiB };

/** Every attack, by a name the child takes as its argument. */
export const ATTACKS: Readonly<Record<string, Attack>> = {
  "poll_oneoff sleep of 20 s": {
    module: "attack",
    fn: "sleep_20s",
    expect: "timeout",
    ...short,
  },
  "poll_oneoff sleep of 2^64 ns": {
    module: "attack",
    fn: "sleep_forever",
    expect: "timeout",
    ...short,
  },
  "poll_oneoff sleep until an absolute time far ahead": {
    module: "attack",
    fn: "sleep_absolute",
    expect: "timeout",
    ...short,
  },
  "poll_oneoff 1 ms sleeps in a loop": {
    module: "attack",
    fn: "sleep_loop",
    expect: "timeout",
    ...short,
  },
  "exception handling catches the timeout and spins again": {
    module: "attack",
    fn: "catch_loop",
    expect: "timeout",
    ...short,
  },
  "exception handling catches the timeout and returns success": {
    module: "attack",
    fn: "catch_ok",
    expect: "timeout",
    ...short,
  },
  "exception handling around host calls": {
    module: "attack",
    fn: "catch_calls",
    expect: "timeout",
    ...short,
  },
  "16 MiB memory.fill per loop pass": {
    module: "attack",
    fn: "fill_loop",
    expect: "timeout",
    ...short,
  },
  "16 MiB memory.copy per loop pass": {
    module: "attack",
    fn: "copy_loop",
    expect: "timeout",
    ...short,
  },
  "2^40 calls through 40 functions without loops": {
    module: "attack",
    fn: "call_chain",
    expect: "timeout",
    ...short,
  },
  "2^40 recursive calls, each from inside a loop": {
    module: "attack",
    fn: "recursion_in_loops",
    expect: "timeout",
    ...short,
  },
  "100 host calls per loop pass": {
    module: "attack",
    fn: "calls_loop",
    expect: "timeout",
    ...short,
  },
  "one 256 KiB cache write per loop pass": {
    module: "attack",
    fn: "sets_loop",
    expect: "timeout",
    ...short,
  },
  "a host function that takes 3 s (async)": {
    module: "attack",
    fn: "slow_host",
    expect: "timeout",
    ...short,
  },
  "table.grow a million entries at a time": {
    module: "attack",
    fn: "table_bomb",
    expect: "capped",
    ...greedy,
  },
  "memory.grow to the cap, then Extism allocations": {
    module: "attack",
    fn: "grow_then_alloc",
    expect: "memory",
    ...greedy,
  },
  "Extism allocations, then memory.grow past the cap": {
    module: "attack",
    fn: "alloc_then_grow",
    expect: "memory",
    ...greedy,
  },
  "millions of 1-byte Extism allocations": {
    module: "attack",
    fn: "tiny_allocs",
    expect: "memory",
    ...greedy,
  },
  "1 MiB var_set copies under new names": {
    module: "attack",
    fn: "var_bomb",
    expect: "memory",
    ...greedy,
  },
  "WasmGC arrays of 16 MiB": {
    module: "gc",
    fn: "gc_bomb",
    expect: "refused",
    mentions: REFUSED_WAT.gc.feature,
    ...greedy,
  },
  "shared memory with an endless atomic wait": {
    module: "shared",
    fn: "wait_forever",
    expect: "refused",
    mentions: REFUSED_WAT.shared.feature,
    ...short,
  },
  "a second memory grown past the cap": {
    module: "multi",
    fn: "grow_both",
    expect: "refused",
    mentions: REFUSED_WAT.multi.feature,
    ...greedy,
  },
  "proc_exit while loading": {
    module: "exit-at-load",
    fn: "run",
    expect: "load-error",
    mentions: /proc_exit\(3\)/,
    ...short,
  },
  "a start function that never returns": {
    module: "loop-at-load",
    fn: "run",
    expect: "load-error",
    mentions: /did not finish within 300 ms/,
    ...short,
  },
};

/** The bytes of an attack's module, compiled from the text in hostile_wat.ts. */
export async function attackModule(
  module: Attack["module"],
): Promise<Uint8Array> {
  if (module === "attack") return await wat(sandboxAttackWat());
  if (module === "exit-at-load") return await wat(exitAtLoadWat());
  if (module === "loop-at-load") return await wat(loopAtLoadWat());
  const mod = binaryen.parseText(REFUSED_WAT[module].text);
  try {
    mod.setFeatures(binaryen.Features.All);
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

async function wat(text: string): Promise<Uint8Array> {
  wabt ??= await wabtInit();
  const mod = wabt.parseWat("attack.wat", text, {
    bulk_memory: true,
    exceptions: true,
    reference_types: true,
  });
  try {
    mod.validate();
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}
