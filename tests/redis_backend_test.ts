// The Redis backend's operations against a real redis-server and a real
// 3-master Redis Cluster: the same request shapes as the SQLite backend,
// isolation, binary values, expiry by Redis, paging and quotas under
// concurrent writers.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "npm:fast-check@4.10.2";
import type { KeyRange, Quota, Space } from "../src/storage/backend.ts";
import { RedisBackend } from "../src/storage/redis/backend.ts";
import { NamespaceKeys } from "../src/storage/redis/keys.ts";
import {
  rawCommand,
  redisServerBin,
  redisServerVersion,
  type RedisTarget,
  stopSharedRedis,
  testEachRedis,
} from "./support/redis_server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withBackend<T>(
  target: RedisTarget,
  fn: (b: RedisBackend) => Promise<T>,
): Promise<T> {
  const b = await RedisBackend.open(target.options);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

function range(
  ns: string,
  over: Partial<KeyRange> = {},
  space: Space = 0,
): KeyRange {
  return {
    space,
    ns,
    from: "",
    exclusive: false,
    before: null,
    limit: 100,
    now: Date.now(),
    ...over,
  };
}

async function put(
  b: RedisBackend,
  ns: string,
  key: string,
  value: string | Uint8Array,
  expiresAt: number | null = null,
  quota: Quota | null = null,
  space: Space = 0,
): Promise<boolean> {
  const bytes = typeof value === "string" ? enc.encode(value) : value;
  return await b.set(
    space,
    ns,
    key,
    bytes,
    expiresAt,
    enc.encode(key).length + bytes.length,
    Date.now(),
    quota,
  );
}

/** Every key of a namespace, page by page, the way the cache pages. */
async function allKeys(
  b: RedisBackend,
  ns: string,
  limit: number,
): Promise<string[]> {
  const seen: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: string[] = await b.list(
      range(ns, {
        from: after ?? "",
        exclusive: after !== null,
        limit,
      }),
    );
    seen.push(...page);
    if (page.length < limit) return seen;
    after = page[page.length - 1];
  }
}

testEachRedis("set, get, overwrite and delete, with versions", async (t) => {
  await withBackend(t, async (b) => {
    const now = Date.now();
    assert.equal(await b.get(0, "n", "k", now), undefined);
    assert.equal(await put(b, "n", "k", "one"), true);
    const first = await b.get(0, "n", "k", Date.now());
    assert.equal(dec.decode(first!.value), "one");
    assert.equal(first!.expiresAt, null);
    assert.ok(first!.writtenAt >= now);
    await put(b, "n", "k", "two");
    const second = await b.get(0, "n", "k", Date.now());
    assert.equal(dec.decode(second!.value), "two");
    assert.ok(second!.version > first!.version);
    assert.equal(await b.delete(0, "n", "k", Date.now()), true);
    assert.equal(await b.delete(0, "n", "k", Date.now()), false);
    assert.equal(await b.get(0, "n", "k", Date.now()), undefined);
    // A re-created key never gets an old version back (no ABA for checks).
    await put(b, "n", "k", "three");
    assert.ok(
      (await b.get(0, "n", "k", Date.now()))!.version > second!.version,
    );
    await b.clear(0, "n");
    await put(b, "n", "k", "four");
    assert.ok(
      (await b.get(0, "n", "k", Date.now()))!.version > second!.version + 1,
    );
  });
});

testEachRedis("values are bytes end to end", async (t) => {
  await withBackend(t, async (b) => {
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    const big = crypto.getRandomValues(new Uint8Array(65536));
    const mib = new Uint8Array(1_048_576).fill(0xfe);
    // A view into a larger buffer must store only its own bytes.
    const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);
    const cases: [string, Uint8Array][] = [
      ["every", every],
      ["empty", new Uint8Array(0)],
      ["big", big],
      ["mib", mib],
      ["view", view],
      ["invalid-utf8", new Uint8Array([0xc3, 0x28, 0xff, 0x00])],
    ];
    for (const [k, v] of cases) await put(b, "bin", k, v);
    for (const [k, v] of cases) {
      const got = await b.get(0, "bin", k, Date.now());
      assert.ok(got, k);
      assert.deepEqual(new Uint8Array(got.value), v, k);
    }
    const scanned = await b.scan(range("bin"));
    assert.equal(scanned.length, cases.length);
    for (const e of scanned) {
      const want = cases.find(([k]) => k === e.key)![1];
      assert.deepEqual(new Uint8Array(e.value), want, e.key);
    }
  });
});

// The harness runs whichever server SUP_REDIS_SERVER names (Valkey in CI's
// second pass): check the servers under test are that one, so a Valkey run
// cannot quietly test Redis.
testEachRedis("the servers under test are the ones asked for", async (t) => {
  const url = new URL(t.options.url ?? t.options.cluster![0]);
  const info = await rawCommand(Number(url.port), ["INFO", "server"]);
  const valkey = /^server_name:valkey/m.test(info);
  assert.equal(
    valkey,
    /valkey/.test(redisServerBin),
    `${redisServerBin} (${redisServerVersion}) answered INFO server with:\n${info}`,
  );
  const version = info.match(/^(?:valkey|redis)_version:(\S+)/m)?.[1];
  assert.ok(version, info);
  assert.ok(
    Number(version.split(".")[0]) >= 7,
    `the backend needs Redis 7 or Valkey 7.2+, got ${version}`,
  );
});

