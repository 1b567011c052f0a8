/**
 * One connection to Redis (a single server or a cluster) through node-redis,
 * with the deadlines the cache promises: opening fails within
 * `connectTimeoutMs`, every request within `commandTimeoutMs`, each with a
 * typed error. The client reconnects in the background with a capped
 * backoff and never gives up, so the cache recovers by itself once the
 * server is back; requests made meanwhile wait (up to their deadline) for
 * the reconnect instead of failing at once.
 *
 * Why node-redis (`@redis/client`, the core of the `redis` package) and not
 * iovalkey: see docs/scale-out.md.
 *
 * @module
 */
import { Buffer } from "node:buffer";
// A full specifier (not the import map) so the module works when imported
// by path from another project.
// deno-lint-ignore no-import-prefix
import * as redis from "npm:@redis/client@6.3.1";

const {
  ClientOfflineError,
  createClient,
  createCluster,
  ErrorReply,
  RESP_TYPES,
} = redis;
import { ClosedError, StorageError } from "../../errors.ts";
import { RedisReplyError, RedisUnavailableError } from "./errors.ts";
import type { ResolvedRedisOptions } from "./options.ts";
import type { LuaScript } from "./scripts.ts";

/** A command argument: text is sent as UTF-8, a Buffer as it is. */
export type RedisArg = string | Buffer;

const BINARY = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

interface CommandOptions {
  typeMapping?: typeof BINARY;
  /** node-redis drops the request if still unsent after this many ms. */
  timeout?: number;
}

const TEXT_OPTIONS: CommandOptions = {};
const BINARY_OPTIONS: CommandOptions = { typeMapping: BINARY };

// node-redis gives every request a timer (5 s unless told otherwise) that
// drops it if it is still unsent then; under Deno, creating and clearing it
// costs 6–8 µs per request (docs/scale-out.md, "Measured").
// RedisLink sets one only on a request that can wait unsent (see
// RedisLink.#send), so the clients start without.
const NO_TIMER = { timeout: 0 };

/** What the single-server and cluster clients have in common, for us. */
interface Transport {
  send(
    key: RedisArg | undefined,
    readonly: boolean,
    args: RedisArg[],
    options: CommandOptions,
  ): Promise<unknown>;
  /**
   * `MULTI`, the commands, `EXEC`, in one write; `null` where this
   * transport does not offer it (a cluster: a transaction there cannot
   * follow a slot that moves mid-way, a script can).
   */
  transaction:
    | ((commands: RedisArg[][], options: CommandOptions) => Promise<unknown>)
    | null;
  close(): Promise<void>;
  destroy(): void;
}

// Reconnect after 50 ms, doubling up to 1 s, with jitter so a fleet of bot
// instances does not knock on a restarted server all at once.
function backoff(retries: number): number {
  const base = Math.min(50 * 2 ** Math.min(retries, 5), 1_000);
  return base / 2 + Math.random() * base / 2;
}

// Redis Enterprise's maintenance notifications are off: plain Redis and
// Valkey do not send them, and the handshake for them reads environment
// variables (REDIS_DEBUG_MAINTENANCE), which would need a wider
// --allow-env than the CLI documents.
function socketOptions(o: ResolvedRedisOptions) {
  return {
    connectTimeout: o.connectTimeoutMs,
    reconnectStrategy: backoff,
  };
}

// For rediss:// only (node-redis refuses `tls` that contradicts the URL).
function tlsOptions(o: ResolvedRedisOptions) {
  return o.tlsCa === null
    ? { tls: true as const }
    : { tls: true as const, ca: o.tlsCa };
}

