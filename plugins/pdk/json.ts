/**
 * A small JSON value, parser and serializer. sup's plugin contract and its
 * host functions speak JSON, and AssemblyScript has no `JSON` global; this
 * covers what plugins need (RFC 8259 text, insertion-ordered objects, exact
 * integers up to 2^53) without a compiler transform or another dependency.
 *
 * @module
 */

/** Which JSON type a {@link JsonValue} holds. */
export enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** One JSON value of any kind; build them with the static constructors. */
export class JsonValue {
  /** The JSON type. */
  kind: JsonKind = JsonKind.Null;
  private b: bool = false;
  private n: f64 = 0;
  /** The literal a parsed number came from; re-emitted verbatim (see writeNumber). */
  private raw: string | null = null;
  private s: string = "";
  private items: Array<JsonValue> = [];
  private keyOrder: Array<string> = [];
  private fields: Map<string, JsonValue> = new Map<string, JsonValue>();

  /** `null`. */
  static null(): JsonValue {
    return new JsonValue();
  }

  /** `true` / `false`. */
  static bool(value: bool): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Bool;
    v.b = value;
    return v;
  }

  /** A number (stored as f64, like JavaScript). */
  static number(value: f64): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.n = value;
    return v;
  }

  /** A parsed number that remembers its literal text. */
  static numberLiteral(text: string): JsonValue {
    const v = JsonValue.number(parseFloat(text));
    v.raw = text;
    return v;
  }

  /** The literal text of a parsed number, or `null`. */
  get numberText(): string | null {
    return this.raw;
  }

  /** A string. */
  static string(value: string): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.String;
    v.s = value;
    return v;
  }

  /** An empty array; add items with {@link push}. */
  static array(): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    return v;
  }

  /** An array of strings (sup's topics and env var lists). */
  static stringArray(values: Array<string>): JsonValue {
    const v = JsonValue.array();
    for (let i = 0; i < values.length; i++) v.push(JsonValue.string(values[i]));
    return v;
  }

  /** An empty object; add fields with {@link set}. */
  static object(): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    return v;
  }

  /** Whether this is `null`. */
  get isNull(): bool {
    return this.kind == JsonKind.Null;
  }

  /** The boolean, or `false` for other kinds. */
  asBool(): bool {
    return this.kind == JsonKind.Bool ? this.b : false;
  }

  /** The number, or NaN for other kinds. */
  asNumber(): f64 {
    return this.kind == JsonKind.Number ? this.n : NaN;
  }

  /** The string, or `null` for other kinds (so a wrong type is not mistaken for ""). */
  asString(): string | null {
    return this.kind == JsonKind.String ? this.s : null;
  }

  /** Array items (empty for other kinds). */
  asArray(): Array<JsonValue> {
    return this.items;
  }

  /** Object keys in insertion order (empty for other kinds). */
  keys(): Array<string> {
    return this.keyOrder;
  }

  /** Append to an array. */
  push(item: JsonValue): JsonValue {
    this.items.push(item);
    return this;
  }

  /** An object field, or `null` when absent (or this is not an object). */
  get(key: string): JsonValue | null {
    return this.fields.has(key) ? this.fields.get(key) : null;
  }

  /** A string field, or `null` when absent or not a string. */
  getString(key: string): string | null {
    const v = this.get(key);
    return v === null ? null : v.asString();
  }

  /** Set an object field; a new key goes last, an existing key keeps its place. */
  set(key: string, value: JsonValue): JsonValue {
    if (!this.fields.has(key)) this.keyOrder.push(key);
    this.fields.set(key, value);
    return this;
  }

  /** Remove an object field; `true` when it existed. */
  remove(key: string): bool {
    if (!this.fields.has(key)) return false;
    this.fields.delete(key);
    const i = this.keyOrder.indexOf(key);
    this.keyOrder.splice(i, 1);
    return true;
  }

  /** Serialize as compact JSON text. */
  stringify(): string {
    const parts = new Array<string>();
    writeValue(this, parts);
    return parts.join("");
  }
}

/** Quote and escape `text` as a JSON string literal. */
export function quote(text: string): string {
  const parts = new Array<string>();
  writeString(text, parts);
  return parts.join("");
}

const HEX = "0123456789abcdef";

