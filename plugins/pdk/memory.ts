/**
 * Moving bytes between the plugin's own linear memory and Extism memory
 * blocks, which is how every host call passes data. Copies go eight bytes
 * per kernel call because each kernel call crosses into the host.
 *
 * @module
 */
import {
  alloc,
  free,
  length,
  load_u64,
  load_u8,
  store_u64,
  store_u8,
} from "./env";

/** UTF-8 bytes of `text`; every host call takes and returns bytes, never AssemblyScript's UTF-16 strings. */
export function utf8(text: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(text));
}

/** Decode UTF-8 bytes (invalid sequences become U+FFFD, as in the host). */
export function fromUtf8(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, bytes.length);
}

/**
 * Copy `data` into a new Extism block and return its handle. Aborts the call
 * when the host refuses the allocation (its memory cap), because a plugin
 * cannot do anything useful after that and a silent 0 handle would be read
 * as "empty" by the host.
 */
export function allocBytes(data: Uint8Array): u64 {
  const n = data.length;
  const handle = alloc(u64(n));
  if (handle == 0 && n > 0) {
    abort("the host refused to allocate " + n.toString() + " bytes");
  }
  const src = data.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    store_u64(handle + u64(i), load<u64>(src + usize(i)));
  }
  for (; i < n; i++) {
    store_u8(handle + u64(i), load<u8>(src + usize(i)));
  }
  return handle;
}

/** {@link allocBytes} for UTF-8 text. */
export function allocString(text: string): u64 {
  return allocBytes(utf8(text));
}

/** Copy the whole block behind `handle` into a new array (empty for handle 0). */
export function readBytes(handle: u64): Uint8Array {
  if (handle == 0) return new Uint8Array(0);
  const n = i32(length(handle));
  const out = new Uint8Array(n);
  const dst = out.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    store<u64>(dst + usize(i), load_u64(handle + u64(i)));
  }
  for (; i < n; i++) {
    store<u8>(dst + usize(i), load_u8(handle + u64(i)));
  }
  return out;
}

/** {@link readBytes} decoded as UTF-8. */
export function readString(handle: u64): string {
  return fromUtf8(readBytes(handle));
}

/** Release a block the plugin allocated and no longer needs; 0 is ignored. */
export function freeBlock(handle: u64): void {
  if (handle != 0) free(handle);
}
