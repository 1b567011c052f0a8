// rediss:// for real, and credentials in the URL against an ACL user: a
// server started with --tls-port and certificates made in the test by a
// throwaway certificate authority (openssl CLI), and a server whose only
// user is an ACL user (the default user is off). Passwords never show in
// errors, `path`, or what the CLI prints.
import assert from "node:assert/strict";
import { createSupCache, InvalidInputError, StorageError } from "../mod.ts";
import { RedisReplyError } from "../src/storage/redis/errors.ts";
import { cli, CLI_FLAGS } from "./support/cli_run.ts";
import { freePort, RedisServer, redisSkip } from "./support/redis_server.ts";
import {
  makeTestCerts,
  opensslSkip,
  type TestCerts,
} from "./support/redis_tls.ts";

const skip = redisSkip ?? opensslSkip;

function tlsTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `[redis] ${name}${skip ? ` (skipped: ${skip})` : ""}`,
    ignore: skip !== null,
    // node-redis keeps socket reads that outlive a test by design.
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

// A password with every character a URL treats specially.
const PASSWORD = "p@ss:w/rd?#%&é s3cret";
const ENCODED = encodeURIComponent(PASSWORD);
const WRONG = "not-the-password-9f2c";

/** A server with TLS on `tlsPort` (plain TCP stays on `port` for the harness). */
async function tlsServer(
  certs: TestCerts,
  more: string[] = [],
): Promise<{ server: RedisServer; tlsPort: number }> {
  const tlsPort = freePort();
  const server = await RedisServer.start({
    args: [
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      certs.certFile,
      "--tls-key-file",
      certs.keyFile,
      "--tls-ca-cert-file",
      certs.caFile,
      "--tls-auth-clients",
      "no",
      ...more,
    ],
  });
  return { server, tlsPort };
}

// Only the ACL user "bot" may do anything; the default user is off.
const ACL = [
  "--user",
  "default",
  "off",
  "--user",
  "bot",
  "on",
  `>${PASSWORD}`,
  "~*",
  "&*",
  "+@all",
];

/** Every message, stack and cause text an error carries. */
function allText(err: unknown, depth = 0): string {
  if (!(err instanceof Error) || depth > 5) return String(err);
  return [err.message, err.stack ?? "", allText(err.cause, depth + 1)].join(
    "\n",
  );
}

function assertNoPassword(text: string, where: string): void {
  for (const secret of [PASSWORD, ENCODED, WRONG]) {
    assert.ok(!text.includes(secret), `${where} shows a password: ${text}`);
  }
}

let certs: TestCerts | undefined;
async function getCerts(): Promise<TestCerts> {
  return certs ??= await makeTestCerts();
}

tlsTest(
  "rediss:// with the CA in redis.tls.ca: the cache works over TLS",
  async () => {
    const c = await getCerts();
    const { server, tlsPort } = await tlsServer(c);
    try {
      const cache = await createSupCache({
        redis: {
          url: `rediss://127.0.0.1:${tlsPort}`,
          tls: { ca: c.ca },
        },
      });
      try {
        const ns = cache.namespace("tls");
        await ns.set("k", new Uint8Array([0, 255, 1]));
        assert.deepEqual(await ns.get("k"), new Uint8Array([0, 255, 1]));
        assert.deepEqual((await ns.list()).keys, ["k"]);
        assert.equal(await ns.increment("n", 2), 2);
      } finally {
        await cache.close();
      }
      // The port really speaks TLS only: a plain client gets nowhere.
      const plain = await createSupCache({
        redis: { url: `redis://127.0.0.1:${tlsPort}`, connectTimeoutMs: 500 },
      }).then(() => null, (e) => e);
      assert.ok(plain instanceof StorageError, String(plain));
    } finally {
      await server.dispose();
    }
  },
);

