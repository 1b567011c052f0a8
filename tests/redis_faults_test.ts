// Faults against real Redis processes: a crash with AOF loses no
// acknowledged write, a down or frozen server gives a typed error within
// the deadline and the backend recovers by itself, a cluster slot
// migration during writes loses nothing, and several processes
// incrementing through a cluster get exact totals.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createSupCache, StorageError } from "../mod.ts";
import { RedisBackend } from "../src/storage/redis/backend.ts";
import {
  RedisReplyError,
  RedisUnavailableError,
} from "../src/storage/redis/errors.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import {
  freePort,
  rawCommand,
  RedisCluster,
  RedisServer,
  redisSkip,
} from "./support/redis_server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number): Promise<void> =>
  new Promise((r) => setTimeout(r, ms));

function redisTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `[redis] ${name}${redisSkip ? ` (skipped: ${redisSkip})` : ""}`,
    ignore: redisSkip !== null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

async function set(b: RedisBackend, ns: string, key: string, value: string) {
  const bytes = enc.encode(value);
  return await b.set(
    1,
    ns,
    key,
    bytes,
    null,
    key.length + bytes.length,
    Date.now(),
    null,
  );
}

function increment(b: RedisBackend, ns: string, key: string) {
  return b.increment(1, ns, key, 1, null, key.length, Date.now(), null);
}

/** Retry `fn` until it succeeds or `ms` pass; the last error is rethrown. */
async function eventually<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(50);
    }
  }
}

redisTest(
  "a crash (SIGKILL) with AOF appendfsync always loses no acknowledged write",
  async () => {
    const server = await RedisServer.start({ aof: true });
    try {
      const acked = new Map<string, string>();
      let increments = 0;
      const b = await RedisBackend.open({
        url: server.url,
        commandTimeoutMs: 1_000,
      });
      let crashed = false;
      const writers = [0, 1, 2].map(async (w) => {
        for (let i = 0; !crashed || i < 5; i++) {
          const key = `w${w}-${i}`;
          try {
            await set(b, "durable", key, `value ${i}`);
            acked.set(key, `value ${i}`);
            if ((await increment(b, "durable", "counter")).kind === "ok") {
              increments++;
            }
          } catch (err) {
            assert.ok(err instanceof StorageError, String(err));
            if (crashed) return;
          }
        }
      });
      await sleep(400);
      crashed = true;
      await server.stop("SIGKILL");
      await Promise.all(writers);
      await b.close();
      assert.ok(acked.size > 10, `only ${acked.size} writes before the crash`);
      await server.restart();
      const after = await RedisBackend.open({ url: server.url });
      try {
        for (const [key, value] of acked) {
          const e = await after.get(1, "durable", key, Date.now());
          assert.equal(e && dec.decode(e.value), value, key);
        }
        const counter = await after.get(1, "durable", "counter", Date.now());
        // Every acknowledged increment is there (one in flight may be too).
        assert.ok(Number(dec.decode(counter!.value)) >= increments);
        assert.ok(Number(dec.decode(counter!.value)) <= increments + 3);
        // The bookkeeping survived with the data: usage counts exactly the
        // keys there. Each of the three writers may have had one set in
        // flight whose answer the crash swallowed; it may have landed.
        const stored = await after.list({
          space: 1,
          ns: "durable",
          from: "",
          exclusive: false,
          before: null,
          limit: 100_000,
          now: Date.now(),
        });
        assert.ok(stored.length >= acked.size + 1, `${stored.length} stored`);
        assert.ok(
          stored.length <= acked.size + 1 + 3,
          `${stored.length} stored`,
        );
        assert.equal((await after.usage(1, "durable")).keys, stored.length);
      } finally {
        await after.close();
      }
    } finally {
      await server.dispose();
    }
  },
);

