/**
 * WebAssembly text of the hostile plugins, compiled with the suite's shared
 * helper (tests/fixtures/wat.ts). Each export does one bad thing; the
 * hostile test drives them and checks the host's answer.
 *
 * @module
 */
import { WAT_BLOCK } from "../../fixtures/wat.ts";

const ENV = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/user" "get_cache" (func $get_cache (param i64) (result i64)))
  (import "extism:host/user" "set_cache" (func $set_cache (param i64) (result i32)))
  (import "extism:host/user" "sup_cache_set" (func $sup_cache_set (param i64 i64 i64) (result i64)))`;

/** Copy `len` bytes of linear memory at `ptr` into a new Extism block. */
const BLOCK = `${WAT_BLOCK}
  (func $out (param $h i64) (call $output_set (local.get $h) (call $length (local.get $h))))`;

const SET_REQ = '{"key":"rec","value":"v"}';

/** The hostile plugin's module text. */
export function hostileWat(): string {
  return `(module ${ENV}
  (memory (export "memory") 1)
  (data (i32.const 0) "big")
  (data (i32.const 16) "x")
  (data (i32.const 32) "rec")
  (data (i32.const 64) "${SET_REQ.replace(/"/g, '\\"')}")
  (global $key (mut i64) (i64.const 0))
  ${BLOCK}
  (func (export "ok") (result i32) (call $out (call $block (i32.const 16) (i32.const 1))) (i32.const 0))
  ;; an output length far beyond any memory
  (func (export "output_beyond") (result i32)
    (call $output_set (call $alloc (i64.const 8)) (i64.const 0x7FFFFFFFFFFF)) (i32.const 0))
  ;; a load from an offset far beyond Extism memory
  (func (export "load_beyond") (result i32)
    (drop (call $load_u8 (i64.const 0x7FFF00000000))) (i32.const 0))
  ;; a 100 MiB value through the binary ABI, then through sup's JSON ABI
  (func (export "big_value") (result i32) (local $v i64) (local $r i64)
    (local.set $v (call $alloc (i64.const 104857600)))
    (local.set $r (call $sup_cache_set (call $block (i32.const 0) (i32.const 3)) (local.get $v) (i64.const 0)))
    (call $out (local.get $r))
    (i32.const 0))
  (func (export "big_json") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (call $set_cache (call $alloc (i64.const 104857600))))
    (call $out (local.get $h))
    (i32.const 0))
  ;; set keys "f" + 3 letters until 4,000 tries; output ok and error counts
  (func (export "flood") (result i32) (local $i i32) (local $k i64) (local $r i64) (local $ok i64) (local $err i64) (local $h i64)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const 4000)))
      (local.set $k (call $alloc (i64.const 4)))
      (call $store_u8 (local.get $k) (i32.const 102))
      (call $store_u8 (i64.add (local.get $k) (i64.const 1)) (i32.add (i32.const 97) (i32.rem_u (local.get $i) (i32.const 26))))
      (call $store_u8 (i64.add (local.get $k) (i64.const 2)) (i32.add (i32.const 97) (i32.rem_u (i32.div_u (local.get $i) (i32.const 26)) (i32.const 26))))
      (call $store_u8 (i64.add (local.get $k) (i64.const 3)) (i32.add (i32.const 97) (i32.div_u (local.get $i) (i32.const 676))))
      (local.set $r (call $sup_cache_set (local.get $k) (call $block (i32.const 16) (i32.const 1)) (i64.const -1)))
      (if (i32.eq (call $load_u8 (local.get $r)) (i32.const 1))
        (then (local.set $ok (i64.add (local.get $ok) (i64.const 1))))
        (else (local.set $err (i64.add (local.get $err) (i64.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.or (local.get $ok) (i64.shl (local.get $err) (i64.const 32))))
    (call $out (local.get $h))
    (i32.const 0))
  ;; unbounded recursion through host calls: reads, then writes
  (func $deep_get (drop (call $get_cache (global.get $key))) (call $deep_get))
  (func (export "recurse_get") (result i32)
    (global.set $key (call $block (i32.const 32) (i32.const 3))) (call $deep_get) (i32.const 0))
  (func $deep_set (drop (call $set_cache (global.get $key))) (call $deep_set))
  (func (export "recurse_set") (result i32)
    (global.set $key (call $block (i32.const 64) (i32.const ${SET_REQ.length}))) (call $deep_set) (i32.const 0))
  ;; reports an error through a handle that is no block
  (func (export "bad_error") (result i32) (call $error_set (i64.const 0x7FFF000000000001)) (i32.const 1))
)`;
}

/** A WASI plugin that pokes at what WASI must not give it. */
export function wasiAbuseWat(): string {
  return `(module
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/etc/passwd")
  (data (i32.const 32) "../../../../etc/passwd")
  ;; output one byte per attempt: the WASI errno (0 would mean success)
  (func (export "probe") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 5)))
    ;; open through fds 3 and 4, which would be the first preopens
    (call $store_u8 (local.get $h) (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 11) (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 200)))
    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (call $path_open (i32.const 4) (i32.const 0) (i32.const 32) (i32.const 22) (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 200)))
    ;; is anything preopened at all?
    (call $store_u8 (i64.add (local.get $h) (i64.const 2)) (call $prestat (i32.const 3) (i32.const 300)))
    ;; write through descriptors the plugin was never given
    (i32.store (i32.const 400) (i32.const 0)) (i32.store (i32.const 404) (i32.const 11))
    (call $store_u8 (i64.add (local.get $h) (i64.const 3)) (call $fd_write (i32.const 77) (i32.const 400) (i32.const 1) (i32.const 408)))
    (call $store_u8 (i64.add (local.get $h) (i64.const 4)) (call $fd_write (i32.const 3) (i32.const 400) (i32.const 1) (i32.const 408)))
    (call $output_set (local.get $h) (i64.const 5))
    (i32.const 0))
  ;; asks the runtime to end the process
  (func (export "exit") (result i32) (call $proc_exit (i32.const 7)) (i32.const 0))
)`;
}

/** Plugins whose get_required_env_vars is hostile: garbage, or a loop. */
export function envAbuseWat(kind: "garbage" | "loop"): string {
  return `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func (export "get_required_env_vars") (result i32) (local $h i64)
    ${
    kind === "loop"
      ? "(loop $forever (br $forever))"
      : `(local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (i32.const 123))
    (call $output_set (local.get $h) (i64.const 1))`
  }
    (i32.const 0))
)`;
}

/**
 * A plugin that passes its input (an Extism HTTP request JSON) to
 * http_request and outputs the response body, or "refused" for handle 0.
 */
export function fetchWat(): string {
  return `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "refused")
  (func (export "fetch") (result i32) (local $req i64) (local $n i64) (local $k i64) (local $res i64)
    (local.set $n (call $input_length))
    (local.set $req (call $alloc (local.get $n)))
    (block $done (loop $copy
      (br_if $done (i64.ge_u (local.get $k) (local.get $n)))
      (call $store_u8 (i64.add (local.get $req) (local.get $k)) (call $input_load_u8 (local.get $k)))
      (local.set $k (i64.add (local.get $k) (i64.const 1)))
      (br $copy)))
    (local.set $res (call $http_request (local.get $req) (i64.const 0)))
    (if (i64.eqz (local.get $res))
      (then
        (local.set $res (call $alloc (i64.const 7)))
        (local.set $k (i64.const 0))
        (block $d2 (loop $c2
          (br_if $d2 (i64.ge_u (local.get $k) (i64.const 7)))
          (call $store_u8 (i64.add (local.get $res) (local.get $k)) (i32.load8_u (i32.wrap_i64 (local.get $k))))
          (local.set $k (i64.add (local.get $k) (i64.const 1)))
          (br $c2)))))
    (call $output_set (local.get $res) (call $length (local.get $res)))
    (i32.const 0))
)`;
}

/**
 * The sandbox attacks (issue 9): each export tries to outrun the deadline,
 * outgrow the memory cap or take the host down. Compiled with npm:wabt
 * (exceptions and reference types on).
 */
export function sandboxAttackWat(): string {
  // 40 functions without loops, each calling the next twice: 2^40 calls.
  const chain = Array.from(
    { length: 40 },
    (_, i) =>
      i === 39
        ? `(func $chain${i})`
        : `(func $chain${i} (call $chain${i + 1}) (call $chain${i + 1}))`,
  ).join(
    "\n  ",
  );
  const hundredCalls = "(drop (call $length (i64.const 0)))\n".repeat(100);
  return `(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/user" "sup_cache_set" (func $sup_cache_set (param i64 i64 i64) (result i64)))
  (import "extism:host/user" "slow" (func $slow))
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (data (i32.const 16) "x")
  (data (i32.const 32) "spam")
  (data (i32.const 48) "n")
  ${WAT_BLOCK}
  (func $out (param $h i64) (call $output_set (local.get $h) (call $length (local.get $h))))
  (func (export "ok") (result i32) (call $out (call $block (i32.const 16) (i32.const 1))) (i32.const 0))
  (func (export "trap") (result i32) unreachable)
  ${chain}
  (func (export "call_chain") (result i32) (call $chain0) (i32.const 0))
  ;; 2^40 recursive calls, every one from inside a loop
  (func $rec (param $n i32) (local $i i32)
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $again
      (call $rec (i32.sub (local.get $n) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 2)))))
  (func (export "recursion_in_loops") (result i32) (call $rec (i32.const 40)) (i32.const 0))
  ;; one WASI clock subscription at 1024, events at 2048
  (func $sleep (param $ns i64) (param $flags i32) (result i32)
    (i64.store (i32.const 1024) (i64.const 42))
    (i32.store8 (i32.const 1032) (i32.const 0))
    (i32.store (i32.const 1040) (i32.const 1))
    (i64.store (i32.const 1048) (local.get $ns))
    (i64.store (i32.const 1056) (i64.const 0))
    (i32.store16 (i32.const 1064) (local.get $flags))
    (call $poll (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 4000)))
  (func (export "sleep_20s") (result i32) (drop (call $sleep (i64.const 20000000000) (i32.const 0))) (call $out (call $block (i32.const 16) (i32.const 1))) (i32.const 0))
  (func (export "sleep_forever") (result i32) (drop (call $sleep (i64.const -1) (i32.const 0))) (i32.const 0))
  (func (export "sleep_absolute") (result i32) (drop (call $sleep (i64.const -1) (i32.const 1))) (i32.const 0))
  ;; sleeps 1 ms at a time, forever
  (func (export "sleep_loop") (result i32) (loop $again (drop (call $sleep (i64.const 1000000) (i32.const 0))) (br $again)) (i32.const 0))
  ;; catches whatever the host throws and spins again
  (func (export "catch_loop") (result i32)
    (loop $again
      (block $caught (try_table (catch_all $caught) (loop $spin (br $spin))))
      (br $again))
    (i32.const 0))
  ;; catches the timeout once, then reports success
  (func (export "catch_ok") (result i32)
    (block $caught (try_table (catch_all $caught) (loop $spin (br $spin))))
    (call $out (call $block (i32.const 16) (i32.const 1)))
    (i32.const 0))
  ;; catches around every host call
  (func (export "catch_calls") (result i32)
    (loop $again
      (block $caught (try_table (catch_all $caught) (loop $spin (drop (call $length (i64.const 0))) (br $spin))))
      (br $again))
    (i32.const 0))
  ;; 16 MiB memory.fill per loop pass
  (func (export "fill_loop") (result i32)
    (drop (memory.grow (i32.const 256)))
    (loop $again (memory.fill (i32.const 0) (i32.const 7) (i32.const 16777216)) (br $again))
    (i32.const 0))
  ;; 16 MiB memory.copy per loop pass
  (func (export "copy_loop") (result i32)
    (drop (memory.grow (i32.const 512)))
    (loop $again (memory.copy (i32.const 16777216) (i32.const 0) (i32.const 16777216)) (br $again))
    (i32.const 0))
  ;; 100 host calls per loop pass
  (func (export "calls_loop") (result i32)
    (loop $again ${hundredCalls} (br $again))
    (i32.const 0))
  ;; one 256 KiB cache write per loop pass
  (func (export "sets_loop") (result i32) (local $v i64) (local $k i64)
    (local.set $k (call $block (i32.const 32) (i32.const 4)))
    (local.set $v (call $alloc (i64.const 262144)))
    (loop $again (drop (call $sup_cache_set (local.get $k) (local.get $v) (i64.const 0))) (br $again))
    (i32.const 0))
  ;; a host function that takes seconds (the test supplies it)
  (func (export "slow_host") (result i32) (call $slow) (call $out (call $block (i32.const 16) (i32.const 1))) (i32.const 0))
  ;; grows the table a million entries at a time until it cannot
  (func (export "table_bomb") (result i32)
    (loop $again
      (br_if $again (i32.ne (table.grow $t (ref.null func) (i32.const 1000000)) (i32.const -1))))
    unreachable)
  ;; grows linear memory until it cannot, then asks Extism for more
  (func (export "grow_then_alloc") (result i32)
    (loop $again (br_if $again (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (loop $more (drop (call $alloc (i64.const 1048576))) (br $more))
    (i32.const 0))
  ;; holds 24 MiB of Extism blocks, then grows linear memory by 16 MiB
  (func (export "alloc_then_grow") (result i32)
    (drop (call $alloc (i64.const 25165824)))
    (drop (memory.grow (i32.const 256)))
    (i32.const 0))
  ;; millions of one-byte Extism allocations
  (func (export "tiny_allocs") (result i32)
    (loop $again (drop (call $alloc (i64.const 1))) (br $again))
    (i32.const 0))
  ;; keeps copies of a 1 MiB block as Extism vars under new names
  (func (export "var_bomb") (result i32) (local $v i64) (local $k i64) (local $i i64)
    (local.set $v (call $alloc (i64.const 1048576)))
    (loop $again
      (local.set $k (call $alloc (i64.const 8)))
      (call $store_u64 (local.get $k) (local.get $i))
      (call $var_set (local.get $k) (local.get $v))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $again))
    (i32.const 0))
  ;; var "n" := the input; then output var "n"
  (func (export "var_put") (result i32) (local $v i64) (local $n i64) (local $k i64)
    (local.set $n (call $input_length))
    (local.set $v (call $alloc (local.get $n)))
    (block $done (loop $copy
      (br_if $done (i64.ge_u (local.get $k) (local.get $n)))
      (call $store_u8 (i64.add (local.get $v) (local.get $k)) (call $input_load_u8 (local.get $k)))
      (local.set $k (i64.add (local.get $k) (i64.const 1)))
      (br $copy)))
    (call $var_set (call $block (i32.const 48) (i32.const 1)) (local.get $v))
    (i32.const 0))
  (func (export "var_show") (result i32) (local $v i64)
    (local.set $v (call $var_get (call $block (i32.const 48) (i32.const 1))))
    (if (i64.eqz (local.get $v)) (then (local.set $v (call $alloc (i64.const 0)))))
    (call $out (local.get $v))
    (i32.const 0))
)`;
}

/**
 * Modules the host must refuse at load, as WebAssembly text that needs
 * features npm:wabt does not parse (GC, shared memory, several memories);
 * the test compiles them with Binaryen's text parser.
 */
export const REFUSED_WAT: Readonly<
  Record<string, { text: string; feature: RegExp }>
> = {
  gc: {
    feature: /garbage-collected|GC/,
    text: `(module
  (type $bytes (array (mut i8)))
  (type $list (array (mut (ref null $bytes))))
  (memory (export "memory") 1)
  (func (export "gc_bomb") (result i32) (local $l (ref null $list)) (local $i i32)
    (local.set $l (array.new_default $list (i32.const 1000000)))
    (loop $again
      (array.set $list (local.get $l) (local.get $i) (array.new_default $bytes (i32.const 16777216)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $again))
    (i32.const 0)))`,
  },
  shared: {
    feature: /shared memory/,
    text: `(module
  (memory (export "memory") 1 1 shared)
  (func (export "wait_forever") (result i32)
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))) (i32.const 0)))`,
  },
  multi: {
    feature: /memories/,
    text: `(module
  (memory $a (export "memory") 1)
  (memory $b 1)
  (func (export "grow_both") (result i32)
    (loop $again
      (br_if $again (i32.ne (memory.grow $b (i32.const 16)) (i32.const -1))))
    (i32.const 0)))`,
  },
};

/** A WASI command whose start function calls proc_exit while loading. */
export function exitAtLoadWat(): string {
  return `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $start (call $proc_exit (i32.const 3)))
  (start $start)
  (func (export "run") (result i32) (i32.const 0)))`;
}

/** A module whose start function never returns. */
export function loopAtLoadWat(): string {
  return `(module
  (memory (export "memory") 1)
  (func $start (loop $forever (br $forever)))
  (start $start)
  (func (export "run") (result i32) (i32.const 0)))`;
}
