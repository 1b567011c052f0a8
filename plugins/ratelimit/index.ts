// AssemblyScript has no `import type`, so this Deno lint rule cannot be met here.
// deno-lint-ignore-file verbatim-module-syntax
/**
 * ratelimit: lets each sender through at most `limit` times per window, and
 * the window is nothing but a per-item TTL: the sender's counter is written
 * with `ttl = window_ms`, and when it expires the sender starts over. No
 * clock, no cleanup job.
 *
 * Config (Extism config, as strings): `limit` (default 3), `window_ms`
 * (default 60000).
 *
 * Key: `ratelimit:<sender>` (decimal count of requests in the window).
 *
 * @module
 */
import {
  Cache,
  config,
  fields,
  Help,
  Input,
  Output,
  registerPlugin,
  SupPlugin,
} from "../pdk/index";

export {
  get_help,
  get_name,
  get_required_env_vars,
  get_topics,
  get_version,
  handle_message,
} from "../pdk/index";

/** A positive integer config value, its default when unset, or -1 when malformed. */
function positiveConfig(key: string, fallback: i64): i64 {
  const text = config(key);
  if (text === null) return fallback;
  if (text.length == 0 || text.length > 15) return -1;
  let v: i64 = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + i64(c - 0x30);
  }
  return v > 0 ? v : -1;
}

function duration(ms: i64): string {
  return ms % 1000 == 0 ? (ms / 1000).toString() + "s" : ms.toString() + "ms";
}

class RateLimit extends SupPlugin {
  name(): string {
    return "ratelimit";
  }

  version(): string {
    return "1.0.0";
  }

  help(): Help {
    return new Help(
      "ratelimit",
      "Allows each sender a few requests per time window",
      ".sup ratelimit [status]",
      [".sup ratelimit", ".sup ratelimit status"],
      "utility",
    );
  }

  handleMessage(input: Input): Output {
    const limit = positiveConfig("limit", 3);
    const windowMs = positiveConfig("window_ms", 60000);
    if (limit < 0 || windowMs < 0) {
      return Output.fail(
        "config 'limit' and 'window_ms' must be positive integers",
      );
    }
    const key = "ratelimit:" + input.sender;
    const args = fields(input.message);
    if (args.length > 0 && args[0] == "status") {
      const r = Cache.get(key);
      if (r.isError) {
        return Output.fail("Failed to read the limit: " + r.error!);
      }
      const used = r.miss ? "0" : r.text();
      return Output.ok(
        used + " request(s) in this window; the limit is " + limit.toString(),
      );
    }

    const r = Cache.increment(key, 1);
    if (r.error !== null) {
      return Output.fail("Failed to count the request: " + r.error!);
    }
    if (r.value == 1) {
      // First request of a window: give the counter the window's TTL. A
      // concurrent increment landing between these two calls (only possible
      // with several hosts on one data dir) is overwritten, letting one
      // extra request through; never fewer.
      const s = Cache.setString(key, "1", windowMs);
      if (s.isError) {
        return Output.fail("Failed to start the window: " + s.error!);
      }
    }
    if (r.value > limit) {
      return Output.ok(
        "Slow down: " + limit.toString() + " requests per " +
          duration(windowMs) + "; the window resets when it expires",
      );
    }
    return Output.ok(
      "OK: request " + r.value.toString() + " of " + limit.toString() +
        " in this window",
    );
  }
}

registerPlugin(new RateLimit());
