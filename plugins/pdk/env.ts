// deno-fmt-ignore-file
// (deno fmt would delete the `@external` decorators, which AssemblyScript needs.)
/**
 * The Extism kernel imports (`extism:host/env`): the raw functions every
 * Extism host provides. Plugin code should use `host.ts` and `memory.ts`
 * instead; these are exported only so those modules, and authors who need
 * something the PDK does not wrap, can reach them.
 *
 * Every memory handle is a full 64-bit value: the JS SDK keeps the block
 * index in the top 16 bits, so truncating a handle to 32 bits breaks there.
 *
 * @module
 */

/** Byte length of the current call's input; the input is read with `input_load_*`. */
// @ts-ignore: decorator
@external("extism:host/env", "input_length")
export declare function input_length(): u64;

/** One input byte at `offset`. */
// @ts-ignore: decorator
@external("extism:host/env", "input_load_u8")
export declare function input_load_u8(offset: u64): u8;

/** Eight input bytes at `offset`, little-endian. */
// @ts-ignore: decorator
@external("extism:host/env", "input_load_u64")
export declare function input_load_u64(offset: u64): u64;

/** Allocate a block of `length` bytes in Extism memory; returns its handle (0 when refused). */
// @ts-ignore: decorator
@external("extism:host/env", "alloc")
export declare function alloc(length: u64): u64;

/** Release a block; its handle must not be used afterwards. */
// @ts-ignore: decorator
@external("extism:host/env", "free")
export declare function free(handle: u64): void;

/** Byte length of the block behind `handle` (0 when the handle is unknown). */
// @ts-ignore: decorator
@external("extism:host/env", "length")
export declare function length(handle: u64): u64;

/** One byte of Extism memory (`handle + offset`). */
// @ts-ignore: decorator
@external("extism:host/env", "load_u8")
export declare function load_u8(address: u64): u8;

/** Eight bytes of Extism memory, little-endian. */
// @ts-ignore: decorator
@external("extism:host/env", "load_u64")
export declare function load_u64(address: u64): u64;

/** Write one byte of Extism memory. */
// @ts-ignore: decorator
@external("extism:host/env", "store_u8")
export declare function store_u8(address: u64, value: u8): void;

/** Write eight bytes of Extism memory, little-endian. */
// @ts-ignore: decorator
@external("extism:host/env", "store_u64")
export declare function store_u64(address: u64, value: u64): void;

/** Make the block behind `handle` the call's output. Hosts take the whole block, so allocate exactly `length` bytes. */
// @ts-ignore: decorator
@external("extism:host/env", "output_set")
export declare function output_set(handle: u64, length: u64): void;

/** Make the block behind `handle` (UTF-8 text) the call's error; the host reports the call as failed. */
// @ts-ignore: decorator
@external("extism:host/env", "error_set")
export declare function error_set(handle: u64): void;

/** Handle of the config value named by the key block, or 0 when absent. */
// @ts-ignore: decorator
@external("extism:host/env", "config_get")
export declare function config_get(keyHandle: u64): u64;

/** Handle of the plugin variable named by the key block, or 0 when absent. */
// @ts-ignore: decorator
@external("extism:host/env", "var_get")
export declare function var_get(keyHandle: u64): u64;

/** Set a plugin variable; a value handle of 0 deletes it. */
// @ts-ignore: decorator
@external("extism:host/env", "var_set")
export declare function var_set(keyHandle: u64, valueHandle: u64): void;

/** Log the UTF-8 text in the block at info level. */
// @ts-ignore: decorator
@external("extism:host/env", "log_info")
export declare function log_info(handle: u64): void;

/** Log at debug level. */
// @ts-ignore: decorator
@external("extism:host/env", "log_debug")
export declare function log_debug(handle: u64): void;

/** Log at warn level. */
// @ts-ignore: decorator
@external("extism:host/env", "log_warn")
export declare function log_warn(handle: u64): void;

/** Log at error level. */
// @ts-ignore: decorator
@external("extism:host/env", "log_error")
export declare function log_error(handle: u64): void;
