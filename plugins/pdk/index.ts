/**
 * sup-cache's AssemblyScript PDK, the package `@sup/pdk`. Import everything
 * from here:
 *
 * ```ts
 * import { SupPlugin, Help, Input, Output, Cache, registerPlugin } from "@sup/pdk";
 * export {
 *   handle_message, get_help, get_name, get_version, get_topics, get_required_env_vars,
 * } from "@sup/pdk";
 * ```
 *
 * Build with `build.ts` beside this file (`buildPlugin`, or
 * `jsr:@sup/cache/build-plugin`), or with plain `asc` and the flags in its
 * `ASC_FLAGS`.
 *
 * Modules: `host` (Extism kernel: input, output, config, vars, log),
 * `memory` (bytes and handles), `json`, `sup_host` (sup's JSON host
 * functions), `cache` (the binary-safe ABI), `plugin` (sup's contract).
 *
 * @module
 */
export * from "./abort";
export * from "./memory";
export * from "./host";
export * from "./json";
export * from "./sup_host";
export * from "./cache";
export * from "./plugin";
