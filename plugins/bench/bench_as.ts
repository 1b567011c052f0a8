/**
 * Bench plugin in AssemblyScript: the same CPU-bound exports as bench.c,
 * built with the project's PDK by plugins/bench/build.ts, for the sandbox
 * benchmark (tests/host_sandbox_bench.ts).
 *
 * @module
 */
import { input, output } from "../pdk/index";

function outU64(v: u64): void {
  const bytes = new Uint8Array(8);
  store<u64>(bytes.dataStart, v);
  output(bytes);
}

export function nothing(): i32 {
  return 0;
}

export function tight_loop(): i32 {
  let acc: u64 = 0;
  for (let i: u32 = 0; i < 20000000; i++) acc += u64(i) ^ (acc >> 3);
  outU64(acc);
  return 0;
}

export function nested_loops(): i32 {
  let acc: u64 = 0;
  for (let i: u32 = 0; i < 2000; i++) {
    for (let j: u32 = 0; j < 5000; j++) acc += u64(i * j) ^ (acc >> 7);
  }
  outU64(acc);
  return 0;
}

function fibOf(n: u32): u32 {
  return n < 2 ? n : fibOf(n - 1) + fibOf(n - 2);
}

export function fib(): i32 {
  outU64(fibOf(27));
  return 0;
}

export function count_vowels(): i32 {
  const data = input();
  let count: u64 = 0;
  for (let i = 0; i < data.length; i++) {
    const c = unchecked(data[i]) | 0x20;
    if (c == 97 || c == 101 || c == 105 || c == 111 || c == 117) count++;
  }
  outU64(count);
  return 0;
}

function quicksort(a: StaticArray<u32>, lo: i32, hi: i32): void {
  while (lo < hi) {
    const pivot = unchecked(a[(lo + hi) >> 1]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (unchecked(a[i]) < pivot) i++;
      while (unchecked(a[j]) > pivot) j--;
      if (i <= j) {
        const t = unchecked(a[i]);
        unchecked(a[i] = a[j]);
        unchecked(a[j] = t);
        i++;
        j--;
      }
    }
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
}

export function sort(): i32 {
  const items = new StaticArray<u32>(200000);
  let x: u32 = 2463534242;
  for (let i = 0; i < 200000; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    unchecked(items[i] = x);
  }
  quicksort(items, 0, 199999);
  outU64(unchecked(items[100000]));
  return 0;
}