redisTest(
  "opening with nothing listening fails with RedisUnavailableError by the deadline",
  async () => {
    const port = freePort();
    const started = performance.now();
    const err = await RedisBackend.open({
      url: `redis://127.0.0.1:${port}`,
      connectTimeoutMs: 300,
    }).then(() => null, (e) => e);
    const took = performance.now() - started;
    assert.ok(err instanceof RedisUnavailableError, String(err));
    assert.ok(err instanceof StorageError);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(err.message, /300 ms/);
    assert.ok(took < 300 + 2_000, `took ${took} ms`);
  },
);

redisTest(
  "a server that goes down gives a typed error within the deadline, and the backend recovers",
  async () => {
    const server = await RedisServer.start({ aof: true });
    const b = await RedisBackend.open({
      url: server.url,
      commandTimeoutMs: 400,
    });
    try {
      await set(b, "rec", "k", "before");
      await server.stop("SIGKILL");
      for (const op of ["get", "set", "list"]) {
        const started = performance.now();
        const err = await (op === "get"
          ? b.get(1, "rec", "k", Date.now())
          : op === "set"
          ? set(b, "rec", "k2", "x")
          : b.list({
            space: 1,
            ns: "rec",
            from: "",
            exclusive: false,
            before: null,
            limit: 10,
            now: Date.now(),
          })).then(() =>
            null, (e) => e);
        const took = performance.now() - started;
        assert.ok(err instanceof RedisUnavailableError, `${op}: ${err}`);
        assert.ok(took < 400 + 2_000, `${op} took ${took} ms`);
      }
      await server.restart();
      // The client reconnects by itself; the first calls may still fail.
      const e = await eventually(
        10_000,
        () => b.get(1, "rec", "k", Date.now()),
      );
      assert.equal(dec.decode(e!.value), "before");
      assert.equal(await set(b, "rec", "k3", "after"), true);
    } finally {
      await b.close();
      await server.dispose();
    }
  },
);

/**
 * A backend with a 300 ms deadline on a server of its own, which holds
 * `key` = "v" in namespace `ns` (space 1) and is then frozen (SIGSTOP) for
 * `fn`; thawed and stopped after it.
 */
async function withFrozenServer(
  ns: string,
  key: string,
  fn: (b: RedisBackend, server: RedisServer) => Promise<void>,
): Promise<void> {
  const server = await RedisServer.start();
  const b = await RedisBackend.open({
    url: server.url,
    commandTimeoutMs: 300,
  });
  try {
    await set(b, ns, key, "v");
    server.pause();
    await fn(b, server);
  } finally {
    server.resume();
    await b.close();
    await server.dispose();
  }
}

redisTest(
  "a frozen server (SIGSTOP) times out instead of hanging, and answers after SIGCONT",
  () =>
    withFrozenServer("frz", "k", async (b, server) => {
      const started = performance.now();
      const err = await b.get(1, "frz", "k", Date.now()).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof RedisUnavailableError, String(err));
      assert.ok(performance.now() - started < 300 + 2_000);
      server.resume();
      const e = await eventually(5_000, () => b.get(1, "frz", "k", Date.now()));
      assert.equal(dec.decode(e!.value), "v");
      // Replies stay matched to their requests after the timed-out one.
      for (let i = 0; i < 20; i++) await set(b, "frz", `k${i}`, `v${i}`);
      for (let i = 0; i < 20; i++) {
        const got = await b.get(1, "frz", `k${i}`, Date.now());
        assert.equal(dec.decode(got!.value), `v${i}`);
      }
    }),
);

