/**
 * Turns what the caller passed to `loadPlugin` (a path, URL, bytes (or an
 * `ArrayBuffer`), a fetch `Response` or an Extism manifest) into the module bytes, the
 * default plugin name (file name without `.wasm`, as sup does) and the
 * manifest's options. A manifest with several modules names them as
 * Extism does: the one named `"main"`, else the last, is the entry; the
 * others are linked by name.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { PluginLoadError } from "./errors.ts";

/** One module of a {@link PluginManifest}: bytes, a path, a URL or a fetch `Response`. */
export interface PluginManifestWasm {
  /** The module bytes. */
  data?: Uint8Array;
  /** A file path. */
  path?: string;
  /** A `file:`, `http:` or `https:` URL. */
  url?: string | URL;
  /** A fetch response whose body is the module. */
  response?: Response;
  /**
   * The module's name: other modules of the manifest import from it by
   * this name, and `"main"` marks the entry. For a one-module manifest of
   * bytes it is also the plugin name.
   */
  name?: string;
  /** Expected SHA-256 of the module, hex; a mismatch refuses the load. */
  hash?: string;
}

/** Extism's manifest memory options (see `LoadPluginOptions.memory`). */
export interface ManifestMemory {
  /** Pages (64 KiB) the Extism blocks of one call may hold. */
  maxPages?: number;
  /** Bytes the plugin's vars may hold. */
  maxVarBytes?: number;
  /** Bytes one HTTP response body may have. */
  maxHttpResponseBytes?: number;
}

/**
 * An Extism manifest: modules plus options. Options are read in the JS
 * SDK's camelCase or the manifest format's snake_case (`allowed_hosts`,
 * `timeout_ms`, `max_pages`...); `loadPlugin`'s own options win.
 */
export interface PluginManifest {
  /** The modules; see {@link PluginManifestWasm.name} for how they link. */
  wasm: PluginManifestWasm[];
  /** Extism config, merged under `options.config`. */
  config?: Record<string, string>;
  /** WASI preopens, used when `options.allowedPaths` is absent. */
  allowedPaths?: Record<string, string>;
  /** Hosts for `http_request`, used when `options.allowedHosts` is absent. */
  allowedHosts?: string[];
  /** Memory options, used when `options.memory` is absent. */
  memory?: ManifestMemory;
  /**
   * Call time limit, used when `options.timeoutMs` is absent. `null` (the
   * SDK's "no limit") gets the default: every call has a deadline here.
   */
  timeoutMs?: number | null;
}

/** Anything `loadPlugin` accepts as a plugin. */
export type PluginSource =
  | string
  | URL
  | Uint8Array
  | ArrayBuffer
  | Response
  | PluginManifest;

/** A module linked to the entry module by name. */
export interface LinkedModule {
  /** The name other modules import it by. */
  name: string;
  /** Its bytes, as read. */
  bytes: Uint8Array;
}

/** The resolved source. */
export interface ResolvedSource {
  /** The entry module's bytes, as read (before instrumentation). */
  bytes: Uint8Array;
  /** The file name without `.wasm`, or `null` when the source has no name. */
  name: string | null;
  /** The other modules of a manifest, which the entry may import from. */
  linked?: LinkedModule[];
  /** Options carried by a manifest. */
  manifest: Omit<PluginManifest, "wasm">;
}

const MODULE_REFUSED =
  "a compiled WebAssembly.Module carries no bytes, and the sandbox must rewrite the bytes to enforce the deadline and the memory cap; pass the module's bytes, path, URL or Response instead (compiled output is cached by content, so loading the same bytes again compiles nothing)";

function nameOf(path: string): string {
  return basename(path).replace(/\.wasm$/, "");
}

async function readPath(path: string, label: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    const why = code === "ENOENT"
      ? "no such file"
      : cause instanceof Deno.errors.NotCapable
      ? `no read permission (run with --allow-read=${path})`
      : (cause as Error).message;
    throw new PluginLoadError(label, `cannot read ${path}: ${why}`, { cause });
  }
}

