/**
 * The output of a plugin call: bytes, with text and JSON helpers.
 *
 * @module
 */

const decoder = new TextDecoder();

/**
 * What `Plugin.call` returns when the plugin set an output, with the
 * JS SDK's `PluginOutput` methods `bytes()`, `text()`, `json()` and
 * `arrayBuffer()`. The bytes are a copy, so they stay valid after later
 * calls.
 *
 * @example
 * ```ts
 * import { PluginResult } from "./result.ts";
 * const r = new PluginResult(new TextEncoder().encode('{"ok":true}'));
 * console.log(r.text(), r.json<{ ok: boolean }>().ok); // {"ok":true} true
 * console.log(r.bytes().length); // 11
 * ```
 */
export class PluginResult {
  readonly #bytes: Uint8Array;
  /** Wrap output bytes (the caller hands over ownership). */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  /** The raw output (the same array on every call; copy it before changing it). */
  bytes(): Uint8Array {
    return this.#bytes;
  }
  /** The output's bytes in an `ArrayBuffer` of their own. */
  arrayBuffer(): ArrayBuffer {
    return this.#bytes.slice().buffer;
  }
  /** The output as UTF-8 text (invalid bytes become U+FFFD). */
  text(): string {
    return decoder.decode(this.#bytes);
  }
  /** The output parsed as JSON; throws `SyntaxError` when it is not JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}
