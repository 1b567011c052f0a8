/**
 * Turns what the caller passed to `loadPlugin` (a path, URL, bytes or an
 * Extism manifest) into the module bytes, the default plugin name (file name
 * without `.wasm`, as sup does) and the manifest's options.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { PluginLoadError } from "./errors.ts";

/** One module of a {@link PluginManifest}: bytes, a path or a URL. */
export interface PluginManifestWasm {
  /** The module bytes. */
  data?: Uint8Array;
  /** A file path. */
  path?: string;
  /** A `file:`, `http:` or `https:` URL. */
  url?: string | URL;
  /** Plugin name when the item has no file name (bytes). */
  name?: string;
  /** Expected SHA-256 of the module, hex; a mismatch refuses the load. */
  hash?: string;
}

/** The subset of an Extism manifest `loadPlugin` understands: one module plus options. */
export interface PluginManifest {
  /** Exactly one module. */
  wasm: PluginManifestWasm[];
  /** Extism config, merged under `options.config`. */
  config?: Record<string, string>;
  /** WASI preopens, used when `options.allowedPaths` is absent. */
  allowedPaths?: Record<string, string>;
  /** Hosts for `http_request`, used when `options.allowedHosts` is absent. */
  allowedHosts?: string[];
}

/** Anything `loadPlugin` accepts as a plugin. */
export type PluginSource = string | URL | Uint8Array | PluginManifest;

/** The resolved source. */
export interface ResolvedSource {
  /** The module bytes, as read (before instrumentation). */
  bytes: Uint8Array;
  /** The file name without `.wasm`, or `null` when the source has no name. */
  name: string | null;
  /** Options carried by a manifest (config, allowed paths and hosts). */
  manifest: Omit<PluginManifest, "wasm">;
}

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
  if (source.wasm.length !== 1) {
    throw new PluginLoadError(
      "?",
      `manifests with ${source.wasm.length} modules are not supported; pass exactly one`,
    );
  }
  const item = source.wasm[0] as unknown as Record<string, unknown>;
  const manifest = {
    config: source.config,
    allowedPaths: source.allowedPaths,
    allowedHosts: source.allowedHosts,
  };
  let resolved: ResolvedSource;
  if (item.data instanceof Uint8Array) {
    resolved = { bytes: item.data, name: null, manifest };
  } else if (typeof item.path === "string") {
    resolved = { ...(await resolveSource(item.path)), manifest };
  } else if (typeof item.url === "string" || item.url instanceof URL) {
    resolved = { ...(await resolveSource(new URL(item.url))), manifest };
  } else {
    throw new PluginLoadError(
      "?",
      "the manifest's wasm item needs data (Uint8Array), path or url",
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
  if (typeof item.name === "string" && resolved.name === null) {
    resolved.name = item.name;
  }
  return resolved;
}