redisTest(
  "writes queued behind a frozen server are dropped at their deadline, not sent when it thaws",
  // A frozen server stops reading: the socket's buffers fill, and the
  // writes behind them wait in the client, unsent. Their callers get a
  // typed error at the deadline; a write still unsent by then must never
  // reach the server later (the caller was told it failed). Writes
  // already in the socket's buffers may still land: their outcome is
  // unknown, as the error says.
  () =>
    withFrozenServer("clog", "warm", async (b, server) => {
      const big = new Uint8Array(1_048_576).fill(120);
      const count = 64;
      const started = performance.now();
      const outcomes = await Promise.all(
        Array.from(
          { length: count },
          (_, i) =>
            b.set(
              1,
              "clog",
              `k${i}`,
              big,
              null,
              big.length + 4,
              Date.now(),
              null,
            )
              .then(() => null, (e) => e),
        ),
      );
      for (const err of outcomes) {
        assert.ok(err instanceof RedisUnavailableError, String(err));
      }
      assert.ok(performance.now() - started < 300 + 2_000);
      // Well past every deadline, then thaw: only what was in the buffers
      // may arrive.
      await sleep(500);
      server.resume();
      await eventually(5_000, () => b.get(1, "clog", "warm", Date.now()));
      await sleep(200);
      const landed = (await b.usage(1, "clog")).keys - 1;
      assert.ok(
        landed < count / 2,
        `${landed} of ${count} timed-out 1 MB writes landed after the thaw; only those already in the socket's buffers may`,
      );
    }),
);

redisTest(
  "a cluster slot migration during writes loses nothing",
  async () => {
    const cluster = await RedisCluster.start();
    const b = await RedisBackend.open({ cluster: cluster.urls });
    try {
      const ns = "migrating";
      const slot = await cluster.slotOf(new NamespaceKeys("sc:", 1, ns).meta);
      const source = await cluster.ownerOf(slot);
      const target = cluster.nodes.find((n) => n !== source)!;
      // Some data first, so the migration has keys to move.
      for (let i = 0; i < 100; i++) await set(b, ns, `pre${i}`, `v${i}`);
      const acked = new Map<string, string>();
      let increments = 0;
      let errors = 0;
      let done = false;
      const writers = [0, 1].map(async (w) => {
        // Bounded: at most 2,000 rounds per writer.
        for (let i = 0; i < 2_000 && !done; i++) {
          try {
            await set(b, ns, `w${w}-${i}`, `v${i}`);
            acked.set(`w${w}-${i}`, `v${i}`);
            const r = await increment(b, ns, "counter");
            if (r.kind === "ok") increments++;
          } catch (err) {
            errors++;
            console.error(String(err));
          }
        }
      });
      await sleep(50);
      const moved = await cluster.migrateSlot(slot, target, () => sleep(5));
      await sleep(50);
      done = true;
      await Promise.all(writers);
      assert.ok(moved > 100, `moved ${moved} keys`);
      assert.equal(await cluster.ownerOf(slot), target);
      assert.equal(errors, 0, "no write failed during the migration");
      for (let i = 0; i < 100; i++) {
        const e = await b.get(1, ns, `pre${i}`, Date.now());
        assert.equal(e && dec.decode(e.value), `v${i}`);
      }
      for (const [key, value] of acked) {
        const e = await b.get(1, ns, key, Date.now());
        assert.equal(e && dec.decode(e.value), value, key);
      }
      const counter = await b.get(1, ns, "counter", Date.now());
      assert.equal(Number(dec.decode(counter!.value)), increments);
      assert.equal((await b.usage(1, ns)).keys, 100 + acked.size + 1);
    } finally {
      await b.close();
      await cluster.dispose();
    }
  },
);

redisTest(
  "a cluster node that goes down gives a typed error within the deadline; other slots keep working, and it recovers",
  async () => {
    const cluster = await RedisCluster.start();
    const b = await RedisBackend.open({
      cluster: cluster.urls,
      commandTimeoutMs: 500,
    });
    try {
      // Two namespaces on different nodes.
      const owners = new Map<string, RedisServer>();
      for (let i = 0; owners.size < 2 && i < 100; i++) {
        const ns = `ns${i}`;
        const node = await cluster.ownerOf(
          await cluster.slotOf(new NamespaceKeys("sc:", 1, ns).meta),
        );
        if (![...owners.values()].includes(node)) owners.set(ns, node);
      }
      const [[downNs, downNode], [upNs]] = [...owners];
      await set(b, downNs, "k", "before");
      await set(b, upNs, "k", "before");
      await downNode.stop("SIGKILL");
      const started = performance.now();
      const err = await b.get(1, downNs, "k", Date.now()).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof RedisUnavailableError, String(err));
      assert.ok(performance.now() - started < 500 + 2_000);
      // The other node's namespace is unaffected.
      assert.equal(await set(b, upNs, "k2", "during"), true);
      await downNode.restart();
      const e = await eventually(
        15_000,
        () => b.get(1, downNs, "k", Date.now()),
      );
      // No AOF on this node: the restarted node came back empty, but it
      // answers again.
      assert.equal(e, undefined);
      assert.equal(await set(b, downNs, "k", "after"), true);
    } finally {
      await b.close();
      await cluster.dispose();
    }
  },
);