function singleTransport(
  o: ResolvedRedisOptions,
  onError: (err: Error) => void,
  onInvalidate?: (key: string | null) => void,
): { transport: Transport; connect: () => Promise<unknown> } {
  const client = createClient({
    url: o.url!,
    RESP: 3,
    socket: o.url!.startsWith("rediss:")
      ? { ...socketOptions(o), ...tlsOptions(o) }
      : socketOptions(o),
    disableOfflineQueue: true,
    commandOptions: NO_TIMER,
    emitInvalidate: onInvalidate !== undefined,
    maintNotifications: "disabled",
  });
  client.on("error", onError);
  if (onInvalidate) {
    client.on("invalidate", (key: unknown) => {
      onInvalidate(key === null ? null : String(key));
    });
    // On every (re)connect: what was kept may have changed unseen while
    // disconnected, and the new connection must ask to be told. The
    // tracking request goes first, before any read made after this.
    client.on("ready", () => {
      onInvalidate(null);
      client.sendCommand(["CLIENT", "TRACKING", "ON"], { asap: true })
        .catch(onError);
    });
  }
  return {
    connect: () => client.connect(),
    transport: {
      send: (_key, _readonly, args, options) =>
        client.sendCommand(args, options),
      // MULTI, the commands and EXEC sent back to back in one turn of the
      // event loop, so nothing else can come between them on the
      // connection. node-redis's own multi() does the same through more
      // machinery: ~6 µs more per list page. None gets a timer
      // (see #send): one dropping EXEC alone would leave the connection
      // inside a transaction.
      transaction: (commands, options) => {
        const sent = [client.sendCommand(["MULTI"], TEXT_OPTIONS)];
        for (const c of commands) {
          sent.push(client.sendCommand(c, TEXT_OPTIONS));
        }
        sent.push(client.sendCommand(
          ["EXEC"],
          options.typeMapping ? BINARY_OPTIONS : TEXT_OPTIONS,
        ));
        // The first refusal (MULTI or a command not allowed) is the error.
        return Promise.all(sent).then((replies) => replies[replies.length - 1]);
      },
      close: () => client.close(),
      destroy: () => client.destroy(),
    },
  };
}

function clusterTransport(
  o: ResolvedRedisOptions,
  onError: (err: Error) => void,
): { transport: Transport; connect: () => Promise<unknown> } {
  // Nodes found through discovery get the first URL's credentials and TLS.
  const first = new URL(o.cluster![0]);
  const cluster = createCluster({
    rootNodes: o.cluster!.map((url) => ({ url })),
    defaults: {
      username: decodeURIComponent(first.username) || undefined,
      password: decodeURIComponent(first.password) || undefined,
      socket: first.protocol === "rediss:"
        ? { ...socketOptions(o), ...tlsOptions(o) }
        : socketOptions(o),
      disableOfflineQueue: true,
      maintNotifications: "disabled",
    },
    commandOptions: NO_TIMER,
    RESP: 3,
  });
  cluster.on("error", onError);
  return {
    connect: () => cluster.connect(),
    transport: {
      send: (key, readonly, args, options) =>
        cluster.sendCommand(key, readonly, args, options),
      transaction: null,
      close: () => cluster.close(),
      destroy: () => cluster.destroy(),
    },
  };
}

/**
 * An open connection to Redis. Made by {@link RedisLink.open}; every
 * failure it reports is a `StorageError` subclass naming the server.
 *
 * @example
 * ```ts ignore
 * import { RedisLink } from "./connection.ts";
 * import { resolveRedisOptions } from "./options.ts";
 * const link = await RedisLink.open(resolveRedisOptions({ url: "redis://127.0.0.1:6379" }));
 * console.log(await link.command("ping", undefined, true, ["PING"])); // "PONG"
 * await link.close();
 * ```
 */
export class RedisLink {
  /** The server or cluster, without passwords. */
  readonly path: string;
  readonly #transport: Transport;
  readonly #timeout: number;
  readonly #pending = new Map<number, Request>();
  readonly #watchdog: number;
  #nextId = 0;
  #closed = false;
  /**
   * Scripts already sent with `EVAL` on this link (per hash tag in a
   * cluster, where each tag's node has its own script cache). See
   * {@link RedisLink.run}.
   */
  readonly #sent = new Set<string>();
  #lastError: Error | null = null;
  #offset = 0;
  #offsetAt = -Infinity;
  #offsetPending = false;

  private constructor(
    path: string,
    transport: Transport,
    timeout: number,
    state: { lastError: Error | null },
  ) {
    this.path = path;
    this.#transport = transport;
    this.#timeout = timeout;
    this.#lastError = state.lastError;
    // Checks deadlines a few times per timeout; unref'd, so an idle
    // connection never keeps the process alive.
    this.#watchdog = setInterval(
      () => this.#tick(),
      Math.min(250, Math.max(10, timeout / 4)),
    ) as unknown as number; // Deno's timers are numbers; @types/node says otherwise

