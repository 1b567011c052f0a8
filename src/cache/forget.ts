/**
 * Forget a person: delete every entry written on a sender's behalf (while
 * a plugin handled their message) or keyed by their id, in every
 * namespace and keyspace.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import {
  type AsyncBackend,
  type Backend,
  type BatchWrite,
  type ForgetCandidate,
  type Keyspace,
  type Space,
  SPACE_NAMES,
} from "../storage/backend.ts";
import { type Op, wait } from "./run.ts";

/** One entry `forget` deleted (or, in a dry run, would delete). */
export interface ForgottenKey {
  /** The key. */
  key: string;
  /**
   * Why: `"sender"` = written while a plugin handled this sender's message;
   * `"key-segment"` = the key has the sender id as a whole `:`-separated
   * segment (`ratelimit:<id>`, `<id>:lang`), sup's recommended key style.
   */
  rule: "sender" | "key-segment";
}

/** What `forget` did in one namespace. */
export interface ForgetReport {
  /** `"cache"` or `"store"`. */
  kind: Keyspace;
  /** The namespace (a plugin's name). */
  name: string;
  /** The entries deleted, or that a dry run would delete, in key order. */
  keys: ForgottenKey[];
}

/**
 * Find, and unless `dryRun` delete, `sender`'s entries: one atomic batch of
 * deletes per namespace (`writeMany`: a transaction on SQLite, one script
 * on Redis), then their attributions. Throws when the backend keeps no
 * attributions (a backend without `forgetCandidates`).
 */
export function* forgetSender(
  backend: Backend | AsyncBackend,
  sender: unknown,
  dryRun: boolean,
  now: number,
): Op<ForgetReport[]> {
  if (typeof sender !== "string" || sender === "") {
    throw new InvalidInputError(
      `forget needs a sender id (as the plugin host passed it, e.g. "34600000000@s.whatsapp.net"), got ${
        JSON.stringify(sender)
      }`,
    );
  }
  if (
    backend.forgetCandidates === undefined ||
    backend.dropAttributions === undefined
  ) {
    throw new InvalidInputError(
      "this storage backend does not record who entries were written for, so forget cannot find them",
    );
  }
  const groups = new Map<
    string,
    { space: Space; ns: string; found: ForgetCandidate[] }
  >();
  for (const c of yield* wait(backend.forgetCandidates(sender))) {
    const id = `${c.space}\u0000${c.ns}`;
    let g = groups.get(id);
    if (!g) groups.set(id, g = { space: c.space, ns: c.ns, found: [] });
    g.found.push(c);
  }
  const reports: ForgetReport[] = [];
  for (const g of groups.values()) {
    g.found.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    if (!dryRun) {
      const deletes: BatchWrite[] = g.found.map((c) => ({
        key: c.key,
        value: null,
        expiresAt: null,
        size: 0,
      }));
      yield* wait(backend.writeMany(g.space, g.ns, deletes, now, null));
    }
    reports.push({
      kind: SPACE_NAMES[g.space],
      name: g.ns,
      keys: g.found.map((c) => ({ key: c.key, rule: c.rule })),
    });
  }
  if (!dryRun) yield* wait(backend.dropAttributions(sender));
  reports.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : 1
  );
  return reports;
}
