// One "bot instance" for the multi-process test: increments a counter in
// the store namespace "bots" N times through the Redis cluster, then exits.
import { RedisBackend } from "../../src/storage/redis/backend.ts";

const [nodes, times] = Deno.args;
const b = await RedisBackend.open({ cluster: JSON.parse(nodes) });
try {
  for (let i = 0; i < Number(times); i++) {
    const r = await b.increment(
      1,
      "bots",
      "messages",
      1,
      null,
      8,
      Date.now(),
      null,
    );
    if (r.kind !== "ok") throw new Error(`increment: ${r.kind}`);
  }
} finally {
  await b.close();
}