function hex4(unit: i32): string {
  return "\\u" + HEX.charAt((unit >> 12) & 15) + HEX.charAt((unit >> 8) & 15) +
    HEX.charAt((unit >> 4) & 15) + HEX.charAt(unit & 15);
}

function writeString(text: string, out: Array<string>): void {
  out.push('"');
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    let esc: string | null = null;
    if (c == 0x22) esc = '\\"';
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0d) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c == 0x08) esc = "\\b";
    else if (c == 0x0c) esc = "\\f";
    else if (c < 0x20) esc = hex4(c);
    else if (c >= 0xd800 && c <= 0xdbff) {
      // A high surrogate must be followed by a low one; a lone one is
      // escaped so the text stays valid UTF-8 on the wire.
      const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      esc = hex4(c);
    } else if (c >= 0xdc00 && c <= 0xdfff) esc = hex4(c);
    if (esc !== null) {
      if (i > start) out.push(text.substring(start, i));
      out.push(esc);
      start = i + 1;
    }
  }
  if (start < n) out.push(text.substring(start, n));
  out.push('"');
}

function writeNumber(v: JsonValue, out: Array<string>): void {
  // A parsed number is written back exactly as it was read: AssemblyScript's
  // float parsing and printing can differ from JavaScript's in the last
  // digit of extreme values, and a read-modify-write of a document must not
  // change numbers it did not touch.
  const raw = v.numberText;
  if (raw !== null) {
    out.push(raw);
    return;
  }
  const n = v.asNumber();
  if (!isFinite(n)) {
    out.push("null"); // JSON has no NaN or Infinity; JSON.stringify does the same.
  } else if (n == Math.floor(n) && Math.abs(n) < 9007199254740992.0) {
    out.push(i64(n).toString());
  } else {
    out.push(n.toString());
  }
}

function writeValue(v: JsonValue, out: Array<string>): void {
  switch (v.kind) {
    case JsonKind.Null:
      out.push("null");
      break;
    case JsonKind.Bool:
      out.push(v.asBool() ? "true" : "false");
      break;
    case JsonKind.Number:
      writeNumber(v, out);
      break;
    case JsonKind.String:
      writeString(v.asString()!, out);
      break;
    case JsonKind.Array: {
      out.push("[");
      const items = v.asArray();
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.push(",");
        writeValue(items[i], out);
      }
      out.push("]");
      break;
    }
    default: {
      out.push("{");
      const keys = v.keys();
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) out.push(",");
        writeString(keys[i], out);
        out.push(":");
        writeValue(v.get(keys[i])!, out);
      }
      out.push("}");
    }
  }
}

/** Outcome of {@link parse}: a value, or the reason the text is not JSON. */
export class ParseResult {
  constructor(
    /** The parsed value (`null` JSON value when parsing failed). */
    public value: JsonValue,
    /** Why the text is not JSON, or `null` on success. */
    public error: string | null,
  ) {}

  /** Whether parsing succeeded. */
  get ok(): bool {
    return this.error === null;
  }
}

/** Nesting limit, so hostile input cannot exhaust the wasm stack. */
const MAX_DEPTH = 256;

class Parser {
  pos: i32 = 0;
  error: string | null = null;
  constructor(public text: string) {}