testEachRedis(
  "namespaces are isolated whatever their names and keys contain",
  async (t) => {
    await withBackend(t, async (b) => {
      // Names that would collide under naive "ns:key" glueing or a naive
      // hash tag: braces, the escape character, its escaped forms.
      const names = ["a", "a:b", "a}", "{a", "a%7D", "%", "%25", "}{", "a b"];
      for (const ns of names) await put(b, ns, "k", `cache:${ns}`);
      for (const ns of names) {
        await put(b, ns, "k", `store:${ns}`, null, null, 1);
      }
      await put(b, "a", "b:k", "glued");
      for (const ns of names) {
        const c = await b.get(0, ns, "k", Date.now());
        const s = await b.get(1, ns, "k", Date.now());
        assert.equal(dec.decode(c!.value), `cache:${ns}`);
        assert.equal(dec.decode(s!.value), `store:${ns}`);
      }
      assert.equal(
        await b.get(0, "a:b", "k", Date.now()).then((e) =>
          dec.decode(e!.value)
        ),
        "cache:a:b",
      );
      assert.deepEqual(await b.list(range("a")), ["b:k", "k"]);
      assert.deepEqual(await b.list(range("a:b")), ["k"]);
      await b.clear(0, "a");
      assert.equal(
        await b.get(0, "a}", "k", Date.now()).then((e) => e !== undefined),
        true,
      );
      assert.equal(
        await b.get(1, "a", "k", Date.now()).then((e) => e !== undefined),
        true,
      );

      // Property: random names and keys (any code point) never see each other.
      await fc.assert(
        fc.asyncProperty(
          fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
          fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
          fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
          async (ns1, ns2, key) => {
            fc.pre(ns1 !== ns2);
            fc.pre([ns1, ns2, key].every((s) => s.isWellFormed()));
            await put(b, ns1, key, "one");
            assert.equal(await b.get(0, ns2, key, Date.now()), undefined);
            assert.deepEqual(
              await b.list(range(ns2, { from: key, limit: 1 })).then((k) =>
                k.includes(key)
              ),
              false,
            );
            await b.clear(0, ns1);
          },
        ),
        { numRuns: 40 },
      );
    });
  },
);

testEachRedis("all keys of a namespace share one hash slot", async (t) => {
  await withBackend(t, async () => {
    const port = Number(new URL(t.options.url ?? t.options.cluster![0]).port);
    const slotOf = async (key: string | Buffer) => {
      const reply = await rawCommand(port, [
        "CLUSTER",
        "KEYSLOT",
        key.toString(),
      ]);
      return reply;
    };
    if (t.kind === "redis") {
      // A single server has no slots; the layout is checked by the cluster run.
      return;
    }
    const k = new NamespaceKeys(t.options.keyPrefix, 0, "we}ird{ns%");
    const slots = new Set<string>();
    for (
      const key of [...k.fixed, k.entry("x"), k.entry("}{"), k.entry("a}b")]
    ) {
      slots.add(await slotOf(key));
    }
    assert.equal(slots.size, 1);
    // Different namespaces spread over the cluster.
    const spread = new Set<string>();
    for (let i = 0; i < 20; i++) {
      spread.add(
        await slotOf(new NamespaceKeys(t.options.keyPrefix, 0, `ns${i}`).meta),
      );
    }
    assert.ok(spread.size > 10, `only ${spread.size} slots for 20 namespaces`);
  });
});

testEachRedis(
  "expiry is Redis's own, and expired entries are never returned",
  async (t) => {
    await withBackend(t, async (b) => {
      const soon = Date.now() + 300;
      await put(b, "exp", "short", "v", soon);
      await put(b, "exp", "long", "v", Date.now() + 600_000);
      await put(b, "exp", "never", "v", null);
      assert.ok(await b.get(0, "exp", "short", Date.now()));
      // The caller's clock decides too: past the expiry, nothing comes back
      // even before Redis has deleted the key.
      assert.equal(await b.get(0, "exp", "short", soon), undefined);
      // (A listing at that time would skip it too, and drop it from the
      // bookkeeping; the lazy-cleanup test checks that.)
      const k = new NamespaceKeys(t.options.keyPrefix, 0, "exp");
      const pttl = await rawCommandFor(t, k.entry("short"), ["PEXPIRETIME"]);
      assert.match(
        pttl,
        new RegExp(`^:${soon}\\r\\n$`),
        "PEXPIREAT set on the entry",
      );
      await sleep(450);
      assert.equal(await b.get(0, "exp", "short", Date.now()), undefined);
      assert.equal(
        await rawCommandFor(t, k.entry("short"), ["EXISTS"]),
        ":0\r\n",
      );
      // Expired entries count until swept, as on SQLite; the sweep fixes usage.
      assert.equal((await b.usage(0, "exp")).keys, 3);
      assert.deepEqual(
        await b.purgeExpiredIn(0, "exp", Date.now(), 100, null),
        { deleted: 1, next: null },
      );
      const used = await b.usage(0, "exp");
      assert.equal(used.keys, 2);
      assert.equal(used.bytes, 2 * 1 + "long".length + "never".length);
      // An expiry in the past stores an entry that is expired at once.
      await put(b, "exp", "past", "v", Date.now() - 1000);
      assert.equal(await b.get(0, "exp", "past", Date.now()), undefined);
      assert.equal(await b.delete(0, "exp", "past", Date.now()), false);
      // Overwriting with no expiry clears the old one (PERSIST).
      await put(b, "exp", "long", "v2", null);
      const e = await b.get(0, "exp", "long", Date.now() + 1_000_000);
      assert.equal(e?.expiresAt, null);
      assert.equal(
        await rawCommandFor(t, k.entry("long"), ["PTTL"]),
        ":-1\r\n",
      );
    });
  },
);

/** Run `cmd key` on the node that holds `key`. */
async function rawCommandFor(
  t: RedisTarget,
  key: Buffer | string,
  cmd: string[],
): Promise<string> {
  const urls = t.options.url ? [t.options.url] : t.options.cluster!;
  for (const url of urls) {
    const reply = await rawCommand(Number(new URL(url).port), [
      ...cmd,
      key.toString(),
    ]);
    if (!reply.startsWith("-MOVED")) return reply;
  }
  throw new Error("no node holds the key");
}

