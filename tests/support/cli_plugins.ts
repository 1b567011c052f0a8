/**
 * Plugins for the CLI's `call` and `message` tests: the real counter
 * example, and a small hand-written one for the failure paths (a plugin
 * answering success: false, one that traps, binary output).
 */
import { compileWat } from "../fixtures/wat.ts";

const FAILURE = '{"success":false,"error":"boom"}';

/** `echo` outputs its input; `handle_message` answers a failure; `crash` traps. */
const ODD_WAT = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "${FAILURE.replaceAll('"', '\\"')}")
  (func (export "echo") (result i32) (local $n i64) (local $h i64) (local $k i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done (loop $copy
      (br_if $done (i64.ge_u (local.get $k) (local.get $n)))
      (call $store_u8 (i64.add (local.get $h) (local.get $k))
        (call $input_load_u8 (local.get $k)))
      (local.set $k (i64.add (local.get $k) (i64.const 1)))
      (br $copy)))
    (call $output_set (local.get $h) (local.get $n))
    (i32.const 0))
  (func (export "handle_message") (result i32) (local $h i64) (local $k i32)
    (local.set $h (call $alloc (i64.const ${FAILURE.length})))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $k) (i32.const ${FAILURE.length})))
      (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $k)))
        (i32.load8_u (local.get $k)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $copy)))
    (call $output_set (local.get $h) (i64.const ${FAILURE.length}))
    (i32.const 0))
  (func (export "crash") (result i32) unreachable)
)`;

/** Write the odd plugin to `dir/odd.wasm` and return its path. */
export async function writeOddPlugin(dir: string): Promise<string> {
  const path = `${dir}/odd.wasm`;
  await Deno.writeFile(path, await compileWat("odd", ODD_WAT));
  return path;
}

/** `bytes` as a WAT data string: every byte as a \\hh escape. */
function watBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
}

/**
 * Write a plugin to `dir/<name>.wasm` whose `handle_message` answers
 * `reply` (the JSON text, byte for byte) whatever it is sent.
 */
export async function writeReplyPlugin(
  dir: string,
  name: string,
  reply: string,
): Promise<string> {
  const bytes = new TextEncoder().encode(reply);
  const wat = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "${watBytes(bytes)}")
  (func (export "handle_message") (result i32) (local $h i64) (local $k i32)
    (local.set $h (call $alloc (i64.const ${bytes.length})))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $k) (i32.const ${bytes.length})))
      (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $k)))
        (i32.load8_u (local.get $k)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $copy)))
    (call $output_set (local.get $h) (i64.const ${bytes.length}))
    (i32.const 0))
)`;
  const path = `${dir}/${name}.wasm`;
  await Deno.writeFile(path, await compileWat(name, wat));
  return path;
}