  fail(message: string): JsonValue {
    if (this.error === null) {
      this.error = message + " at offset " + this.pos.toString();
    }
    return JsonValue.null();
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.pos++;
      else break;
    }
  }

  literal(word: string, value: JsonValue): JsonValue {
    if (this.text.substr(this.pos, word.length) != word) {
      return this.fail("unexpected token");
    }
    this.pos += word.length;
    return value;
  }

  value(depth: i32): JsonValue {
    if (depth > MAX_DEPTH) return this.fail("nesting deeper than 256");
    this.skipSpace();
    if (this.pos >= this.text.length) return this.fail("unexpected end");
    const c = this.text.charCodeAt(this.pos);
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      return s === null ? JsonValue.null() : JsonValue.string(s);
    }
    if (c == 0x74) return this.literal("true", JsonValue.bool(true));
    if (c == 0x66) return this.literal("false", JsonValue.bool(false));
    if (c == 0x6e) return this.literal("null", JsonValue.null());
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail("unexpected character");
  }

  number(): JsonValue {
    const t = this.text;
    const start = this.pos;
    if (t.charCodeAt(this.pos) == 0x2d) this.pos++;
    const intStart = this.pos;
    while (this.pos < t.length && isDigit(t.charCodeAt(this.pos))) this.pos++;
    const intLen = this.pos - intStart;
    if (intLen == 0 || (intLen > 1 && t.charCodeAt(intStart) == 0x30)) {
      return this.fail("invalid number");
    }
    if (this.pos < t.length && t.charCodeAt(this.pos) == 0x2e) {
      this.pos++;
      const f = this.pos;
      while (this.pos < t.length && isDigit(t.charCodeAt(this.pos))) this.pos++;
      if (this.pos == f) return this.fail("invalid number");
    }
    if (
      this.pos < t.length &&
      (t.charCodeAt(this.pos) == 0x65 || t.charCodeAt(this.pos) == 0x45)
    ) {
      this.pos++;
      if (
        this.pos < t.length &&
        (t.charCodeAt(this.pos) == 0x2b || t.charCodeAt(this.pos) == 0x2d)
      ) this.pos++;
      const e = this.pos;
      while (this.pos < t.length && isDigit(t.charCodeAt(this.pos))) this.pos++;
      if (this.pos == e) return this.fail("invalid number");
    }
    return JsonValue.numberLiteral(t.substring(start, this.pos));
  }

  hex(): i32 {
    if (this.pos + 4 > this.text.length) return -1;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.text.charCodeAt(this.pos + i);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      v = (v << 4) | d;
    }
    this.pos += 4;
    return v;
  }

  /** Reads a string literal at `pos` (which is a quote); null on error. */
  string(): string | null {
    const t = this.text;
    this.pos++;
    const parts = new Array<string>();
    let start = this.pos;
    while (true) {
      if (this.pos >= t.length) {
        this.fail("unterminated string");
        return null;
      }
      const c = t.charCodeAt(this.pos);
      if (c == 0x22) {
        parts.push(t.substring(start, this.pos));
        this.pos++;
        return parts.join("");
      }
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      parts.push(t.substring(start, this.pos));
      this.pos++;
      if (this.pos >= t.length) {
        this.fail("unterminated string");
        return null;
      }
      const e = t.charCodeAt(this.pos);
      this.pos++;
      if (e == 0x22) parts.push('"');
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        const unit = this.hex();
        if (unit < 0) {
          this.fail("invalid \\u escape");
          return null;
        }
        parts.push(String.fromCharCode(unit));
      } else {
        this.pos--;
        this.fail("invalid escape");
        return null;
      }
      start = this.pos;
    }
  }

  array(depth: i32): JsonValue {
    this.pos++;
    const out = JsonValue.array();
    this.skipSpace();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x5d) {
      this.pos++;
      return out;
    }
    while (true) {
      const item = this.value(depth + 1);
      if (this.error !== null) return item;
      out.push(item);
      this.skipSpace();
      if (this.pos >= this.text.length) return this.fail("unterminated array");
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c == 0x5d) return out;
      if (c != 0x2c) {
        this.pos--;
        return this.fail("expected ',' or ']'");
      }
    }
  }

  object(depth: i32): JsonValue {
    this.pos++;
    const out = JsonValue.object();
    this.skipSpace();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x7d) {
      this.pos++;
      return out;
    }
    while (true) {
      this.skipSpace();
      if (
        this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x22
      ) {
        return this.fail("expected a string key");
      }
      const key = this.string();
      if (key === null) return JsonValue.null();
      this.skipSpace();
      if (
        this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x3a
      ) {
        return this.fail("expected ':'");
      }
      this.pos++;
      const item = this.value(depth + 1);
      if (this.error !== null) return item;
      out.set(key, item);
      this.skipSpace();
      if (this.pos >= this.text.length) return this.fail("unterminated object");
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c == 0x7d) return out;
      if (c != 0x2c) {
        this.pos--;
        return this.fail("expected ',' or '}'");
      }
    }
  }
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** Parse JSON text; check `.ok` (or `.error`) before using `.value`. */
export function parse(text: string): ParseResult {
  const p = new Parser(text);
  const v = p.value(0);
  if (p.error === null) {
    p.skipSpace();
    if (p.pos != text.length) p.fail("trailing characters");
  }
  return new ParseResult(p.error === null ? v : JsonValue.null(), p.error);
}