testEachRedis(
  "list: literal prefix, byte order, exclusive cursor, upper bound",
  async (t) => {
    await withBackend(t, async (b) => {
      const keys = [
        "100%",
        "100_",
        "1000",
        "User:1",
        "user:1",
        "user:2",
        "user_3",
        "a",
        "😀",
        "\uffef",
        "é",
        "[x",
        "(y",
        "-",
        "+",
      ];
      for (const k of keys) await put(b, "l", k, "v");
      const sorted = [...keys].sort((x, y) =>
        Buffer.compare(Buffer.from(x), Buffer.from(y))
      );
      assert.deepEqual(await b.list(range("l")), sorted);
      assert.deepEqual(await allKeys(b, "l", 1), sorted);
      assert.deepEqual(await allKeys(b, "l", 4), sorted);
      assert.deepEqual(
        await b.list(range("l", { from: "user", before: "uses" })),
        ["user:1", "user:2", "user_3"],
      );
      assert.deepEqual(
        await b.list(
          range("l", { from: "user:1", exclusive: true, before: "uses" }),
        ),
        ["user:2", "user_3"],
      );
      assert.deepEqual(
        await b.list(range("l", { from: "100%", before: "100&" })),
        ["100%"],
      );
      // Keys that look like ZRANGEBYLEX syntax are plain keys.
      assert.deepEqual(await b.list(range("l", { from: "(", before: ")" })), [
        "(y",
      ]);
      assert.deepEqual(await b.list(range("l", { from: "[", before: "\\" })), [
        "[x",
      ]);
      assert.deepEqual(
        await b.list(range("l", { limit: 2 })),
        sorted.slice(0, 2),
      );
    });
  },
);

testEachRedis(
  "paging neither loses nor repeats a key while others write",
  async (t) => {
    const stable = Array.from(
      { length: 300 },
      (_, i) => `k${String(i).padStart(4, "0")}`,
    );
    await withBackend(t, async (b) => {
      for (const k of stable) {
        await put(b, "p", k, "v");
      }
      // Churn: keys that come and go between the stable ones, and rewrites of
      // the stable ones, from two other connections while one client pages.
      let stop = false;
      const writers = [0, 1].map((w) =>
        withBackend(t, async (other) => {
          let i = 0;
          while (!stop) {
            const churn = `k${String(i % 300).padStart(4, "0")}-${w}`;
            await put(other, "p", churn, "tmp");
            await put(other, "p", stable[(i * 7) % 300], `rewrite ${i}`);
            if (i % 2 === 0) await other.delete(0, "p", churn, Date.now());
            i++;
          }
          return i;
        })
      );
      const seen: string[] = [];
      for (let round = 0; round < 3; round++) {
        seen.length = 0;
        seen.push(...await allKeys(b, "p", 7));
        const stableSeen = seen.filter((k) => !k.includes("-"));
        assert.deepEqual(
          stableSeen,
          stable,
          "every stable key exactly once, in order",
        );
        assert.equal(new Set(seen).size, seen.length, "no key repeated");
        const sorted = [...seen].sort((x, y) =>
          Buffer.compare(Buffer.from(x), Buffer.from(y))
        );
        assert.deepEqual(seen, sorted);
      }
      stop = true;
      const writes = await Promise.all(writers);
      assert.ok(writes.every((n) => n > 0), "writers ran during the paging");
    });
  },
);

testEachRedis("list and scan drop expired index members lazily", async (t) => {
  await withBackend(t, async (b) => {
    const soon = Date.now() + 100;
    for (let i = 0; i < 20; i++) await put(b, "lazy", `e${i}`, "v", soon);
    await put(b, "lazy", "live", "v");
    await sleep(200);
    assert.deepEqual(await b.list(range("lazy", { limit: 5 })), ["live"]);
    // The walk cleaned the bookkeeping as it went.
    const k = new NamespaceKeys(t.options.keyPrefix, 0, "lazy");
    assert.equal(await rawCommandFor(t, k.index, ["ZCARD"]), ":1\r\n");
    assert.equal((await b.usage(0, "lazy")).keys, 1);
    const scanned = await b.scan(range("lazy"));
    assert.deepEqual(scanned.map((e) => e.key), ["live"]);
  });
});