tlsTest(
  "rediss:// refuses a certificate it cannot trust at once, pointing at redis.tls.ca",
  async () => {
    const c = await getCerts();
    const { server, tlsPort } = await tlsServer(c);
    try {
      const url = `rediss://127.0.0.1:${tlsPort}`;
      // The system's authorities (none signed it), then the wrong one.
      for (const tls of [undefined, { ca: c.otherCa }]) {
        const started = performance.now();
        const err = await createSupCache({
          redis: { url, tls, connectTimeoutMs: 10_000 },
        }).then(() => null, (e) => e);
        assert.ok(err instanceof StorageError, String(err));
        assert.match(err.message, /certificate is not trusted/);
        assert.match(err.message, /redis\.tls\.ca/);
        // Retrying cannot fix it: refused well before the deadline.
        assert.ok(
          performance.now() - started < 5_000,
          `took ${performance.now() - started} ms`,
        );
      }
    } finally {
      await server.dispose();
    }
  },
);

tlsTest("redis.tls is checked: rediss:// only, PEM text, known names", () => {
  const bad: [unknown, RegExp][] = [
    [{ url: "redis://127.0.0.1:6379", tls: {} }, /rediss:\/\/ URLs only/],
    [{ url: "rediss://h:6379", tls: { ca: "not a certificate" } }, /PEM/],
    [{ url: "rediss://h:6379", tls: { ca: [] } }, /PEM/],
    [{ url: "rediss://h:6379", tls: { cert: "x" } }, /cert/],
    [{ url: "rediss://h:6379", tls: "yes" }, /redis\.tls must be an object/],
    [
      { cluster: ["rediss://a:7000", "redis://b:7001"], tls: {} },
      /rediss:\/\/ URLs only/,
    ],
  ];
  return Promise.all(bad.map(async ([redis, message]) => {
    const err = await createSupCache({ redis } as never).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof InvalidInputError, String(err));
    assert.match(err.message, message);
  })).then(() => {});
});

tlsTest(
  "redis://user:password@host works for an ACL user; the password never shows",
  async () => {
    const server = await RedisServer.start({ args: ACL });
    try {
      const url = (user: string, password: string) =>
        `redis://${user}:${
          encodeURIComponent(password)
        }@127.0.0.1:${server.port}/0`;
      const cache = await createSupCache({
        redis: { url: url("bot", PASSWORD) },
      });
      try {
        await cache.namespace("acl").set("k", "v");
        assert.equal(
          new TextDecoder().decode((await cache.namespace("acl").get("k"))!),
          "v",
        );
        assertNoPassword(cache.path, "cache.path");
        assert.match(cache.path, /bot:\*\*\*@/);
      } finally {
        await cache.close();
      }
      // A wrong password, and no credentials at all (the default user is
      // off): refused at once with Redis's reason, no password anywhere.
      for (const u of [url("bot", WRONG), `redis://127.0.0.1:${server.port}`]) {
        const started = performance.now();
        const err = await createSupCache({
          redis: { url: u, connectTimeoutMs: 10_000 },
        }).then(() => null, (e) => e);
        assert.ok(err instanceof RedisReplyError, String(err));
        assert.match(err.message, /WRONGPASS|NOAUTH|NOPERM/);
        assert.ok(performance.now() - started < 5_000);
        assertNoPassword(allText(err), "the error");
      }
      // What the CLI prints (its log) on a refused password.
      const run = await cli(["keys", "acl", "--redis", url("bot", WRONG)], {
        flags: [...CLI_FLAGS, "--allow-net=127.0.0.1"],
      });
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /WRONGPASS|refused/);
      assertNoPassword(run.stdout + run.stderr, "the CLI's output");
    } finally {
      await server.dispose();
    }
  },
);

