// Bench plugin in C (Debian clang, wasm32-wasi): CPU-bound exports the
// host benchmark calls through the sandbox and through plain Extism.
// It talks to Extism through its raw host ABI, so no PDK is needed.
#include <stdint.h>

#define IMPORT(name) __attribute__((import_module("extism:host/env"), import_name(name)))
IMPORT("input_length") uint64_t input_length(void);
IMPORT("input_load_u8") uint8_t input_load_u8(uint64_t offset);
IMPORT("alloc") uint64_t alloc(uint64_t size);
IMPORT("store_u64") void store_u64(uint64_t handle, uint64_t value);
IMPORT("output_set") void output_set(uint64_t handle, uint64_t length);

static void out_u64(uint64_t v) {
  uint64_t h = alloc(8);
  store_u64(h, v);
  output_set(h, 8);
}

__attribute__((export_name("nothing"))) int32_t nothing(void) { return 0; }

__attribute__((export_name("tight_loop"))) int32_t tight_loop(void) {
  volatile uint64_t acc = 0;
  for (uint32_t i = 0; i < 20000000; i++) acc += i ^ (acc >> 3);
  out_u64(acc);
  return 0;
}

__attribute__((export_name("nested_loops"))) int32_t nested_loops(void) {
  uint64_t acc = 0;
  for (uint32_t i = 0; i < 2000; i++)
    for (uint32_t j = 0; j < 5000; j++) acc += (i * j) ^ (acc >> 7);
  out_u64(acc);
  return 0;
}

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

__attribute__((export_name("fib"))) int32_t fib_export(void) {
  out_u64(fib(27));
  return 0;
}

static uint8_t buffer[1 << 20];

__attribute__((export_name("count_vowels"))) int32_t count_vowels(void) {
  uint64_t n = input_length();
  if (n > sizeof buffer) n = sizeof buffer;
  for (uint64_t i = 0; i < n; i++) buffer[i] = input_load_u8(i);
  uint64_t count = 0;
  for (uint64_t i = 0; i < n; i++) {
    switch (buffer[i] | 0x20) {
      case 'a': case 'e': case 'i': case 'o': case 'u': count++;
    }
  }
  out_u64(count);
  return 0;
}

static uint32_t items[200000];

static void quicksort(uint32_t *a, int32_t lo, int32_t hi) {
  while (lo < hi) {
    uint32_t pivot = a[(lo + hi) / 2];
    int32_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { uint32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
    else { quicksort(a, i, hi); hi = j; }
  }
}

__attribute__((export_name("sort"))) int32_t sort(void) {
  uint32_t x = 2463534242u;
  for (uint32_t i = 0; i < 200000; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    items[i] = x;
  }
  quicksort(items, 0, 199999);
  out_u64(items[100000]);
  return 0;
}
