/**
 * sup-cache's AssemblyScript PDK. Import everything from here:
 *
 * ```ts
 * import { SupPlugin, Help, Input, Output, Cache, registerPlugin } from "../pdk";
 * export {
 *   handle_message, get_help, get_name, get_version, get_topics, get_required_env_vars,
 * } from "../pdk";
 * ```
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
