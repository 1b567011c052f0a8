/**
 * Real Redis servers for tests: Debian's `redis-server`, started on free
 * loopback ports in temporary folders (never the system service), as a
 * single server or a 3-master cluster built with `redis-cli --cluster
 * create`, and stopped and removed at the end. When `redis-server` is not
 * installed, {@link redisSkip} holds the reason and tests register as
 * ignored with it in their name, so the skip is visible.
 */

async function which(cmd: string): Promise<string | null> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", 'command -v "$1"', "sh", cmd],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/**
 * The server binary the tests start: `$SUP_REDIS_SERVER` (a path or a
 * name on PATH, e.g. `valkey-server`), else Debian's `redis-server`.
 */
export const redisServerBin: string = Deno.env.get("SUP_REDIS_SERVER") ||
  "redis-server";

/**
 * The matching CLI (cluster creation, `--cluster` commands): `$SUP_REDIS_CLI`,
 * else the `-cli` next to a server named `*-server` (`valkey-server` ->
 * `valkey-cli` in the same folder), else `redis-cli`.
 */
export const redisCliBin: string = Deno.env.get("SUP_REDIS_CLI") ||
  (/-server$/.test(redisServerBin)
    ? redisServerBin.replace(/-server$/, "-cli")
    : "redis-cli");

async function findSkip(): Promise<string | null> {
  const chosen = Deno.env.get("SUP_REDIS_SERVER");
  for (const bin of [redisServerBin, redisCliBin]) {
    if (await which(bin)) continue;
    // Asked for by name: a missing binary is an error, never a quiet skip.
    if (chosen) {
      throw new Error(
        `SUP_REDIS_SERVER=${chosen}, but ${bin} is not there (or not executable)`,
      );
    }
    return `${bin} is not installed (apt-get install -y redis-server)`;
  }
  return null;
}

/** Why Redis tests cannot run here, or `null` when they can. */
export const redisSkip: string | null = await findSkip();

/**
 * The server's name and version (`redis 7.0.15`, `valkey 8.0.1`), from
 * `--version`, or `null` when it cannot run.
 */
export const redisServerVersion: string | null = redisSkip !== null
  ? null
  : await serverVersion();