    Deno.unrefTimer(this.#watchdog);
  }

  /**
   * Connect, or fail with {@link RedisUnavailableError} once
   * `connectTimeoutMs` has passed (the last connection error is its cause).
   */
  static async open(
    o: ResolvedRedisOptions,
    onInvalidate?: (key: string | null) => void,
  ): Promise<RedisLink> {
    const state: { lastError: Error | null; link?: RedisLink } = {
      lastError: null,
    };
    // node-redis reports every failed (re)connect as an "error" event; an
    // EventEmitter without a listener would throw it and end the process.
    // A refusal that retrying cannot fix (a wrong password, a user without
    // permission) ends the open at once instead of at the deadline.
    let refuse: (err: Error) => void = () => {};
    const refused = new Promise<never>((_, reject) => refuse = reject);
    const onError = (err: Error) => {
      state.lastError = err;
      if (state.link) state.link.#lastError = err;
      else if (
        (err instanceof ErrorReply &&
          /^(WRONGPASS|NOAUTH|NOPERM|ERR AUTH)/.test(err.message)) ||
        untrusted(err) ||
        err instanceof Deno.errors.NotCapable ||
        err instanceof Deno.errors.PermissionDenied
      ) refuse(err);
    };
    const { transport, connect } = o.url !== null
      ? singleTransport(o, onError, onInvalidate)
      : clusterTransport(o, onError);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new RedisUnavailableError(o.path, "connect", o.connectTimeoutMs, {
            cause: state.lastError ?? undefined,
          }),
        );
      }, o.connectTimeoutMs);
    });
    const connecting = connect();
    try {
      await Promise.race([connecting, deadline, refused]);
    } catch (err) {
      connecting.catch(() => {});
      transport.destroy();
      if (err instanceof RedisUnavailableError) throw err;
      throw wrap(o.path, "connect", o.connectTimeoutMs, err);
    } finally {
      clearTimeout(timer);
    }
    const link = new RedisLink(o.path, transport, o.commandTimeoutMs, state);
    state.link = link;
    return link;
  }

  /**
   * The server's clock minus this machine's (`Date.now()`), in ms, as last
   * measured with `TIME` (half a round trip is the error). Write scripts
   * translate a deadline by it when the caller's clock is more than a
   * second off the server's (a test clock), instead of asking the server
   * for `TIME` on every write. The estimate is renewed in the background
   * once it is 10 s old, so a clock step on either side is followed.
   */
  clockOffset(): number {
    if (
      performance.now() - this.#offsetAt > 10_000 && !this.#offsetPending
    ) {
      this.#offsetPending = true;
      this.syncClock().catch(() => {}).finally(() => {
        this.#offsetPending = false;
      });
    }
    return this.#offset;
  }

  /** Measure {@link RedisLink.clockOffset} now (one `TIME`). */
  async syncClock(): Promise<void> {
    const sent = Date.now();
    const [s, us] = await this.command<string[]>(
      "time",
      undefined,
      true,
      ["TIME"],
    );
    const back = Date.now();
    this.#offset = Number(s) * 1000 + Math.floor(Number(us) / 1000) -
      (sent + back) / 2;
    this.#offsetAt = performance.now();
  }

  /** The most recent connection error node-redis reported, if any. */
  get lastError(): Error | null {
    return this.#lastError;
  }

  /**
   * Send one request and settle with its answer or a typed error, by
   * `deadline` whatever the server does. One promise per request, settled
   * straight from node-redis's reply (no chain of async wrappers: each
   * layer costs a turn of the microtask queue on every request).
   *
   * It keeps trying only where that is safe: while the client is
   * reconnecting (node-redis refuses the request without sending it, since
   * the offline queue is off: a queued write must never land minutes later,
   * after the caller was told it failed), while a cluster slot is
   * half-migrated (Redis answers `TRYAGAIN` to a multi-key request whose
   * keys are split between two nodes, having run nothing), and, for a
   * script, once with `EVAL` when the server answers `NOSCRIPT`. Every
   * retry stops at the request's deadline.
   *
   * node-redis's own `timeout` option only covers a request not yet
   * written; once written, a frozen server would keep it pending forever.
   * One shared watchdog timer enforces every deadline, instead of a timer
   * per request on the hot path. The request stays matched to its reply
   * (node-redis keeps the queue in order); only our wait ends.
   */
  #request<T>(
    op: string,
    key: RedisArg | undefined,
    readonly: boolean,
    args: RedisArg[],
    binary: boolean,
    script: LuaScript | null,
    commands: RedisArg[][] | null = null,
  ): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new ClosedError(`the Redis connection ${this.path}`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const req: Request = {
        op,
        key,
        readonly,
        args,
        options: binary ? BINARY_OPTIONS : TEXT_OPTIONS,
        script,
        commands,
        resolve: resolve as (value: unknown) => void,
        reject,
        id: ++this.#nextId,
        deadline: performance.now() + this.#timeout,
        attempt: 0,
      };
      this.#pending.set(req.id, req);
      this.#send(req);
    });
  }

  /** Give up on `req` with a typed error. */
  #fail(req: Request, err: unknown): void {
    this.#pending.delete(req.id);
    req.reject(wrap(this.path, req.op, this.#timeout, err));
  }

  #send(req: Request): void {
    // A retry whose timer fired late, after the deadline: the caller has
    // its error, so nothing may be sent any more.
    if (!this.#pending.has(req.id)) return;
    let sent: Promise<unknown>;
    // A client that throws instead of rejecting (bad arguments) must still
    // end in a typed error, also from a retry's timer.
    try {
      sent = req.commands === null
        ? this.#transport.send(
          req.key,
          req.readonly,
          req.args,
          this.#sendOptions(req),
        )
        : this.#transport.transaction!(req.commands, req.options);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (value) => {
        if (this.#pending.delete(req.id)) req.resolve(value);
      },
      (err) => this.#refused(req, err),
    );
  }

  /**
   * node-redis hands the first request of each flush to the socket
   * whatever its state; the ones after it wait unsent while the socket's
   * buffers are full (a server that stopped reading). Such a request, one
   * sent while others are pending, gets node-redis's timer, ending at our
   * deadline, which drops it if still unsent: it never reaches the server
   * after its caller was told it failed. Alone on the connection it is
   * written at the next flush and needs none (see NO_TIMER). A
   * transaction never gets one (see singleTransport).
   */
  #sendOptions(req: Request): CommandOptions {
    if (this.#pending.size <= 1) return req.options;
    return {
      ...req.options,
      timeout: Math.max(1, req.deadline - performance.now()),
    };
  }

  #refused(req: Request, err: unknown): void {
    // Already past the deadline: the caller has its error.
    if (!this.#pending.has(req.id)) return;
    const args = req.args;
    if (
      req.script !== null && err instanceof ErrorReply &&
      err.message.startsWith("NOSCRIPT") && args[0] === "EVALSHA"
    ) {
      // The server lost its scripts (restart, SCRIPT FLUSH): send each one
      // with EVAL again, in order, from here on.
      this.#sent.clear();
      args[0] = "EVAL";
      args[1] = req.script.source;
      this.#send(req);
      return;
    }
    const unsent = err instanceof ErrorReply
      ? err.message.startsWith("TRYAGAIN")
      : err instanceof ClientOfflineError;
    const pause = Math.min(5 * 2 ** req.attempt++, 100);
    if (!unsent || performance.now() + pause >= req.deadline) {
      this.#fail(req, err);
    } else setTimeout(() => this.#send(req), pause);
  }

  #tick(): void {
    const now = performance.now();
    for (const req of this.#pending.values()) {
      if (req.deadline <= now) {
        this.#fail(req, new DeadlineError("no answer in time"));
      }
    }
  }

  /**
   * Send one command. `key` routes it in a cluster; `binary` answers bulk
   * strings as Buffers instead of UTF-8 text.
   */
  command<T>(
    op: string,
    key: RedisArg | undefined,
    readonly: boolean,
    args: RedisArg[],
    binary = false,
  ): Promise<T> {
    return this.#request<T>(op, key, readonly, args, binary, null);
  }

  /**
   * Run `commands` as one transaction (`MULTI`/`EXEC`, one round trip) and
   * answer their replies, or `null` when the connection cannot (a
   * cluster); the caller then uses a script. Only for reads: a retry after
   * a reconnect must not apply anything twice.
   */
  transaction<T extends unknown[]>(
    op: string,
    commands: RedisArg[][],
    binary = false,
  ): Promise<T> | null {
    if (this.#transport.transaction === null) return null;
    return this.#request<T>(op, undefined, true, [], binary, null, commands);
  }

  /**
   * Run a Lua script: its first request on this link (per hash tag in a
   * cluster) is an `EVAL` carrying the source, later ones `EVALSHA`.
   * Requests on one connection run in order, so the `EVAL` has loaded the
   * script before any later `EVALSHA` arrives; sending `EVALSHA` first
   * and retrying `NOSCRIPT` with `EVAL` would let a request made after the
   * write (an un-awaited `set`, then a `get`) run before it. `keys[0]`
   * routes the script in a cluster.
   */
  run<T>(
    script: LuaScript,
    keys: readonly RedisArg[],
    args: readonly RedisArg[],
    binary = false,
  ): Promise<T> {
    const id = this.#transport.transaction === null
      ? script.sha + hashTag(keys[0])
      : script.sha;
    const known = this.#sent.has(id);
    if (!known) this.#sent.add(id);
    const argv: RedisArg[] = new Array(3 + keys.length + args.length);
    argv[0] = known ? "EVALSHA" : "EVAL";
    argv[1] = known ? script.sha : script.source;
    argv[2] = String(keys.length);
    let i = 3;
    for (const k of keys) argv[i++] = k;
    for (const a of args) argv[i++] = a;
    return this.#request<T>(
      script.name,
      keys[0],
      script.readonly,
      argv,
      binary,
      script,
    );
  }

  /** Close the connection after pending requests; closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    try {
      await this.#transport.close();
    } catch {
      // A server that is down cannot be told goodbye; drop the sockets.
      this.#transport.destroy();
    }
  }
}

/**
 * One request of a {@link RedisLink} until it is settled: a plain record
 * the link's methods work on, rather than a handful of closures per
 * request (this is on every operation's path).
 */
