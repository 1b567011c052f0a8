/**
 * Forget a person: delete every entry written on a sender's behalf (while
 * a plugin handled their message) or keyed by their id, in every
 * namespace and keyspace.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import type { Backend, ForgetCandidate, Space } from "../storage/backend.ts";
import type { AsyncBackend } from "../storage/async_backend.ts";

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
  kind: "cache" | "store";
  /** The namespace (a plugin's name). */
  name: string;
  /** The entries deleted, or that a dry run would delete, in key order. */
  keys: ForgottenKey[];
}

const KINDS = ["cache", "store"] as const;

/**
 * Find, and unless `dryRun` delete, `sender`'s entries: one transaction
 * per namespace, then their attributions. Throws when the backend keeps no
 * attributions (a custom backend without `forgetCandidates`).
 */
export function forgetSender(
  backend: Backend,
  sender: unknown,
  dryRun: boolean,
  now: number,
): ForgetReport[] {
  checkSender(sender);
  if (
    backend.forgetCandidates === undefined ||
    backend.dropAttributions === undefined
  ) {
    throw noAttributions();
  }
  const groups = groupCandidates(backend.forgetCandidates(sender));
  const reports: ForgetReport[] = [];
  for (const g of groups) {
    if (!dryRun) {
      backend.transaction(() => {
        for (const c of g.found) backend.delete(g.space, g.ns, c.key, now);
      });
    }
    reports.push(reportOf(g));
  }
  if (!dryRun) backend.transaction(() => backend.dropAttributions!(sender));
  return sortReports(reports);
}

/**
 * {@link forgetSender} on an {@link AsyncBackend} (Redis): the deletes of
 * each namespace are one atomic batch (`writeMany`), then the sender's
 * attributions are dropped.
 */
export async function forgetSenderRemote(
  backend: AsyncBackend,
  sender: unknown,
  dryRun: boolean,
  now: number,
): Promise<ForgetReport[]> {
  checkSender(sender);
  if (
    backend.forgetCandidates === undefined ||
    backend.dropAttributions === undefined
  ) {
    throw noAttributions();
  }
  const groups = groupCandidates(await backend.forgetCandidates(sender));
  const reports: ForgetReport[] = [];
  for (const g of groups) {
    if (!dryRun) {
      await backend.writeMany(
        g.space,
        g.ns,
        g.found.map((c) => ({
          key: c.key,
          value: null,
          expiresAt: null,
          size: 0,
        })),
        now,
        null,
      );
    }
    reports.push(reportOf(g));
  }
  if (!dryRun) await backend.dropAttributions(sender);
  return sortReports(reports);
}

function checkSender(sender: unknown): asserts sender is string {
  if (typeof sender !== "string" || sender === "") {
    throw new InvalidInputError(
      `forget needs a sender id (as the plugin host passed it, e.g. "34600000000@s.whatsapp.net"), got ${
        JSON.stringify(sender)
      }`,
    );
  }
}

function noAttributions(): InvalidInputError {
  return new InvalidInputError(
    "this storage backend does not record who entries were written for, so forget cannot find them",
  );
}

interface Group {
  space: Space;
  ns: string;
  found: ForgetCandidate[];
}

/** Candidates per namespace, each namespace's in key order. */
function groupCandidates(candidates: readonly ForgetCandidate[]): Group[] {
  const groups = new Map<string, Group>();
  for (const c of candidates) {
    const id = `${c.space}\u0000${c.ns}`;
    let g = groups.get(id);
    if (!g) groups.set(id, g = { space: c.space, ns: c.ns, found: [] });
    g.found.push(c);
  }
  for (const g of groups.values()) {
    g.found.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }
  return [...groups.values()];
}

function reportOf(g: Group): ForgetReport {
  return {
    kind: KINDS[g.space],
    name: g.ns,
    keys: g.found.map((c) => ({ key: c.key, rule: c.rule })),
  };
}

function sortReports(reports: ForgetReport[]): ForgetReport[] {
  return reports.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : 1
  );
}