// list's fast path: one MULTI (ZCOUNT + ZRANGEBYLEX) while nothing in the
// namespace has expired; the script once something has, for a second. The
// server's own command counters tell which ran.
testEachRedis(
  "list reads the index with MULTI while nothing has expired, else walks it",
  async (t) => {
    const port = Number(new URL(t.options.url!).port);
    const calls = async () => {
      const info = await rawCommand(port, ["INFO", "commandstats"]);
      const count = (cmd: string) =>
        Number(info.match(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`))?.[1] ?? 0);
      // A script's first request on a link is EVAL, later ones EVALSHA.
      return { exec: count("exec"), evalsha: count("evalsha") + count("eval") };
    };
    await withBackend(t, async (b) => {
      for (let i = 0; i < 5; i++) await put(b, "fast", `k${i}`, "v");
      await put(b, "fast", "later", "v", Date.now() + 60_000);
      let before = await calls();
      assert.deepEqual(await b.list(range("fast", { limit: 3 })), [
        "k0",
        "k1",
        "k2",
      ]);
      let after = await calls();
      assert.equal(after.exec - before.exec, 1, "one MULTI/EXEC");
      assert.equal(after.evalsha - before.evalsha, 0, "no script");
      // Something expires: the page must skip it, so the script walks.
      await put(b, "fast", "k1", "v", Date.now() + 50);
      await sleep(100);
      before = await calls();
      assert.deepEqual(await b.list(range("fast", { limit: 3 })), [
        "k0",
        "k2",
        "k3",
      ]);
      after = await calls();
      assert.equal(after.evalsha - before.evalsha, 1, "the script walked");
      // For the next second, straight to the script (no wasted MULTI).
      before = await calls();
      assert.deepEqual(await b.list(range("fast", { limit: 2 })), [
        "k0",
        "k2",
      ]);
      after = await calls();
      assert.equal(after.exec - before.exec, 0);
      assert.equal(after.evalsha - before.evalsha, 1);
    });
  },
  ["redis"],
);

testEachRedis(
  "increment: decimal text, keeps expiry, refuses non-integers",
  async (t) => {
    await withBackend(t, async (b) => {
      const inc = (key: string, by: number, expiresAt: number | null = null) =>
        b.increment(0, "c", key, by, expiresAt, key.length, Date.now(), null);
      assert.deepEqual(await inc("n", 1), { kind: "ok", value: 1 });
      assert.deepEqual(await inc("n", 41), { kind: "ok", value: 42 });
      assert.equal(
        dec.decode((await b.get(0, "c", "n", Date.now()))!.value),
        "42",
      );
      assert.deepEqual(await inc("n", -50), { kind: "ok", value: -8 });
      // An existing counter keeps its expiry; the one given is for new ones.
      const at = Date.now() + 60_000;
      await inc("t", 1, at);
      await inc("t", 1, Date.now() + 999_999);
      assert.equal((await b.get(0, "c", "t", Date.now()))!.expiresAt, at);
      for (
        const bad of [
          "abc",
          "1.5",
          "01",
          "",
          " 1",
          "1e3",
          "9007199254740992",
          "99999999999999999",
        ]
      ) {
        await put(b, "c", "bad", bad);
        const res = await inc("bad", 1);
        assert.equal(res.kind, "not-integer", bad);
        assert.equal(
          dec.decode((await b.get(0, "c", "bad", Date.now()))!.value),
          bad,
          "left unchanged",
        );
      }
      // Sums below 10^15 come back as integer replies, larger ones as
      // text: both sides of that line are exact.
      for (
        const good of [
          "-0",
          "0",
          "999999999999998",
          "999999999999999",
          "-1000000000000001",
          "-1000000000000000",
          "9007199254740990",
          "-9007199254740991",
        ]
      ) {
        await put(b, "c", "good", good);
        const res = await inc("good", 1);
        assert.deepEqual(res, { kind: "ok", value: Number(good) + 1 }, good);
      }
      await put(b, "c", "max", "9007199254740991");
      assert.deepEqual(await inc("max", 1), { kind: "overflow" });
      assert.equal(
        dec.decode((await b.get(0, "c", "max", Date.now()))!.value),
        "9007199254740991",
      );
      // Binary garbage is reported, not crashed on.
      await put(b, "c", "bin", new Uint8Array([0xff, 0x00, 0x31]));
      assert.equal((await inc("bin", 1)).kind, "not-integer");
    });
  },
);

testEachRedis(
  "concurrent increments from many connections are exact",
  async (t) => {
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => RedisBackend.open(t.options)),
    );
    try {
      await Promise.all(clients.map(async (c) => {
        for (let i = 0; i < 100; i++) {
          await c.increment(1, "ctr", "hits", 1, null, 4, Date.now(), null);
        }
      }));
      const e = await clients[0].get(1, "ctr", "hits", Date.now());
      assert.equal(dec.decode(e!.value), "400");
    } finally {
      for (const c of clients) await c.close();
    }
  },
);

testEachRedis("atomic commit: version checks, all or nothing", async (t) => {
  await withBackend(t, async (b) => {
    await put(b, "bank", "alice", "10");
    const alice = await b.get(0, "bank", "alice", Date.now());
    const commit = (
      checks: { key: string; version: number | null }[],
      quota: Quota | null = null,
    ) =>
      b.commit(
        0,
        "bank",
        checks,
        [
          { key: "alice", value: enc.encode("5"), expiresAt: null, size: 6 },
          { key: "bob", value: enc.encode("5"), expiresAt: null, size: 4 },
          { key: "carol", value: null, expiresAt: null, size: 0 },
        ],
        Date.now(),
        quota,
      );
    assert.equal(await commit([{ key: "bob", version: 1 }]), "check");
    assert.equal(await b.get(0, "bank", "bob", Date.now()), undefined);
    assert.equal(
      await commit([{ key: "alice", version: alice!.version }, {
        key: "bob",
        version: null,
      }]),
      "ok",
    );
    assert.equal(
      dec.decode((await b.get(0, "bank", "alice", Date.now()))!.value),
      "5",
    );
    assert.equal(
      dec.decode((await b.get(0, "bank", "bob", Date.now()))!.value),
      "5",
    );
    // The same commit again: alice's version moved on.
    assert.equal(
      await commit([{ key: "alice", version: alice!.version }]),
      "check",
    );
    // Quota: the batch as a whole must fit; nothing is written when it does not.
    await b.clear(0, "bank");
    await put(b, "bank", "alice", "10");
    assert.equal(await commit([], { maxBytes: 1000, maxKeys: 1 }), "quota");
    assert.equal(await b.get(0, "bank", "bob", Date.now()), undefined);
    assert.equal(
      dec.decode((await b.get(0, "bank", "alice", Date.now()))!.value),
      "10",
    );
    // An expired entry does not satisfy a version check; null does.
    await put(b, "bank", "gone", "x", Date.now() - 1);
    assert.equal(
      await b.commit(
        0,
        "bank",
        [{ key: "gone", version: null }],
        [],
        Date.now(),
        null,
      ),
      "ok",
    );
  });
});

// One key checked and set, the usual atomic() commit, has a script of its
// own (CHECK_SET): the same answers as the general one.
testEachRedis("atomic commit of one key checked and set", async (t) => {
  await withBackend(t, async (b) => {
    const now = Date.now();
    const one = (
      key: string,
      version: number | null,
      value: string,
      expiresAt: number | null = null,
      quota: Quota | null = null,
      extras?: { evict: { batch: number; maxRows: number } },
    ) =>
      b.commit(
        0,
        "cas",
        [{ key, version }],
        [{
          key,
          value: enc.encode(value),
          expiresAt,
          size: key.length + value.length,
        }],
        now,
        quota,
        extras,
      );
    await put(b, "cas", "alice", "10");
    const v = (await b.get(0, "cas", "alice", now))!.version;
    assert.equal(await one("alice", v, "11"), "ok");
    const after = (await b.get(0, "cas", "alice", now))!;
    assert.equal(dec.decode(after.value), "11");
    assert.ok(after.version > v);
    assert.equal(await one("alice", v, "12"), "check");
    assert.equal(
      dec.decode((await b.get(0, "cas", "alice", now))!.value),
      "11",
    );
    // null: must not exist; an expired entry does not exist.
    assert.equal(await one("new", null, "1"), "ok");
    assert.equal(await one("new", null, "2"), "check");
    await put(b, "cas", "gone", "x", now - 1);
    assert.equal(await one("gone", null, "y", now + 60_000), "ok");
    const gone = (await b.get(0, "cas", "gone", now))!;
    assert.equal(dec.decode(gone.value), "y");
    assert.equal(gone.expiresAt, now + 60_000);
    assert.deepEqual(await b.list(range("cas", { now })), [
      "alice",
      "gone",
      "new",
    ]);
    assert.equal((await b.usage(0, "cas")).keys, 3);
    // Over quota: refused, nothing written; with eviction: the least
    // recently used other key goes, in the same script.
    const quota = { maxBytes: 1_000, maxKeys: 3 };
    assert.equal(await one("more", null, "m", null, quota), "quota");
    assert.equal(await b.get(0, "cas", "more", now), undefined);
    const evict = { evict: { batch: 1, maxRows: 10 } };
    assert.equal(await one("more", null, "m", null, quota, evict), "ok");
    const u = await b.usage(0, "cas");
    assert.equal(u.keys, 3);
    assert.equal(u.evictions, 1);
    assert.equal(dec.decode((await b.get(0, "cas", "more", now))!.value), "m");
  });
});

testEachRedis("quotas hold exactly under concurrent writers", async (t) => {
  const quota = { maxBytes: 1_000_000, maxKeys: 50 };
  const clients = await Promise.all(
    Array.from({ length: 6 }, () => RedisBackend.open(t.options)),
  );
  try {
    const results = await Promise.all(clients.map(async (c, w) => {
      let ok = 0;
      for (let i = 0; i < 20; i++) {
        if (await put(c, "q", `w${w}-${i}`, "value", null, quota)) ok++;
      }
      return ok;
    }));
    assert.equal(results.reduce((a, b) => a + b, 0), 50);
    const used = await clients[0].usage(0, "q");
    assert.equal(used.keys, 50);
    const keys = await allKeys(clients[0], "q", 1000);
    assert.equal(keys.length, 50);
    const bytes = keys.reduce((n, k) => n + k.length + 5, 0);
    assert.equal(used.bytes, bytes);
    // Overwriting an existing key is allowed at the key quota.
    assert.equal(await put(clients[0], "q", keys[0], "other"), true);
    assert.equal(
      await put(clients[0], "q", keys[0], "other", null, quota),
      true,
    );
    // Byte quota, concurrently: 10-byte entries against 95 bytes.
    const byteQuota = { maxBytes: 95, maxKeys: 1000 };
    const wrote = await Promise.all(clients.map(async (c, w) => {
      let ok = 0;
      for (let i = 0; i < 5; i++) {
        if (await put(c, "qb", `${w}-${i}`, "1234567", null, byteQuota)) ok++;
      }
      return ok;
    }));
    assert.equal(wrote.reduce((a, b) => a + b, 0), 9);
    assert.equal((await clients[0].usage(0, "qb")).bytes, 90);
  } finally {
    for (const c of clients) await c.close();
  }
});

testEachRedis(
  "writes that answer only their change keep knownUsage exact; another process's writes show within 64 writes",
  async (t) => {
    await withBackend(t, async (a) => {
      const other = await RedisBackend.open(t.options);
      try {
        const ns = "chg";
        const incr = (key: string, by: number, b = a) =>
          b.increment(0, ns, key, by, null, key.length, Date.now(), null);
        // `other` reads the server's totals; its own knownUsage is apart.
        const exact = async (step: string) => {
          const u = await other.usage(0, ns);
          const known = a.knownUsage(0, ns)!;
          assert.deepEqual(
            [known.keys, known.bytes],
            [u.keys, u.bytes],
            `after ${step}`,
          );
        };
        await put(a, ns, "k1", "hello");
        await exact("the first write (totals)");
        await put(a, ns, "k1", "hello world");
        await exact("an overwrite that grows");
        await put(a, ns, "k2", "x");
        await exact("a new key");
        await put(a, ns, "k1", "");
        await exact("an overwrite that shrinks");
        const counted: [string, number, number][] = [
          ["c", 9, 9], // a new counter
          ["c", 1, 10], // one digit more
          ["c", -11, -1], // same length, negative
          ["c", -9999, -10000],
          ["c", 10000, 0],
          ["c", -3, -3],
          // The largest sums the integer answer carries, then past them
          // (from 5 × 10^14 the totals answer).
          ["c", 500_000_000_000_002, 499_999_999_999_999],
          ["c", 1, 500_000_000_000_000],
          ["c", -1_000_000_000_000_000, -500_000_000_000_000],
          ["c", 1, -499_999_999_999_999],
          ["c", 499_999_999_999_996, -3],
        ];
        for (const [key, by, sum] of counted) {
          assert.deepEqual(await incr(key, by), { kind: "ok", value: sum });
          await exact(`increment by ${by}`);
        }
        // Values the client cannot size from the sum alone: the totals
        // answer instead.
        await put(a, ns, "s", "42");
        assert.deepEqual(await incr("s", 1), { kind: "ok", value: 43 });
        await exact("incrementing a value set as text");
        await put(a, ns, "z", "-0");
        assert.deepEqual(await incr("z", 5), { kind: "ok", value: 5 });
        await exact('incrementing "-0"');
        await put(a, ns, "gone", "a longer value", Date.now() + 30);
        await sleep(80);
        assert.deepEqual(await incr("gone", 2), { kind: "ok", value: 2 });
        await exact("incrementing a key whose entry expired");
        await put(a, ns, "gone", "v", Date.now() + 30);
        await sleep(80);
        await put(a, ns, "gone", "again");
        await exact("setting a key whose entry expired");

        // Another process writes: this one's count moves by its own
        // changes only, until the next totals (within 64 writes).
        for (let i = 0; i < 5; i++) await put(other, ns, `o${i}`, "v");
        const server = (await other.usage(0, ns)).keys;
        let writes = 0;
        while (a.knownUsage(0, ns)!.keys !== server + 1) {
          const before = a.knownUsage(0, ns)!.keys;
          await put(a, ns, "mine", `v${writes}`);
          writes++;
          const after = a.knownUsage(0, ns)!.keys;
          if (after !== server + 1) {
            assert.equal(after, before + (writes === 1 ? 1 : 0));
          }
          assert.ok(writes <= 64, "the totals came within 64 writes");
        }
        await exact("the totals");
      } finally {
        await other.close();
      }
    });
  },
);

testEachRedis("usage, counters, namespaces, purgeExpired", async (t) => {
  await withBackend(t, async (b) => {
    assert.deepEqual(await b.usage(0, "never"), {
      space: 0,
      ns: "never",
      keys: 0,
      bytes: 0,
      hits: 0,
      misses: 0,
      nextExpiry: null,
      oldest: null,
      evictions: 0,
    });
    const before = Date.now();
    await put(b, "u", "a", "12345");
    await put(b, "u", "b", "1", before + 100);
    await put(b, "u", "c", "1", null, null, 1);
    await put(b, "é", "k", "v");
    // Each write answers with the namespace's totals or its change to them.
    assert.deepEqual(b.knownUsage(0, "u"), {
      keys: 2,
      bytes: 6 + 2,
      hits: 0,
      misses: 0,
    });
    assert.equal(b.knownUsage(0, "never-written"), undefined);
    await b.addCounters(0, "u", 3, 2);
    await b.addCounters(0, "u", 1, 0);
    const u = await b.usage(0, "u");
    assert.equal(u.keys, 2);
    assert.equal(u.bytes, 6 + 2);
    assert.equal(u.hits, 4);
    assert.equal(u.misses, 2);
    assert.equal(u.nextExpiry, before + 100);
    assert.ok(u.oldest !== null && u.oldest >= before);
    const all = await b.namespaces();
    assert.deepEqual(all.map((n) => [n.ns, n.space]), [["u", 0], ["u", 1], [
      "é",
      0,
    ]]);
    await sleep(150);
    assert.deepEqual(await b.purgeExpired(Date.now(), 100, null), {
      deleted: 1,
      next: null,
    });
    assert.equal((await b.usage(0, "u")).keys, 1);
    assert.equal(await b.clear(0, "u"), 1);
    // A cleared namespace stays listed (with zeros), as on SQLite.
    assert.equal(
      (await b.namespaces()).find((n) => n.ns === "u" && n.space === 0)?.keys,
      0,
    );
  });
});

testEachRedis("getValue, writeMany, recount, and purge steps", async (t) => {
  await withBackend(t, async (b) => {
    assert.equal(await b.getValue(0, "wm", "a", Date.now()), undefined);
    const w = (
      key: string,
      value: string | null,
      expiresAt: number | null = null,
    ) => ({
      key,
      value: value === null ? null : enc.encode(value),
      expiresAt,
      size: key.length + (value?.length ?? 0),
    });
    assert.equal(
      await b.writeMany(
        0,
        "wm",
        [w("a", "1"), w("b", "22"), w("a", "333")],
        Date.now(),
        null,
      ),
      true,
    );
    assert.equal(
      dec.decode((await b.getValue(0, "wm", "a", Date.now()))!),
      "333",
    );
    assert.deepEqual(await b.usage(0, "wm").then((u) => [u.keys, u.bytes]), [
      2,
      4 + 3,
    ]);
    // All or nothing against the quota: the third write does not fit.
    const quota = { maxBytes: 1000, maxKeys: 3 };
    assert.equal(
      await b.writeMany(
        0,
        "wm",
        [w("c", "x"), w("b", null), w("d", "y"), w("e", "z")],
        Date.now(),
        quota,
      ),
      false,
    );
    assert.equal(await b.getValue(0, "wm", "c", Date.now()), undefined);
    assert.ok(await b.getValue(0, "wm", "b", Date.now()));
    // The same batch with the delete first fits (deletes free room in order).
    assert.equal(
      await b.writeMany(
        0,
        "wm",
        [w("b", null), w("c", "x"), w("d", "y")],
        Date.now(),
        quota,
      ),
      true,
    );
    assert.deepEqual(await b.list(range("wm")), ["a", "c", "d"]);

    // Usage counters edited by hand are repaired by a recount.
    assert.equal(await b.recount(0, "wm"), false);
    const k = new NamespaceKeys(t.options.keyPrefix, 0, "wm");
    await rawCommandFor(t, k.meta, ["DEL"]);
    assert.equal(await b.recount(0, "wm"), true);
    assert.deepEqual(await b.usage(0, "wm").then((u) => [u.keys, u.bytes]), [
      3,
      4 + 2 + 2,
    ]);

    // Purge steps walk the namespaces and stop at the limit.
    const past = Date.now() - 1;
    for (const ns of ["p1", "p2", "p3"]) {
      await b.writeMany(
        0,
        ns,
        [w("x", "1", past), w("y", "1", past), w("z", "1")],
        Date.now(),
        null,
      );
    }
    let after = null;
    let total = 0;
    let steps = 0;
    do {
      const step: Awaited<ReturnType<typeof b.purgeExpired>> = await b
        .purgeExpired(Date.now(), 3, after);
      total += step.deleted;
      after = step.next;
      steps++;
    } while (after !== null && steps < 20);
    assert.equal(total, 6);
    assert.ok(steps >= 2, "a limit of 3 needs more than one step for 6");
    for (const ns of ["p1", "p2", "p3"]) {
      assert.equal((await b.usage(0, ns)).keys, 1);
    }
  });
});

testEachRedis("versions past 10^14 stay exact integers", async (t) => {
  await withBackend(t, async (b) => {
    await put(b, "big", "k", "v");
    const k = new NamespaceKeys(t.options.keyPrefix, 0, "big");
    const urls = t.options.url ? [t.options.url] : t.options.cluster!;
    for (const url of urls) {
      const reply = await rawCommand(Number(new URL(url).port), [
        "HSET",
        k.meta,
        "seq",
        "123456789012344",
      ]);
      if (!reply.startsWith("-MOVED")) break;
    }
    await put(b, "big", "k", "w");
    assert.equal(
      (await b.get(0, "big", "k", Date.now()))!.version,
      123456789012345,
    );
    await b.increment(0, "big", "n", 1, null, 1, Date.now(), null);
    assert.equal(
      (await b.get(0, "big", "n", Date.now()))!.version,
      123456789012346,
    );
  });
});

testEachRedis(
  "usage: oldest follows overwrites, and reads data whose every write was scored (the earlier layout)",
  async (t) => {
    await withBackend(t, async (b) => {
      const v = enc.encode("v");
      const base = Date.now();
      await b.set(0, "old", "a", v, null, 2, base + 1, null);
      await b.set(0, "old", "b", v, null, 2, base + 2, null);
      await b.set(0, "old", "c", enc.encode("7"), null, 2, base + 3, null);
      assert.equal((await b.usage(0, "old")).oldest, base + 1);
      // Overwrites leave the write-time set alone; usage still finds the
      // oldest write among what is stored.
      await b.set(0, "old", "a", v, null, 2, base + 4, null);
      await b.set(0, "old", "b", v, null, 2, base + 5, null);
      assert.equal((await b.usage(0, "old")).oldest, base + 3);
      assert.deepEqual(
        await b.increment(0, "old", "c", 1, null, 1, base + 6, null),
        { kind: "ok", value: 8 },
      );
      assert.equal((await b.usage(0, "old")).oldest, base + 4);
      // The layout before this one scored every write: a member already at
      // its entry's write time reads the same.
      const k = new NamespaceKeys(t.options.keyPrefix, 0, "old");
      const reply = await rawCommandFor(t, "a", [
        "ZADD",
        k.writes,
        String(base + 4),
      ]);
      assert.equal(reply, ":0\r\n");
      assert.equal((await b.usage(0, "old")).oldest, base + 4);
      await b.delete(0, "old", "a", base + 7);
      assert.equal((await b.usage(0, "old")).oldest, base + 5);
      await b.clear(0, "old");
      assert.equal((await b.usage(0, "old")).oldest, null);
    });
  },
);

// The expiry set holds each key at or before its entry's real expiry: an
// overwrite that extends the expiry leaves the member where it is unless
// its score is nearer to now than to the new expiry; a shorter expiry
// moves it down. Readers (list, the sweep, usage) settle a stale member
// they meet, and list goes back to its fast path at once.
testEachRedis(
  "expiry set: scores at or before the real expiry, settled by readers",
  async (t) => {
    await withBackend(t, async (b) => {
      const k = new NamespaceKeys(t.options.keyPrefix, 0, "stale");
      const score = async (key: string) => {
        const r = await rawCommandFor(t, key, ["ZSCORE", k.expiries]);
        return r.startsWith("$-1") || r.startsWith("_") ? null : Number(
          r.split("\r\n")[1] ?? r.slice(1),
        );
      };
      const v = enc.encode("v");
      const T = Date.now();
      const set = (key: string, xat: number | null, now: number) =>
        b.set(0, "stale", key, v, xat, key.length + 1, now, null);
      await set("a", T + 10_000, T);
      await set("b", T + 60_000, T);
      assert.equal(await score("a"), T + 10_000);
      // Extended, the old score still past the halfway point: not moved.
      await set("a", T + 18_000, T + 1_000);
      assert.equal(await score("a"), T + 10_000);
      assert.equal(
        (await b.get(0, "stale", "a", T + 1_000))!.expiresAt,
        T + 18_000,
      );
      // The stale score has passed (the caller's clock at T + 12 s); the
      // entry has not: listed, kept by the sweep, and moved up.
      const at = T + 12_000;
      assert.deepEqual(await b.list(range("stale", { now: at })), ["a", "b"]);
      assert.equal(await score("a"), T + 18_000);
      assert.deepEqual(
        await b.purgeExpiredIn(0, "stale", at, 100, null),
        { deleted: 0, next: null },
      );
      assert.equal((await b.usage(0, "stale")).nextExpiry, T + 18_000);
      // A shorter expiry always moves the member down, also below a score
      // a reader moved up (the entry keeps the score it is at).
      await set("a", T + 17_000, T + 2_000);
      assert.equal(await score("a"), T + 17_000);
      await set("b", T + 5_000, T + 2_000);
      assert.equal(await score("b"), T + 5_000);
      assert.deepEqual(await b.list(range("stale", { now: at })), ["a"]);
      // An extension far past the halfway point moves it up again.
      await set("a", T + 100_000, T + 3_000);
      assert.equal(await score("a"), T + 100_000);
      // No expiry: out of the set, and no TTL left on the entry.
      await set("a", null, T + 4_000);
      assert.equal(await score("a"), null);
      assert.equal(await rawCommandFor(t, k.entry("a"), ["PTTL"]), ":-1\r\n");
      // A stale score settled by the sweep and by usage too.
      await set("c", T + 10_000, T);
      await set("c", T + 18_000, T + 1_000);
      assert.equal((await b.usage(0, "stale")).nextExpiry, T + 18_000);
      await set("d", T + 10_000, T);
      await set("d", T + 18_000, T + 1_000);
      assert.deepEqual(
        await b.purgeExpiredIn(0, "stale", at, 100, null),
        { deleted: 0, next: null },
      );
      assert.equal(await score("d"), T + 18_000);
      assert.deepEqual(
        await b.purgeExpiredIn(0, "stale", T + 18_000, 100, null),
        { deleted: 2, next: null },
      );
      assert.equal((await b.usage(0, "stale")).keys, 1);
    });
  },
);

// In steady state (keys overwritten with the same TTL more often than
// every half TTL) the stale scores never pass now, so list stays on its
// fast path; a stale score that does pass costs one script run, after
// which the fast path is back.
testEachRedis(
  "list keeps its fast path while overwrites extend expiries",
  async (t) => {
    const port = Number(new URL(t.options.url!).port);
    const calls = async () => {
      const info = await rawCommand(port, ["INFO", "commandstats"]);
      const count = (cmd: string) =>
        Number(info.match(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`))?.[1] ?? 0);
      return { exec: count("exec"), evalsha: count("evalsha") + count("eval") };
    };
    await withBackend(t, async (b) => {
      const v = enc.encode("v");
      const T = Date.now();
      const ttl = 10_000;
      // The caller's clock runs from T in steps of 1 s; every key is
      // overwritten each step with the same TTL.
      for (let step = 0; step < 30; step++) {
        const now = T + step * 1_000;
        for (let i = 0; i < 5; i++) {
          await b.set(0, "steady", `k${i}`, v, now + ttl, 3, now, null);
        }
        const before = await calls();
        assert.equal((await b.list(range("steady", { now }))).length, 5);
        const after = await calls();
        assert.equal(after.exec - before.exec, 1, `step ${step}: one MULTI`);
        assert.equal(
          after.evalsha - before.evalsha,
          0,
          `step ${step}: no script`,
        );
      }
      // A key left alone: its stale score passes now before its expiry;
      // one script run settles it, then the fast path again.
      const now = T + 30_000;
      await b.set(0, "steady", "left", v, now + 20_000, 4, now, null);
      await b.set(0, "steady", "left", v, now + 21_000, 4, now + 1_000, null);
      const later = now + 20_500;
      for (let i = 0; i < 5; i++) {
        await b.set(0, "steady", `k${i}`, v, later + ttl, 3, later, null);
      }
      let before = await calls();
      assert.ok(
        (await b.list(range("steady", { now: later }))).includes("left"),
      );
      let after = await calls();
      assert.equal(after.evalsha - before.evalsha, 1, "the script settled it");
      before = await calls();
      assert.ok(
        (await b.list(range("steady", { now: later }))).includes("left"),
      );
      after = await calls();
      assert.equal(after.exec - before.exec, 1, "back to one MULTI");
      assert.equal(after.evalsha - before.evalsha, 0);
    });
  },
  ["redis"],
);