Deno.test("a malformed URL is refused without showing its password", async () => {
  const bad = [
    `redis://bot:${ENCODED}@127.0.0.1:99999`,
    `redis://bot:${PASSWORD}@127.0.0.1:6379`,
    `http://bot:${ENCODED}@127.0.0.1:6379`,
    `redis://:${ENCODED}@[::1`,
  ];
  for (const url of bad) {
    for (
      const redis of [{ url }, { cluster: ["redis://127.0.0.1:7000", url] }]
    ) {
      const err = await createSupCache({ redis }).then(() => null, (e) => e);
      assert.ok(err instanceof InvalidInputError, `${url}: ${err}`);
      assertNoPassword(allText(err), `the error for ${url}`);
    }
  }
});

// What an ACL user needs (docs/scale-out.md): its keys, the read, write,
// scripting and connection commands, and TIME (scripts may read the
// server's clock); MULTI/EXEC are used when allowed (list's fast path) and
// not needed.
for (const transactions of [true, false]) {
  tlsTest(
    `an ACL user limited to its key prefix and +@read +@write +@scripting +@connection +time${
      transactions ? " +@transaction" : ""
    } can do everything`,
    async () => {
      const server = await RedisServer.start({
        args: [
          "--user",
          "default",
          "off",
          "--user",
          "bot",
          "on",
          ">limited",
          "~app:*",
          "resetchannels",
          "-@all",
          "+@read",
          "+@write",
          "+@scripting",
          "+@connection",
          "+time",
          ...(transactions ? ["+@transaction"] : []),
        ],
      });
      try {
        const cache = await createSupCache({
          redis: {
            url: `redis://bot:limited@127.0.0.1:${server.port}`,
            keyPrefix: "app:",
            // CLIENT TRACKING too.
            nearCache: true,
          },
          sweepIntervalMs: 0,
        });
        try {
          const ns = cache.namespace("acl");
          await ns.set("a", "1", { ttl: 60_000 });
          await ns.set("b", "2");
          assert.equal(await ns.increment("n", 5), 5);
          assert.deepEqual((await ns.list()).keys, ["a", "b", "n"]);
          assert.equal((await ns.scan()).entries.length, 3);
          const e = await ns.getEntry("a");
          assert.ok(
            (await ns.atomic().check("a", e!.version).set("a", "3").commit())
              .ok,
          );
          assert.ok(await ns.delete("b"));
          await cache.store("acl").set("s", "x");
          assert.deepEqual(
            (await cache.namespaces()).map((u) => `${u.kind} ${u.name}`).sort(),
            ["cache acl", "store acl"],
          );
          await cache.purgeExpired();
          await ns.clear();
          assert.deepEqual((await ns.list()).keys, []);
        } finally {
          await cache.close();
        }
        // Outside its prefix, the server says no (the ACL is real).
        const err = await createSupCache({
          redis: {
            url: `redis://bot:limited@127.0.0.1:${server.port}`,
            keyPrefix: "other:",
          },
          sweepIntervalMs: 0,
        }).then(
          (c) => c.namespace("x").set("k", "v").finally(() => c.close()),
        ).then(() => null, (e) => e);
        assert.ok(err instanceof RedisReplyError, String(err));
        assert.match(err.message, /NOPERM/);
      } finally {
        await server.dispose();
      }
    },
  );
}

tlsTest(
  "rediss://user:password@host: TLS and an ACL user together",
  async () => {
    const c = await getCerts();
    const { server, tlsPort } = await tlsServer(c, ACL);
    try {
      const cache = await createSupCache({
        redis: {
          url: `rediss://bot:${ENCODED}@127.0.0.1:${tlsPort}`,
          tls: { ca: c.ca },
        },
      });
      try {
        await cache.namespace("both").set("k", "v");
        assert.ok(await cache.namespace("both").has("k"));
        assertNoPassword(cache.path, "cache.path");
      } finally {
        await cache.close();
      }
    } finally {
      await server.dispose();
    }
  },
);

Deno.test({
  name: "remove the test certificates",
  ignore: skip !== null,
  fn: async () => {
    if (certs) await Deno.remove(certs.dir, { recursive: true });
  },
});
