/**
 * JSON encoding that matches Go's `encoding/json` byte for byte, so the
 * sup-compatible host functions answer exactly what sup's Go host answers.
 * Go differs from `JSON.stringify` in three ways that plugins can observe:
 * it escapes `<`, `>`, `&`, U+2028 and U+2029 as `\u003c`-style sequences,
 * it turns each invalid UTF-8 byte into the six characters `\ufffd`, and it
 * works on bytes (a value need not be valid UTF-8).
 *
 * @module
 */

const HEX = "0123456789abcdef";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Whether an ASCII byte needs no escaping under Go's HTML-safe rules. */
function htmlSafe(b: number): boolean {
  return b >= 0x20 && b !== 0x22 && b !== 0x5c && b !== 0x3c && b !== 0x3e &&
    b !== 0x26;
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when it is invalid (Go's `utf8.DecodeRune` rules). */
function runeLength(src: Uint8Array, i: number): number {
  const b0 = src[i];
  const n = src.length - i;
  const cont = (k: number, lo = 0x80, hi = 0xbf) =>
    k < n && src[i + k] >= lo && src[i + k] <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 >= 0xe1 && b0 <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * Encode bytes (or text) as a Go JSON string literal, quotes included.
 *
 * @example
 * ```ts
 * import { goJsonString } from "./go_json.ts";
 * console.log(goJsonString("a<b\n")); // "a\u003cb\n"
 * ```
 */
export function goJsonString(value: Uint8Array | string): string {
  const src = typeof value === "string" ? encoder.encode(value) : value;
  let out = '"';
  let start = 0;
  const flush = (end: number) => {
    if (end > start) out += decoder.decode(src.subarray(start, end));
  };
  let i = 0;
  while (i < src.length) {
    const b = src[i];
    if (b < 0x80) {
      if (htmlSafe(b)) {
        i++;
        continue;
      }
      flush(i);
      switch (b) {
        case 0x22:
          out += '\\"';
          break;
        case 0x5c:
          out += "\\\\";
          break;
        case 0x08:
          out += "\\b";
          break;
        case 0x0c:
          out += "\\f";
          break;
        case 0x0a:
          out += "\\n";
          break;
        case 0x0d:
          out += "\\r";
          break;
        case 0x09:
          out += "\\t";
          break;
        default:
          out += "\\u00" + HEX[b >> 4] + HEX[b & 0xf];
      }
      i++;
      start = i;
      continue;
    }
    const size = runeLength(src, i);
    if (size === 0) {
      flush(i);
      out += "\\ufffd";
      i++;
      start = i;
      continue;
    }
    // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
    if (
      size === 3 && b === 0xe2 && src[i + 1] === 0x80 &&
      (src[i + 2] & 0xfe) === 0xa8
    ) {
      flush(i);
      out += "\\u202" + HEX[src[i + 2] & 0xf];
      i += 3;
      start = i;
      continue;
    }
    i += size;
  }
  flush(src.length);
  return out + '"';
}

/** One field of a Go struct being marshalled: `omitEmpty` mirrors the `,omitempty` tag. */
export type GoField =
  | [name: string, value: boolean | number]
  | [name: string, value: string | Uint8Array | string[], omitEmpty: true];

/**
 * Marshal fields in order, as Go does for a struct: fields tagged
 * `omitempty` vanish when empty (an empty string, or a nil or empty slice).
 *
 * @example
 * ```ts
 * import { goJsonObject } from "./go_json.ts";
 * console.log(goJsonObject([["success", true], ["data", "", true]])); // {"success":true}
 * ```
 */
export function goJsonObject(fields: GoField[]): string {
  const parts: string[] = [];
  for (const field of fields) {
    const [name, value] = field;
    let encoded: string;
    if (typeof value === "boolean" || typeof value === "number") {
      encoded = String(value);
    } else if (Array.isArray(value)) {
      if (value.length === 0) continue;
      encoded = "[" + value.map((v) => goJsonString(v)).join(",") + "]";
    } else {
      if (value.length === 0) continue;
      encoded = goJsonString(value);
    }
    parts.push(`"${name}":${encoded}`);
  }
  return "{" + parts.join(",") + "}";
}

const DATA_OPEN = encoder.encode('{"success":true,"data":"');
const DATA_CLOSE = encoder.encode('"}');

/**
 * sup's hit reply `{"success":true,"data":"..."}` built straight on bytes
 * when the value needs no escaping (plain printable ASCII, the common case
 * for cached text), skipping a decode, a string build and an encode on the
 * plugin's hottest path. Returns `null` otherwise (including for an empty
 * value, which `omitempty` drops); then use {@link goJsonObject}.
 *
 * @example
 * ```ts
 * import { plainDataReply } from "./go_json.ts";
 * const reply = plainDataReply(new TextEncoder().encode("42"));
 * console.log(new TextDecoder().decode(reply!)); // {"success":true,"data":"42"}
 * ```
 */
export function plainDataReply(value: Uint8Array): Uint8Array | null {
  if (value.length === 0) return null;
  for (let i = 0; i < value.length; i++) {
    const b = value[i];
    if (b >= 0x80 || !htmlSafe(b)) return null;
  }
  const out = new Uint8Array(
    DATA_OPEN.length + value.length + DATA_CLOSE.length,
  );
  out.set(DATA_OPEN);
  out.set(value, DATA_OPEN.length);
  out.set(DATA_CLOSE, DATA_OPEN.length + value.length);
  return out;
}