// The expiry set's "at or before" against a model: random writes (with and
// without TTLs, longer and shorter), listings, sweeps and usage at a caller's
// clock that moves forward. Whatever stale scores the writes leave, list
// returns exactly the live keys, the sweep leaves exactly the live ones
// counted, and nextExpiry is the earliest live expiry.
testEachRedis(
  "expiry set: list, sweep and usage agree with a model under random writes",
  async (t) => {
    await withBackend(t, async (b) => {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              op: fc.constantFrom("set", "set", "set", "list", "purge"),
              key: fc.integer({ min: 0, max: 3 }),
              ttl: fc.option(fc.integer({ min: 10_000, max: 60_000 }), {
                nil: null,
              }),
              step: fc.integer({ min: 0, max: 20_000 }),
            }),
            { minLength: 5, maxLength: 60 },
          ),
          async (ops) => {
            const ns = `model${round++}`;
            const model = new Map<string, number | null>();
            let now = Date.now();
            const live = () =>
              [...model].filter(([, x]) => x === null || x > now)
                .map(([k]) => k).sort();
            for (const o of ops) {
              now += o.step;
              const key = `k${o.key}`;
              if (o.op === "set") {
                const x = o.ttl === null ? null : now + o.ttl;
                await b.set(0, ns, key, enc.encode("v"), x, 3, now, null);
                model.set(key, x);
              } else if (o.op === "list") {
                assert.deepEqual(await b.list(range(ns, { now })), live());
              } else {
                await b.purgeExpiredIn(0, ns, now, 1_000, null);
                const u = await b.usage(0, ns);
                assert.equal(u.keys, live().length);
                const xs = live().map((k) => model.get(k)).filter((x) =>
                  x !== null
                ) as number[];
                assert.equal(
                  u.nextExpiry,
                  xs.length === 0 ? null : Math.min(...xs),
                );
              }
            }
            assert.deepEqual(await b.list(range(ns, { now })), live());
          },
        ),
        { numRuns: t.kind === "redis" ? 60 : 15 },
      );
    });
  },
);

