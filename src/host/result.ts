/**
 * The output of a plugin call: bytes, with text and JSON helpers.
 *
 * @module
 */

const decoder = new TextDecoder();

/**
 * What `SupPlugin.call` returns. The bytes are a copy, so they stay valid
 * after later calls.
 *
 * @example
 * ```ts
 * import { PluginResult } from "./result.ts";
 * const r = new PluginResult(new TextEncoder().encode('{"ok":true}'));
 * console.log(r.text(), r.json<{ ok: boolean }>().ok); // {"ok":true} true
 * ```
 */
export class PluginResult {
  /** The raw output (empty when the plugin set none). */
  readonly bytes: Uint8Array;
  /** Wrap output bytes (the caller hands over ownership). */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  /** The output as UTF-8 text (invalid bytes become U+FFFD). */
  text(): string {
    return decoder.decode(this.bytes);
  }
  /** The output parsed as JSON; throws `SyntaxError` when it is not JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}
