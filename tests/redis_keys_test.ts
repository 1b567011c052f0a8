// The Redis key layout, property-based: the namespace escape is injective
// for any string (lone surrogates included), never produces "}", and no
// key name can move the hash tag Redis Cluster hashes.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "npm:fast-check@4.10.2";
import type { Space } from "../src/storage/backend.ts";
import {
  checkKeyPrefix,
  escapeTagPart,
  NamespaceKeys,
  parseRegistryMember,
  registryMember,
  unescapeTagPart,
} from "../src/storage/redis/keys.ts";
import { InvalidInputError } from "../mod.ts";

// Strings heavy in the characters that matter: the escape character, the
// braces, their escaped spellings, lone and paired surrogates, NUL.
const tricky = fc.array(
  fc.oneof(
    fc.constantFrom(
      "%",
      "{",
      "}",
      "%25",
      "%7B",
      "%7D",
      "%u",
      "%uD800",
      "\uD800",
      "\uDC00",
      "😀",
      "\0",
      ":",
      "e",
      "m",
    ),
    fc.string({ unit: "binary", maxLength: 3 }),
  ),
  { maxLength: 8 },
).map((parts) => parts.join(""));

const anyName = fc.oneof(tricky, fc.string({ unit: "binary" }));

// A tiny alphabet built from the escapes' own characters, so two different
// names often spell the same text under a broken escape ("%7D" vs "}").
const small = fc.array(
  fc.constantFrom("%", "2", "5", "7", "B", "D", "u", "0", "{", "}", "\uD800"),
  { maxLength: 7 },
).map((parts) => parts.join(""));
const space = fc.constantFrom<Space>(0, 1);

/** Redis Cluster's rule: the text between the first "{" and the next "}", if non-empty. */
function hashedPart(key: Buffer): Buffer {
  const open = key.indexOf(0x7b);
  if (open === -1) return key;
  const close = key.indexOf(0x7d, open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

Deno.test("escapeTagPart is injective: unescape gives back every string", () => {
  fc.assert(
    fc.property(anyName, (name) => {
      assert.equal(unescapeTagPart(escapeTagPart(name)), name);
    }),
    { numRuns: 5_000 },
  );
});

Deno.test("distinct names never escape to the same text", () => {
  fc.assert(
    fc.property(fc.oneof(small, anyName), fc.oneof(small, anyName), (a, b) => {
      fc.pre(a !== b);
      assert.notEqual(escapeTagPart(a), escapeTagPart(b));
    }),
    { numRuns: 5_000 },
  );
});

Deno.test("escaped names contain no closing brace and are well-formed", () => {
  fc.assert(
    fc.property(anyName, (name) => {
      const e = escapeTagPart(name);
      assert.ok(!e.includes("}"));
      assert.ok(e.isWellFormed(), "UTF-8 encoding would be lossy otherwise");
    }),
    { numRuns: 5_000 },
  );
});

Deno.test("every key of a namespace hashes the namespace's tag, whatever the key", () => {
  fc.assert(
    fc.property(space, anyName, anyName, (s, ns, key) => {
      fc.pre(key.isWellFormed());
      const k = new NamespaceKeys("sc:", s, ns);
      const tag = Buffer.from(`${s}${escapeTagPart(ns)}`);
      for (
        const redisKey of [
          ...k.fixed.map((x) => Buffer.from(x)),
          Buffer.from(k.entry(key)),
        ]
      ) {
        assert.deepEqual(hashedPart(redisKey), tag);
      }
    }),
    { numRuns: 3_000 },
  );
});

Deno.test("distinct (space, namespace, key) give distinct Redis keys", () => {
  fc.assert(
    fc.property(
      space,
      anyName,
      anyName,
      space,
      anyName,
      anyName,
      (s1, n1, k1, s2, n2, k2) => {
        fc.pre(k1.isWellFormed() && k2.isWellFormed());
        fc.pre(s1 !== s2 || n1 !== n2 || k1 !== k2);
        const a = new NamespaceKeys("sc:", s1, n1);
        const b = new NamespaceKeys("sc:", s2, n2);
        const all = (
          k: NamespaceKeys,
          key: string,
        ) => [...k.fixed.map((x) => Buffer.from(x)), Buffer.from(k.entry(key))];
        const left = all(a, k1).map((x) => x.toString("hex"));
        const right = all(b, k2).map((x) => x.toString("hex"));
        if (s1 === s2 && n1 === n2) {
          // Same namespace: the bookkeeping keys are shared, entries differ.
          assert.notEqual(left[5], right[5]);
        } else {
          for (const x of left) {
            assert.ok(
              !right.includes(x),
              "namespaces share no key",
            );
          }
        }
        // An entry key never equals a bookkeeping key, in any namespace.
        assert.ok(!right.slice(0, 5).includes(left[5]));
        assert.ok(!left.slice(0, 5).includes(right[5]));
      },
    ),
    { numRuns: 5_000 },
  );
});

Deno.test("registry members round-trip", () => {
  fc.assert(
    fc.property(space, fc.string({ unit: "binary", minLength: 1 }), (s, ns) => {
      assert.deepEqual(parseRegistryMember(registryMember(s, ns)), {
        space: s,
        ns,
      });
    }),
  );
  assert.equal(parseRegistryMember("2x"), null);
  assert.equal(parseRegistryMember("0"), null);
});

Deno.test("a key prefix with a brace is refused", () => {
  assert.equal(checkKeyPrefix("bot:"), "bot:");
  assert.throws(() => checkKeyPrefix("a{b"), InvalidInputError);
  assert.throws(() => checkKeyPrefix("a}b"), InvalidInputError);
  assert.throws(() => checkKeyPrefix(3), InvalidInputError);
});
