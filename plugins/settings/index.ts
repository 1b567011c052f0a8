// AssemblyScript has no `import type`, so this Deno lint rule cannot be met here.
// deno-lint-ignore-file verbatim-module-syntax
/**
 * settings: per-user settings as one JSON document per sender, under
 * `settings:<sender>` in the plugin's never-expiring store (sup's
 * `settings:<sender>` example). It uses only sup's own host functions
 * (`get_store`, `set_store`, `list_store`), so the same `.wasm` also runs in
 * sup's Go host.
 *
 * Document: `{"values":{"lang":"es",...},"updated_at":<unix seconds>}`.
 *
 * @module
 */
import {
  fields,
  getStore,
  Help,
  Input,
  JsonKind,
  JsonValue,
  listStore,
  Output,
  parse,
  registerPlugin,
  rest,
  setStore,
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

const PREFIX = "settings:";

/** A sender's document, or an error message. */
class Loaded {
  constructor(public doc: JsonValue, public error: string | null) {}
}

function load(sender: string): Loaded {
  const r = getStore(PREFIX + sender);
  if (r.error !== null) return new Loaded(JsonValue.null(), r.error);
  if (!r.found) {
    return new Loaded(
      JsonValue.object().set("values", JsonValue.object()),
      null,
    );
  }
  const parsed = parse(r.value);
  if (!parsed.ok || parsed.value.kind != JsonKind.Object) {
    return new Loaded(
      JsonValue.null(),
      "stored settings are not a JSON object",
    );
  }
  const values = parsed.value.get("values");
  if (values === null || values.kind != JsonKind.Object) {
    return new Loaded(
      JsonValue.null(),
      'stored settings have no "values" object',
    );
  }
  return new Loaded(parsed.value, null);
}

function save(sender: string, doc: JsonValue, timestamp: i64): string | null {
  doc.set("updated_at", JsonValue.number(f64(timestamp)));
  return setStore(PREFIX + sender, doc.stringify());
}

class Settings extends SupPlugin {
  name(): string {
    return "settings";
  }

  version(): string {
    return "1.0.0";
  }

  help(): Help {
    return new Help(
      "settings",
      "Remembers your personal settings",
      ".sup settings [show | get <name> | set <name> <value> | unset <name> | users]",
      [
        ".sup settings",
        ".sup settings set lang es",
        ".sup settings set city Barcelona, Spain",
        ".sup settings get lang",
        ".sup settings unset city",
        ".sup settings users",
      ],
      "utility",
    );
  }

  handleMessage(input: Input): Output {
    const args = fields(input.message);
    const action = args.length > 0 ? args[0] : "show";
    if (action == "users") return this.users();
    const loaded = load(input.sender);
    if (loaded.error !== null) {
      return Output.fail("Failed to load settings: " + loaded.error!);
    }
    const doc = loaded.doc;
    const values = doc.get("values")!;

    if (action == "show") {
      const keys = values.keys();
      if (keys.length == 0) {
        return Output.ok("No settings yet. Try: .sup settings set lang en");
      }
      const lines = new Array<string>();
      for (let i = 0; i < keys.length; i++) {
        lines.push(keys[i] + " = " + values.getString(keys[i])!);
      }
      return Output.ok("Your settings:\n" + lines.join("\n"));
    }
    if (args.length < 2) return Output.ok("Usage: " + this.help().usage);
    const name = args[1];
    if (action == "get") {
      const v = values.getString(name);
      return Output.ok(v === null ? name + " is not set" : name + " = " + v);
    }
    if (action == "set") {
      const value = rest(args, 2);
      if (value.length == 0) {
        return Output.ok("Usage: .sup settings set <name> <value>");
      }
      values.set(name, JsonValue.string(value));
      const err = save(input.sender, doc, input.info.timestamp);
      if (err !== null) return Output.fail("Failed to save settings: " + err);
      return Output.ok("Saved " + name + " = " + value);
    }
    if (action == "unset") {
      if (!values.remove(name)) return Output.ok(name + " was not set");
      const err = save(input.sender, doc, input.info.timestamp);
      if (err !== null) return Output.fail("Failed to save settings: " + err);
      return Output.ok("Removed " + name);
    }
    return Output.ok(
      "Unknown action '" + action + "'. Usage: " + this.help().usage,
    );
  }

  users(): Output {
    const r = listStore(PREFIX);
    if (r.error !== null) {
      return Output.fail("Failed to list settings: " + r.error!);
    }
    return Output.ok(r.keys.length.toString() + " user(s) have settings");
  }
}

registerPlugin(new Settings());