redisTest(
  "four processes incrementing through the cluster get the exact total",
  async () => {
    const cluster = await RedisCluster.start();
    try {
      const worker = fileURLToPath(
        new URL("./support/redis_worker.ts", import.meta.url),
      );
      const procs = Array.from(
        { length: 4 },
        () =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--allow-net=127.0.0.1",
              "--allow-read",
              "--allow-env",
              worker,
              JSON.stringify(cluster.urls),
              "250",
            ],
            stdout: "piped",
            stderr: "piped",
          }).output(),
      );
      const outs = await Promise.all(procs);
      for (const o of outs) {
        assert.ok(o.success, dec.decode(o.stderr));
      }
      const b = await RedisBackend.open({ cluster: cluster.urls });
      try {
        const e = await b.get(1, "bots", "messages", Date.now());
        assert.equal(dec.decode(e!.value), "1000");
      } finally {
        await b.close();
      }
    } finally {
      await cluster.dispose();
    }
  },
);

redisTest(
  "a password in the URL works; a wrong or missing one is refused at once with the reason",
  async () => {
    const server = await RedisServer.start({
      args: ["--requirepass", "s3cret"],
    });
    try {
      const url = (auth: string) => `redis://${auth}127.0.0.1:${server.port}`;
      const b = await RedisBackend.open({ url: url(":s3cret@") });
      try {
        assert.equal(await set(b, "auth", "k", "v"), true);
        assert.ok(!b.path.includes("s3cret"), b.path);
      } finally {
        await b.close();
      }
      for (const auth of [":wrong@", ""]) {
        const started = performance.now();
        const err = await RedisBackend.open({
          url: url(auth),
          connectTimeoutMs: 5_000,
        }).then(() => null, (e) => e);
        assert.ok(err instanceof RedisReplyError, String(err));
        assert.match(err.message, /WRONGPASS|NOAUTH/);
        assert.match(err.message, /user and password in the URL/);
        assert.ok(!err.message.includes("wrong@"), "password not echoed");
        // Refused at once, not after the connect deadline.
        assert.ok(performance.now() - started < 5_000);
      }
    } finally {
      await server.dispose();
    }
  },
);

redisTest(
  "on a server without our scripts (fresh, or after SCRIPT FLUSH), an un-awaited write still lands before a read made after it",
  async () => {
    const server = await RedisServer.start();
    try {
      await using cache = await createSupCache({
        redis: { url: server.url },
        sweepIntervalMs: 0,
      });
      const ns = cache.namespace("n");
      const inOrder = async (round: string) => {
        for (let i = 0; i < 20; i++) {
          const wrote = ns.set(`${round}${i}`, `v${i}`);
          const read = await ns.get(`${round}${i}`);
          await wrote;
          assert.equal(read && dec.decode(read), `v${i}`, `${round}${i}`);
          const counted = ns.increment(`${round}-count`);
          const seen = await ns.get(`${round}-count`);
          await counted;
          assert.equal(seen && dec.decode(seen), String(i + 1), round);
        }
      };
      // The scripts' first requests on this server.
      await inOrder("fresh");
      // The server forgets them: the next awaited write finds out (NOSCRIPT)
      // and sends its script again; un-awaited ones after it stay in order.
      assert.equal(
        await rawCommand(server.port, ["SCRIPT", "FLUSH"]),
        "+OK\r\n",
      );
      await ns.set("after-flush", "x");
      await ns.increment("after-flush-count");
      await inOrder("flushed");
    } finally {
      await server.dispose();
    }
  },
);