async function readResponse(
  response: Response,
  label: string,
): Promise<Uint8Array> {
  if (!(response instanceof Response)) {
    throw new PluginLoadError(label, "the response is not a fetch Response");
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new PluginLoadError(
      label,
      `the response answered HTTP ${response.status}`,
    );
  }
  if (response.bodyUsed) {
    throw new PluginLoadError(label, "the response's body was already read");
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function readUrl(url: URL): Promise<Uint8Array> {
  if (url.protocol === "file:") {
    return readPath(fileURLToPath(url), nameOf(url.pathname));
  }
  const label = nameOf(url.pathname);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new PluginLoadError(
      label,
      `cannot fetch ${url}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new PluginLoadError(
      label,
      `fetching ${url} answered HTTP ${response.status}`,
    );
  }
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Resolve a plugin source.
 *
 * @example
 * ```ts
 * import { resolveSource } from "./source.ts";
 * const src = await resolveSource(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
 * console.log(src.name, src.bytes.length); // null 8
 * ```
 */
export async function resolveSource(
  source: PluginSource,
): Promise<ResolvedSource> {
  if (source instanceof Uint8Array) {
    return { bytes: source, name: null, manifest: {} };
  }
  if (source instanceof ArrayBuffer) {
    return { bytes: new Uint8Array(source), name: null, manifest: {} };
  }
  if (source instanceof Response) {
    return { bytes: await readResponse(source, "?"), name: null, manifest: {} };
  }
  if (source instanceof WebAssembly.Module) {
    throw new PluginLoadError("?", MODULE_REFUSED);
  }
  if (source instanceof URL) {
    return {
      bytes: await readUrl(source),
      name: nameOf(source.pathname),
      manifest: {},
    };
  }
  if (typeof source === "string") {
    if (/^(file|https?):\/\//.test(source)) {
      return resolveSource(new URL(source));
    }
    return {
      bytes: await readPath(source, nameOf(source)),
      name: nameOf(source),
      manifest: {},
    };
  }
  if (
    typeof source !== "object" || source === null || !Array.isArray(source.wasm)
  ) {
    throw new PluginLoadError(
      "?",
      "the source must be a path, URL, Uint8Array or an Extism manifest with a wasm array",
    );
  }
  if (source.wasm.length === 0) {
    throw new PluginLoadError("?", "the manifest's wasm array is empty");
  }
  const raw = source as unknown as Record<string, unknown>;
  const memory = (raw.memory ?? undefined) as
    | Record<string, unknown>
    | undefined;
  const manifest: Omit<PluginManifest, "wasm"> = {
    config: source.config,
    allowedPaths: source.allowedPaths ??
      raw.allowed_paths as Record<string, string> | undefined,
    allowedHosts: source.allowedHosts ??
      raw.allowed_hosts as string[] | undefined,
    timeoutMs: source.timeoutMs ?? raw.timeout_ms as number | null | undefined,
    memory: memory === undefined ? undefined : {
      maxPages: (memory.maxPages ?? memory.max_pages) as number | undefined,
      maxVarBytes: (memory.maxVarBytes ?? memory.max_var_bytes) as
        | number
        | undefined,
      maxHttpResponseBytes: (memory.maxHttpResponseBytes ??
        memory.max_http_response_bytes) as number | undefined,
    },
  };
  if (manifest.memory !== undefined) {
    for (
      const key of Object.keys(manifest.memory) as (keyof ManifestMemory)[]
    ) {
      if (manifest.memory[key] === undefined) delete manifest.memory[key];
    }
  }
  const items = await Promise.all(
    source.wasm.map((item) =>
      resolveItem(item as unknown as Record<string, unknown>)
    ),
  );
  // Extism's naming: an item's own name, else "main" for the last one.
  const names = source.wasm.map((item, i) =>
    item.name ?? (i === source.wasm.length - 1 ? "main" : String(i))
  );
  if (items.length === 1) {
    const only = items[0];
    if (typeof source.wasm[0].name === "string" && only.name === null) {
      only.name = source.wasm[0].name;
    }
    return { bytes: only.bytes, name: only.name, manifest };
  }
  const main = names.indexOf("main");
  if (main === -1) {
    throw new PluginLoadError(
      "?",
      'a manifest with several modules must name one of them "main" (or leave the last one unnamed)',
    );
  }
  const linked: LinkedModule[] = [];
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) {
      throw new PluginLoadError(
        "?",
        `the manifest names two modules "${n}"; each module needs its own name`,
      );
    }
    seen.add(n);
    if (i !== main) linked.push({ name: n, bytes: items[i].bytes });
  });
  return {
    bytes: items[main].bytes,
    name: items[main].name,
    linked,
    manifest,
  };
}

/** One manifest item: its bytes (checked against its hash) and file name. */
async function resolveItem(
  item: Record<string, unknown>,
): Promise<{ bytes: Uint8Array; name: string | null }> {
  let resolved: { bytes: Uint8Array; name: string | null };
  if (item.data instanceof Uint8Array) {
    resolved = { bytes: item.data, name: null };
  } else if (typeof item.path === "string") {
    resolved = await resolveSource(item.path);
  } else if (typeof item.url === "string" || item.url instanceof URL) {
    resolved = await resolveSource(new URL(item.url));
  } else if (item.response !== undefined) {
    resolved = {
      bytes: await readResponse(item.response as Response, "?"),
      name: null,
    };
  } else if (item.module instanceof WebAssembly.Module) {
    throw new PluginLoadError("?", MODULE_REFUSED);
  } else {
    throw new PluginLoadError(
      "?",
      "each of the manifest's wasm items needs data (Uint8Array), path, url or response",
    );
  }
  if (typeof item.hash === "string") {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new Uint8Array(resolved.bytes)),
    );
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(
      "",
    );
    if (hex !== item.hash.toLowerCase()) {
      throw new PluginLoadError(
        resolved.name ?? "?",
        `hash mismatch: the manifest expects ${item.hash}, the module is ${hex}`,
      );
    }
  }
  return resolved;
}
