/**
 * Byte-level checks and limits on a WebAssembly module's sections: what the
 * sandbox refuses (features whose memory it cannot cap) and the maxima it
 * writes into memories and tables. Binaryen is not needed for either, so
 * refusals are cheap and the limits can be applied to cached output.
 *
 * @module
 */
import { InstrumentError } from "./sandbox_errors.ts";

/** Bytes in a WebAssembly page. */
export const PAGE_BYTES = 65_536;
/** Entries a table may grow past its initial size. */
export const TABLE_GROWTH = 10_000;
/**
 * What one table entry is counted as against the memory cap: a tagged
 * pointer plus V8's dispatch-table entry for function references.
 */
export const TABLE_ENTRY_BYTES = 16;

function readLeb(buf: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[at++];
    if (byte === undefined) throw new InstrumentError("truncated LEB128");
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, at];
    scale *= 128;
  }
}

function writeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

interface Section {
  id: number;
  /** Offset of the section id byte. */
  at: number;
  /** Offset of the payload. */
  start: number;
  /** Offset just past the payload. */
  end: number;
}

function sections(wasm: Uint8Array): Section[] {
  if (
    wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 ||
    wasm[3] !== 0x6d
  ) {
    throw new InstrumentError("not a WebAssembly module (bad magic number)");
  }
  const out: Section[] = [];
  let at = 8;
  while (at < wasm.length) {
    const [size, start] = readLeb(wasm, at + 1);
    const end = start + size;
    if (end > wasm.length) throw new InstrumentError("truncated section");
    out.push({ id: wasm[at], at, start, end });
    at = end;
  }
  return out;
}

/**
 * Refuse what the sandbox cannot cap or stop, naming the feature:
 * garbage-collected types (V8 allocates them outside any memory the host
 * can limit, and a big enough array kills the process), shared memory (an
 * atomic wait blocks the host thread), more than one memory, custom page
 * sizes, and tables of typed references or with initializers.
 *
 * @example
 * ```ts
 * import { refuseUncappable } from "./wasm_sections.ts";
 * refuseUncappable(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); // fine
 * ```
 */
export function refuseUncappable(wasm: Uint8Array): void {
  for (const s of sections(wasm)) {
    if (s.id === 1) checkTypes(wasm, s);
    if (s.id === 5) {
      const [count, p] = readLeb(wasm, s.start);
      if (count > 1) {
        throw new InstrumentError(
          `the module defines ${count} memories; the sandbox caps one (multiple memories are refused)`,
        );
      }
      if (count === 1) memoryFlags(wasm[p]);
    }
    if (s.id === 4) {
      let [count, p] = readLeb(wasm, s.start);
      while (count-- > 0) p = tableLimits(wasm, p).next;
    }
  }
}

function checkTypes(wasm: Uint8Array, s: Section): void {
  const [count, first] = readLeb(wasm, s.start);
  let p = first;
  for (let i = 0; i < count; i++) {
    const form = wasm[p];
    if (form !== 0x60) {
      throw new InstrumentError(
        "the module uses WasmGC (garbage-collected struct, array or recursive types); V8 allocates those outside any memory the sandbox can cap, so they are refused",
      );
    }
    // A function type: params and results are value types; any reference
    // type with a heap type index (0x63/0x64) also comes from GC.
    p++;
    for (let list = 0; list < 2; list++) {
      let n: number;
      [n, p] = readLeb(wasm, p);
      for (let k = 0; k < n; k++) {
        const t = wasm[p++];
        if (t === 0x63 || t === 0x64) {
          throw new InstrumentError(
            "the module uses typed function references (WasmGC); they are refused",
          );
        }
      }
    }
  }
}

function memoryFlags(flags: number): void {
  if (flags & 2) {
    throw new InstrumentError(
      "the module uses shared memory (threads); an atomic wait would block the host thread, so it is refused",
    );
  }
  if (flags & 8) {
    throw new InstrumentError(
      "the module uses custom page sizes; they are refused",
    );
  }
}

function tableLimits(
  wasm: Uint8Array,
  p: number,
): { type: number; flags: number; min: number; max: number; next: number } {
  const type = wasm[p];
  if (type !== 0x70 && type !== 0x6f) {
    throw new InstrumentError(
      "the module has a table of typed references or with an initializer (WasmGC); it is refused",
    );
  }
  const flags = wasm[p + 1];
  let at = p + 2;
  let min: number;
  let max = Infinity;
  [min, at] = readLeb(wasm, at);
  if (flags & 1) [max, at] = readLeb(wasm, at);
  return { type, flags, min, max, next: at };
}

/** Result of {@link capLimits}. */
export interface Capped {
  /** The module with every memory and table given a maximum. */
  wasm: Uint8Array<ArrayBuffer>;
  /** Bytes the tables may hold at most, counted against the cap up front. */
  tableBytes: number;
  /** The memory maximum written, in pages. */
  maxPages: number;
}

