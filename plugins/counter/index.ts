// AssemblyScript has no `import type`, so this Deno lint rule cannot be met here.
// deno-lint-ignore-file verbatim-module-syntax
/**
 * counter: sup's counter plugin, race-free. Every change goes through the
 * host's atomic increment, so two hosts (or two bots) sharing one data
 * directory never lose a count, which sup's get-then-set version can.
 *
 * Keys: `counter:<sender>` for the default counter (the key sup's counter
 * uses) and `counter:<sender>:<name>` for named ones.
 *
 * @module
 */
import {
  Cache,
  fields,
  Help,
  Input,
  Output,
  registerPlugin,
  SupPlugin,
  TTL_NEVER,
} from "../pdk/index";

export {
  get_help,
  get_name,
  get_required_env_vars,
  get_topics,
  get_version,
  handle_message,
} from "../pdk/index";

function keyFor(sender: string, name: string): string {
  return name.length == 0
    ? "counter:" + sender
    : "counter:" + sender + ":" + name;
}

function label(name: string): string {
  return name.length == 0 ? "Counter" : "Counter '" + name + "'";
}

class Counter extends SupPlugin {
  name(): string {
    return "counter";
  }

  version(): string {
    return "1.0.0";
  }

  help(): Help {
    return new Help(
      "counter",
      "Manages counters for users",
      ".sup counter [increment|inc|+|decrement|dec|-|reset|show|list] [name]",
      [
        ".sup counter",
        ".sup counter increment",
        ".sup counter + beans",
        ".sup counter - beans",
        ".sup counter reset beans",
        ".sup counter list",
      ],
      "utility",
    );
  }

  handleMessage(input: Input): Output {
    const args = fields(input.message);
    const action = args.length > 0 ? args[0] : "show";
    const name = args.length > 1 ? args[1] : "";
    if (name.indexOf(":") >= 0) {
      return Output.ok("Counter names cannot contain ':'");
    }
    const key = keyFor(input.sender, name);
    if (action == "increment" || action == "inc" || action == "+") {
      return this.add(key, name, 1);
    }
    if (action == "decrement" || action == "dec" || action == "-") {
      return this.add(key, name, -1);
    }
    if (action == "reset") return this.reset(key, name);
    if (action == "show") return this.show(key, name);
    if (action == "list") return this.list(input.sender);
    return Output.ok(
      "Unknown action '" + action + "'. Try: " + this.help().usage,
    );
  }

  add(key: string, name: string, by: i64): Output {
    const r = Cache.increment(key, by);
    if (r.error !== null) {
      return Output.fail("Failed to update counter: " + r.error!);
    }
    let value = r.value;
    if (value < 0) {
      // sup's counter never goes below zero. Undo our own step atomically
      // rather than writing 0, which could erase a concurrent increment.
      const undo = Cache.increment(key, -by);
      if (undo.error !== null) {
        return Output.fail("Failed to update counter: " + undo.error!);
      }
      value = undo.value < 0 ? 0 : undo.value;
    }
    const verb = by > 0 ? " incremented to " : " decremented to ";
    return Output.ok(label(name) + verb + value.toString());
  }

  reset(key: string, name: string): Output {
    // A reset counter never expires; a fresh one lives for the cache's
    // default TTL (increment keeps the expiry of an existing key).
    const r = Cache.setString(key, "0", TTL_NEVER);
    if (r.isError) return Output.fail("Failed to reset counter: " + r.error!);
    return Output.ok(label(name) + " reset to 0");
  }

  show(key: string, name: string): Output {
    const r = Cache.get(key);
    if (r.isError) return Output.fail("Failed to read counter: " + r.error!);
    if (r.miss) return Output.ok(label(name) + " value: 0 (not set)");
    return Output.ok(label(name) + " value: " + r.text());
  }

  list(sender: string): Output {
    const base = "counter:" + sender;
    const lines = new Array<string>();
    let cursor: string | null = null;
    do {
      const page = Cache.list(base, 100, cursor);
      if (page.error !== null) {
        return Output.fail("Failed to list counters: " + page.error!);
      }
      for (let i = 0; i < page.keys.length; i++) {
        const key = page.keys[i];
        // The prefix also matches senders whose id merely starts with ours.
        let name: string;
        if (key == base) name = "(default)";
        else if (key.startsWith(base + ":")) {
          name = key.substring(base.length + 1);
        } else continue;
        const value = Cache.get(key);
        if (value.isError) {
          return Output.fail("Failed to read counter: " + value.error!);
        }
        if (value.hit) lines.push(name + ": " + value.text()); // a miss expired meanwhile
      }
      cursor = page.cursor;
    } while (cursor !== null);
    if (lines.length == 0) return Output.ok("No counters yet");
    return Output.ok("Counters:\n" + lines.join("\n"));
  }
}

registerPlugin(new Counter());