testEachRedis(
  "a key written again after Redis expired its entry keeps usage exact",
  async (t) => {
    // Redis frees an expired entry on its own; its size record and index
    // member stay until a reader meets them. A write to that key before
    // then is an overwrite for the counts, whichever write it is, and
    // also when the quota is so tight that only an overwrite fits.
    await withBackend(t, async (b) => {
      const ns = "again";
      const soon = Date.now() + 200;
      await put(b, ns, "s", "v", soon);
      await put(b, ns, "s2", "v", soon);
      await b.increment(0, ns, "c", 5, soon, 1, Date.now(), null);
      await b.commit(
        0,
        ns,
        [],
        [
          { key: "a", value: enc.encode("v"), expiresAt: soon, size: 2 },
        ],
        Date.now(),
        null,
      );
      await put(b, ns, "keep", "v");
      await sleep(400);
      const k = new NamespaceKeys(t.options.keyPrefix, 0, ns);
      for (const key of ["s", "s2", "c", "a"]) {
        assert.equal(
          await rawCommandFor(t, k.entry(key), ["EXISTS"]),
          ":0\r\n",
        );
      }
      assert.deepEqual(
        [(await b.usage(0, ns)).keys, (await b.usage(0, ns)).bytes],
        [5, 14],
        "the expired entries still count until swept",
      );
      // A quota the namespace is exactly at: a new key would not fit.
      const full: Quota = { maxKeys: 5, maxBytes: 1_000 };
      assert.equal(await put(b, ns, "s", "vvv", null, full), true);
      assert.equal(await put(b, ns, "s2", "vv", Date.now() + 60_000), true);
      assert.deepEqual(
        await b.increment(0, ns, "c", 2, null, 1, Date.now(), full),
        { kind: "ok", value: 2 },
      );
      assert.equal(
        await b.commit(
          0,
          ns,
          [{ key: "a", version: null }],
          [
            { key: "a", value: enc.encode("vvvv"), expiresAt: null, size: 5 },
          ],
          Date.now(),
          full,
        ),
        "ok",
      );
      assert.equal(await put(b, ns, "new", "v", null, full), false);
      const u = await b.usage(0, ns);
      assert.equal(u.keys, 5);
      assert.equal(u.bytes, 4 + 4 + 2 + 5 + 5);
      assert.equal(u.nextExpiry! > Date.now() + 50_000, true);
      assert.deepEqual(await b.list(range(ns)), ["a", "c", "keep", "s", "s2"]);
      // The sweep finds nothing left to forget, and the counts stay.
      assert.deepEqual(
        await b.purgeExpiredIn(0, ns, Date.now(), 100, null),
        { deleted: 0, next: null },
      );
      assert.equal(await b.recount(0, ns), false, "counts already exact");
      // Neither a non-expiring overwrite nor the others left a stale
      // member in the expiry set.
      assert.equal(
        await rawCommandFor(t, k.expiries, ["ZCARD"]),
        ":1\r\n",
      );
    });
  },
);

stopSharedRedis();