interface Request {
  op: string;
  key: RedisArg | undefined;
  readonly: boolean;
  args: RedisArg[];
  options: CommandOptions;
  script: LuaScript | null;
  commands: RedisArg[][] | null;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  id: number;
  deadline: number;
  attempt: number;
}

/** The part of a key Redis Cluster hashes to pick its slot. */
function hashTag(key: RedisArg | undefined): string {
  if (key === undefined) return "";
  const k = typeof key === "string" ? key : key.toString("latin1");
  const open = k.indexOf("{");
  const close = open < 0 ? -1 : k.indexOf("}", open + 1);
  return close > open + 1 ? k.slice(open + 1, close) : k;
}

/** Our own deadline passed; {@link wrap} makes it typed. */
class DeadlineError extends Error {}

/**
 * A TLS certificate check that failed: retrying cannot fix it, so opening
 * stops at once. Node's TLS codes (Deno's node:tls maps rustls's reasons
 * to them).
 */
function untrusted(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" &&
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS/.test(code);
}

function wrap(path: string, op: string, timeout: number, err: unknown) {
  if (untrusted(err)) {
    return new StorageError(
      path,
      `Redis at ${path} refused: its TLS certificate is not trusted (${
        (err as Error).message
      }); give the authority that signed it as redis.tls.ca (PEM text), or fix the server's certificate`,
      { cause: err },
    );
  }
  if (
    err instanceof Deno.errors.NotCapable ||
    err instanceof Deno.errors.PermissionDenied
  ) {
    return new StorageError(
      path,
      `Redis at ${path} cannot be reached: ${err.message} (--allow-net=HOST:PORT for each server or cluster node)`,
      { cause: err },
    );
  }
  if (err instanceof ErrorReply) {
    return new RedisReplyError(path, op, err.message, { cause: err });
  }
  return new RedisUnavailableError(path, op, timeout, {
    cause: err instanceof Error ? err : new Error(String(err)),
  });
}