async function serverVersion(): Promise<string | null> {
  try {
    const out = await new Deno.Command(redisServerBin, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const m = text.match(/^(\S+) server v=(\S+)/i);
    return m ? `${m[1].toLowerCase()} ${m[2]}` : text.trim();
  } catch {
    return null;
  }
}

/** A free TCP port on 127.0.0.1 (the OS picks; we release it for the server). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Send one command over a fresh connection and return the raw reply text. */
export async function rawCommand(
  port: number,
  args: string[],
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let req = `*${args.length}\r\n`;
    for (const a of args) req += `$${encoder.encode(a).length}\r\n${a}\r\n`;
    await conn.write(encoder.encode(req));
    const buf = new Uint8Array(65536);
    const n = await conn.read(buf);
    return n === null ? "" : decoder.decode(buf.subarray(0, n));
  } finally {
    conn.close();
  }
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Options of one test server. */
export interface ServerOptions {
  /** Turn AOF on with `appendfsync always` (every write on disk before the reply). */
  aof?: boolean;
  /** Start as a cluster node. */
  cluster?: boolean;
  /** More `redis-server` arguments, e.g. `["--requirepass", "s3cret"]`. */
  args?: string[];
}

/** Every server process still running, for the unload handler. */
const live = new Set<RedisServer>();

/** One `redis-server` process owned by a test. */
export class RedisServer {
  readonly port: number;
  readonly busPort: number;
  readonly dir: string;
  readonly options: ServerOptions;
  #child: Deno.ChildProcess | null = null;

  private constructor(dir: string, options: ServerOptions) {
    this.dir = dir;
    this.options = options;
    this.port = freePort();
    this.busPort = freePort();
  }

  /** Start a server in a new temporary directory. */
  static async start(options: ServerOptions = {}): Promise<RedisServer> {
    const dir = await Deno.makeTempDir({ prefix: "sup-cache-redis-" });
    const server = new RedisServer(dir, options);
    await server.restart();
    return server;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#child !== null;
  }

  /** (Re)start the process on the same port and directory. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error("server already running");
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--daemonize",
      "no",
      "--save",
      "",
      "--logfile",
      `${this.dir}/redis.log`,
      "--appendonly",
      this.options.aof ? "yes" : "no",
    ];
    if (this.options.aof) args.push("--appendfsync", "always");
    if (this.options.args) args.push(...this.options.args);
    if (this.options.cluster) {
      args.push(
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `${this.dir}/nodes.conf`,
        "--cluster-node-timeout",
        "5000",
        "--cluster-port",
        String(this.busPort),
      );
    }
    this.#child = new Deno.Command(redisServerBin, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    live.add(this);
    await waitUntil(
      `redis-server on port ${this.port}`,
      async () => {
        const reply = await rawCommand(this.port, ["PING"]);
        // A server with a password answers NOAUTH: it is up all the same.
        return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
      },
      30_000,
    );
  }

  /**
   * Stop the process: `SIGTERM` lets Redis shut down cleanly, `SIGKILL`
   * is a crash (only what was fsynced survives).
   */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    live.delete(this);
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    await child.status;
  }

  /** Kill the process and remove the directory without awaiting anything. */
  killSync(): void {
    try {
      this.#child?.kill("SIGKILL");
    } catch {
      // already gone
    }
    this.#child = null;
    live.delete(this);
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // already removed
    }
  }

  /** Pause the process (it keeps its socket but answers nothing). */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Resume a paused process. */
  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Stop and remove the directory. */
  async dispose(): Promise<void> {
    await this.stop("SIGKILL");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Run `redis-cli` against this server and return its stdout. */
  async cli(...args: string[]): Promise<string> {
    const out = await new Deno.Command(redisCliBin, {
      args: ["-h", "127.0.0.1", "-p", String(this.port), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(
        `redis-cli ${args.join(" ")} failed: ${
          new TextDecoder().decode(out.stderr)
        }${text}`,
      );
    }
    return text.trim();
  }
}

/** Three masters, no replicas, all 16,384 slots assigned. */
export class RedisCluster {
  readonly nodes: RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  /** Start three cluster nodes and join them with `redis-cli --cluster create`. */
  static async start(): Promise<RedisCluster> {
    // Once more on failure: on a loaded machine a port picked as free can
    // be taken before the server binds it.
    try {
      return await RedisCluster.#start();
    } catch {
      return await RedisCluster.#start();
    }
  }

  static async #start(): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        nodes.push(await RedisServer.start({ cluster: true }));
      }
      const out = await new Deno.Command(redisCliBin, {
        args: [
          "--cluster",
          "create",
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(
          `redis-cli --cluster create failed: ${
            new TextDecoder().decode(out.stderr)
          }${new TextDecoder().decode(out.stdout)}`,
        );
      }
      const cluster = new RedisCluster(nodes);
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      for (const n of nodes) await n.dispose();
      throw err;
    }
  }

  /** Node URLs, for `createCluster` / `{ redis: { cluster } }`. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Wait until every node reports `cluster_state:ok` and agrees on slots. */
  async waitHealthy(): Promise<void> {
    await waitUntil("cluster_state:ok on every node", async () => {
      for (const n of this.nodes) {
        const info = await n.cli("CLUSTER", "INFO");
        if (!info.includes("cluster_state:ok")) return false;
        if (!info.includes("cluster_known_nodes:3")) return false;
      }
      return true;
    }, 30_000);
  }

  /** The node id (40 hex) of a node. */
  nodeId(node: RedisServer): Promise<string> {
    return node.cli("CLUSTER", "MYID");
  }

  /** The node serving `slot`. */
  async ownerOf(slot: number): Promise<RedisServer> {
    const slots = JSON.parse(
      await this.nodes[0].cli("--json", "CLUSTER", "SLOTS"),
    ) as [number, number, [string, number, string]][];
    for (const [from, to, [, port]] of slots) {
      if (slot >= from && slot <= to) {
        return this.nodes.find((n) => n.port === port)!;
      }
    }
    throw new Error(`slot ${slot} is not served`);
  }

  /** The hash slot of a key, as the cluster computes it. */
  async slotOf(key: string): Promise<number> {
    return Number(await this.nodes[0].cli("CLUSTER", "KEYSLOT", key));
  }

  /**
   * Move `slot` to `target` the way `redis-cli --cluster reshard` does:
   * mark it importing/migrating, MIGRATE its keys in batches while clients
   * keep writing (they follow ASK redirects), then hand it over.
   * `onBatch` runs between batches, to let writers interleave.
   */
  async migrateSlot(
    slot: number,
    target: RedisServer,
    onBatch: () => Promise<void> = () => Promise.resolve(),
  ): Promise<number> {
    const source = await this.ownerOf(slot);
    if (source === target) throw new Error("slot already on target");
    const sourceId = await this.nodeId(source);
    const targetId = await this.nodeId(target);
    const s = String(slot);
    await target.cli("CLUSTER", "SETSLOT", s, "IMPORTING", sourceId);
    await source.cli("CLUSTER", "SETSLOT", s, "MIGRATING", targetId);
    let moved = 0;
    for (let round = 0; round < 10_000; round++) {
      const keys = (await source.cli("CLUSTER", "GETKEYSINSLOT", s, "20"))
        .split("\n").filter((k) => k !== "");
      if (keys.length === 0) break;
      await source.cli(
        "MIGRATE",
        "127.0.0.1",
        String(target.port),
        "",
        "0",
        "5000",
        "KEYS",
        ...keys,
      );
      moved += keys.length;
      await onBatch();
    }
    for (const n of [target, source, ...this.nodes]) {
      await n.cli("CLUSTER", "SETSLOT", s, "NODE", targetId);
    }
    return moved;
  }

  /** Stop every node and remove their directories. */
  async dispose(): Promise<void> {
    for (const n of this.nodes) await n.dispose();
  }
}

// One single server and one cluster per test file, started on first use
// and stopped by the file's last test (or, if a filter skipped that, when
// the process unloads).
let shared: {
  single?: Promise<RedisServer>;
  cluster?: Promise<RedisCluster>;
} = {};
let prefixCounter = 0;

/**
 * URLs of this process's shared single server or cluster, started on first
 * use; stopped by {@link stopSharedRedis} or, at the latest, when the
 * process unloads.
 */
export function sharedRedis(
  kind: "redis" | "redis-cluster",
): Promise<string[]> {
  // A failed start is not kept: the next test tries again.
  if (kind === "redis") {
    const single = shared.single ??= RedisServer.start({ aof: true });
    single.catch(() => {
      if (shared.single === single) shared.single = undefined;
    });
    return single.then((s) => [s.url]);
  }
  const cluster = shared.cluster ??= RedisCluster.start();
  cluster.catch(() => {
    if (shared.cluster === cluster) shared.cluster = undefined;
  });
  return cluster.then((c) => c.urls);
}

globalThis.addEventListener("unload", () => {
  // Last resort, synchronous: kill whatever a filtered or failed run left.
  for (const server of live) server.killSync();
});

/** Where a test's backend connects: one of these is passed to the test. */
export interface RedisTarget {
  /** `"redis"` (one server) or `"redis-cluster"` (three masters). */
  kind: "redis" | "redis-cluster";
  /** `{ url }` or `{ cluster }`, plus a key prefix unique to the test. */
  options: { url?: string; cluster?: string[]; keyPrefix: string };
}

/**
 * Register `fn` once against a real single server and once against a real
 * 3-master cluster. Each test gets its own key prefix on the shared
 * servers, so tests never see each other's data. Without redis-server the
 * tests register as ignored, with the reason in their name.
 */
export function testEachRedis(
  name: string,
  fn: (target: RedisTarget) => Promise<void>,
  kinds: ("redis" | "redis-cluster")[] = ["redis", "redis-cluster"],
): void {
  for (const kind of kinds) {
    Deno.test({
      name: `[${kind}] ${name}${redisSkip ? ` (skipped: ${redisSkip})` : ""}`,
      ignore: redisSkip !== null,
      // node-redis keeps per-command timeout timers and socket reads that
      // outlive a test by design; the last test of the file stops the servers.
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const urls = await sharedRedis(kind);
        const keyPrefix = `t${++prefixCounter}-${crypto.randomUUID()}:`;
        await fn({
          kind,
          options: kind === "redis"
            ? { url: urls[0], keyPrefix }
            : { cluster: urls, keyPrefix },
        });
      },
    });
  }
}

/** Register the test that stops the shared servers; call it last in a file. */
export function stopSharedRedis(): void {
  Deno.test({
    name: "stop the shared Redis test servers",
    ignore: redisSkip !== null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const { single, cluster } = shared;
      shared = {};
      await (await single)?.dispose();
      await (await cluster)?.dispose();
    },
  });
}
