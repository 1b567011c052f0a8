// deno-fmt-ignore-file
// (deno fmt would delete the `@global` decorator, which AssemblyScript needs.)
/**
 * The plugin's `abort` (what AssemblyScript calls on a failed assertion,
 * an out-of-bounds access or an explicit `abort()`). The build wires it in
 * with `--use abort=pdkAbort` (a global name, so it works however the kit
 * is imported: `@sup/pdk` or a relative path) so the module does not import
 * `env.abort`, which Extism hosts do not provide. It logs the message,
 * records it as the call's error, and traps, so the host sees a failed call
 * with a reason instead of a bare "unreachable".
 *
 * @module
 */
import { alloc, error_set, log_error, store_u8 } from "./env";

/** Replacement for AssemblyScript's `abort` import; never returns. */
// @ts-ignore: decorator
@global
export function pdkAbort(
  message: string | null = null,
  fileName: string | null = null,
  line: u32 = 0,
  column: u32 = 0,
): void {
  const text = "plugin aborted: " +
    (message !== null ? message : "(no message)") + " at " +
    (fileName !== null ? fileName : "?") + ":" + line.toString() + ":" +
    column.toString();
  // Raw copy, not allocString: that aborts on a refused allocation, and this
  // must not recurse.
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  const handle = alloc(u64(bytes.length));
  if (handle != 0) {
    for (let i = 0; i < bytes.length; i++) {
      store_u8(handle + u64(i), bytes[i]);
    }
    log_error(handle);
    error_set(handle);
  }
  unreachable();
}