/**
 * Give every table a maximum (its initial size plus {@link TABLE_GROWTH},
 * or less if declared) and the memory a maximum of what `maxMemoryBytes`
 * leaves after the tables.
 *
 * @example
 * ```ts
 * import { capLimits } from "./wasm_sections.ts";
 * const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * console.log(capLimits(empty, 1_048_576).maxPages); // 16
 * ```
 */
export function capLimits(wasm: Uint8Array, maxMemoryBytes: number): Capped {
  const all = sections(wasm);
  let tableBytes = 0;
  const tables = new Map<Section, number[]>();
  for (const s of all) {
    if (s.id !== 4) continue;
    let [count, p] = readLeb(wasm, s.start);
    const payload = writeLeb(count);
    while (count-- > 0) {
      const t = tableLimits(wasm, p);
      const max = Math.min(t.max, t.min + TABLE_GROWTH);
      tableBytes += max * TABLE_ENTRY_BYTES;
      payload.push(t.type, t.flags | 1, ...writeLeb(t.min), ...writeLeb(max));
      p = t.next;
    }
    tables.set(s, payload);
  }
  const maxPages = Math.floor((maxMemoryBytes - tableBytes) / PAGE_BYTES);
  if (maxPages < 1) {
    throw new InstrumentError(
      `its tables alone may hold ${
        tableBytes.toLocaleString("en-US")
      } bytes, leaving less than one memory page under maxMemoryBytes (${
        maxMemoryBytes.toLocaleString("en-US")
      })`,
    );
  }
  // Unchanged sections are copied as slices: pushing a module byte by byte
  // into an array cost 6-17 ms for a 64 KB plugin in a fresh process.
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  let length = 8;
  for (const s of all) {
    let payload = tables.get(s);
    if (s.id === 5) payload = memoryPayload(wasm, s, maxPages);
    const part = payload === undefined
      ? wasm.subarray(s.at, s.end)
      : Uint8Array.from([s.id, ...writeLeb(payload.length), ...payload]);
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return { wasm: out, tableBytes, maxPages };
}

function memoryPayload(
  wasm: Uint8Array,
  s: Section,
  maxPages: number,
): number[] {
  let [count, p] = readLeb(wasm, s.start);
  const payload = writeLeb(count);
  while (count-- > 0) {
    const flags = wasm[p++];
    memoryFlags(flags);
    let min: number;
    let max = Infinity;
    [min, p] = readLeb(wasm, p);
    if (flags & 1) [max, p] = readLeb(wasm, p);
    if (min > maxPages) {
      throw new InstrumentError(
        `the module starts with ${min} pages of memory (${
          (min * PAGE_BYTES).toLocaleString("en-US")
        } bytes), more than maxMemoryBytes allows (${maxPages} pages)`,
      );
    }
    payload.push(
      flags | 1,
      ...writeLeb(min),
      ...writeLeb(Math.min(max, maxPages)),
    );
  }
  return payload;
}

/**
 * Rename import module `from` to `to` (same length, so the bytes are
 * patched in place and no offset moves). Only import entries are touched,
 * never data that happens to hold the same text.
 *
 * @example
 * ```ts
 * import { renameImportModule } from "./wasm_sections.ts";
 * const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * console.log(renameImportModule(empty, "a", "b").length); // 8
 * ```
 */
export function renameImportModule(
  wasm: Uint8Array,
  from: string,
  to: string,
): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const a = encoder.encode(from);
  const b = encoder.encode(to);
  if (a.length !== b.length) {
    throw new InstrumentError("import module names must have the same length");
  }
  const out = new Uint8Array(wasm);
  for (const s of sections(out)) {
    if (s.id !== 2) continue;
    let [count, p] = readLeb(out, s.start);
    while (count-- > 0) {
      let len: number;
      [len, p] = readLeb(out, p);
      if (len === a.length && a.every((x, i) => out[p + i] === x)) {
        out.set(b, p);
      }
      p += len;
      [len, p] = readLeb(out, p);
      p += len;
      const kind = out[p++];
      if (kind === 0 || kind === 4) {
        if (kind === 4) p++;
        [, p] = readLeb(out, p);
      } else if (kind === 1) {
        p = tableLimits(out, p).next;
      } else if (kind === 2) {
        const flags = out[p++];
        [, p] = readLeb(out, p);
        if (flags & 1) [, p] = readLeb(out, p);
      } else if (kind === 3) {
        p += 2;
      } else {
        throw new InstrumentError(`unknown import kind ${kind}`);
      }
    }
  }
  return out;
}

/**
 * Pages the module's own memory starts with (0 when it defines none).
 *
 * @example
 * ```ts
 * import { initialPages } from "./wasm_sections.ts";
 * console.log(initialPages(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))); // 0
 * ```
 */
export function initialPages(wasm: Uint8Array): number {
  for (const s of sections(wasm)) {
    if (s.id !== 5) continue;
    const [count, p] = readLeb(wasm, s.start);
    if (count === 0) return 0;
    return readLeb(wasm, p + 1)[0];
  }
  return 0;
}
