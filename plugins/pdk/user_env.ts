// deno-fmt-ignore-file
// (deno fmt would delete the `@external` decorators, which AssemblyScript needs.)
/**
 * Raw imports from `extism:host/user`: sup's JSON host functions and
 * sup-cache's binary-safe ABI. Plugin code should use `sup_host.ts` and
 * `cache.ts`; AssemblyScript only emits an import that is actually called,
 * so a plugin that uses nothing but sup's functions still loads in sup's
 * Go host.
 *
 * @module
 */

// --- sup's JSON host functions (byte-compatible with sup's Go host) ---

/** sup: key block -> `{"success":true,"data":"..."}` or `{"success":false,"error":"..."}`. */
// @ts-ignore: decorator
@external("extism:host/user", "get_cache")
export declare function get_cache(keyHandle: u64): u64;

/** sup: `{"key":"...","value":"..."}` block -> 0 stored, non-zero failed. */
// @ts-ignore: decorator
@external("extism:host/user", "set_cache")
export declare function set_cache(requestHandle: u64): i32;

/** sup: like `get_cache`, on the never-expiring store. */
// @ts-ignore: decorator
@external("extism:host/user", "get_store")
export declare function get_store(keyHandle: u64): u64;

/** sup: like `set_cache`, on the never-expiring store. */
// @ts-ignore: decorator
@external("extism:host/user", "set_store")
export declare function set_store(requestHandle: u64): i32;

/** sup: prefix block -> `{"success":true,"keys":[...]}` or `{"success":false,"error":"..."}`. */
// @ts-ignore: decorator
@external("extism:host/user", "list_store")
export declare function list_store(prefixHandle: u64): u64;

// --- sup-cache binary-safe ABI: every function answers a reply block ---
// byte 0: 0 miss/false/absent, 1 ok/hit/true, 2 error; then the payload.

/** key -> 1 + value bytes, or 0. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_cache_get")
export declare function sup_cache_get(key: u64): u64;

/** key, value, ttl_ms (0 default, -1 never, >0 ms) -> 1. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_cache_set")
export declare function sup_cache_set(key: u64, value: u64, ttlMs: i64): u64;

/** key -> 1 deleted, 0 was absent. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_cache_delete")
export declare function sup_cache_delete(key: u64): u64;

/** key -> 1 present, 0 absent. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_cache_has")
export declare function sup_cache_has(key: u64): u64;

/** prefix, limit (0 = 100), cursor (0 = first page) -> 1 + `{"keys":[...],"cursor":...}`. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_cache_list")
export declare function sup_cache_list(prefix: u64, limit: i64, cursor: u64): u64;

/** key, by -> 1 + the new value as decimal ASCII. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_cache_increment")
export declare function sup_cache_increment(key: u64, by: i64): u64;

/** Store keyspace: key -> 1 + value bytes, or 0. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_store_get")
export declare function sup_store_get(key: u64): u64;

/** Store keyspace: key, value -> 1. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_store_set")
export declare function sup_store_set(key: u64, value: u64): u64;

/** Store keyspace: key -> 1 deleted, 0 was absent. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_store_delete")
export declare function sup_store_delete(key: u64): u64;

/** Store keyspace: prefix, limit, cursor -> 1 + `{"keys":[...],"cursor":...}`. */
// @ts-ignore: decorator
@external("extism:host/user", "sup_store_list")
export declare function sup_store_list(prefix: u64, limit: i64, cursor: u64): u64;
