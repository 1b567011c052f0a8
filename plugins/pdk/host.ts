/**
 * The Extism kernel as a plugin author uses it: the call's input and output,
 * host-supplied config, per-plugin variables, logging and failing a call
 * with a message. Everything is bytes underneath; the string helpers encode
 * UTF-8 with exact byte lengths (hosts take the whole output block, so a
 * length counted in UTF-16 units would corrupt non-ASCII text).
 *
 * @module
 */
import {
  config_get,
  error_set,
  input_length,
  input_load_u64,
  input_load_u8,
  log_debug,
  log_error,
  log_info,
  log_warn,
  output_set,
  var_get,
  var_set,
} from "./env";
import { allocBytes, allocString, fromUtf8, readBytes, utf8 } from "./memory";

/** The call's input bytes (empty when the host sent none). */
export function input(): Uint8Array {
  const n = i32(input_length());
  const out = new Uint8Array(n);
  const dst = out.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    store<u64>(dst + usize(i), input_load_u64(u64(i)));
  }
  for (; i < n; i++) {
    store<u8>(dst + usize(i), input_load_u8(u64(i)));
  }
  return out;
}

/** The call's input decoded as UTF-8. */
export function inputString(): string {
  return fromUtf8(input());
}

/** Set the call's output bytes (the last call wins). */
export function output(data: Uint8Array): void {
  const handle = allocBytes(data);
  output_set(handle, u64(data.length));
}

/** Set the call's output to UTF-8 text. */
export function outputString(text: string): void {
  output(utf8(text));
}

/**
 * Fail the current call with `message`: the host reports the call as an
 * error carrying this text (the JS SDK throws "Plugin-originated error:
 * ..."). Return a non-zero code from the export afterwards.
 */
export function setError(message: string): void {
  error_set(allocString(message));
}

/**
 * A config value the host set for this plugin, or `null` when it set none.
 * Extism hosts store config as strings, so the value is decoded as UTF-8.
 */
export function config(key: string): string | null {
  const handle = config_get(allocString(key));
  if (handle == 0) return null;
  return fromUtf8(readBytes(handle));
}

/**
 * A plugin variable: memory the host keeps for this plugin instance between
 * calls (not across restarts; use the cache or store for that). `null` when
 * unset. Hosts may not tell an empty value from an unset one.
 */
export function getVar(key: string): Uint8Array | null {
  const handle = var_get(allocString(key));
  if (handle == 0) return null;
  return readBytes(handle);
}

/** Set a plugin variable (see {@link getVar}). */
export function setVar(key: string, value: Uint8Array): void {
  var_set(allocString(key), allocBytes(value));
}

/** Remove a plugin variable. */
export function removeVar(key: string): void {
  var_set(allocString(key), 0);
}

/** Log levels the Extism kernel accepts. */
export enum LogLevel {
  Debug,
  Info,
  Warn,
  Error,
}

/** Write a line to the host's logger; hosts filter by their configured level. */
export function log(level: LogLevel, message: string): void {
  const handle = allocString(message);
  if (level == LogLevel.Debug) log_debug(handle);
  else if (level == LogLevel.Info) log_info(handle);
  else if (level == LogLevel.Warn) log_warn(handle);
  else log_error(handle);
}
