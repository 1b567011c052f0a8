/**
 * sup's plugin contract: the exports sup's Go host calls and the JSON they
 * exchange, with the same shapes as sup's Go PDK (`pkg/plugin`). A plugin
 * extends {@link SupPlugin}, calls {@link registerPlugin} at top level, and
 * re-exports the six functions below from its entry file.
 *
 * @module
 */
import { JsonKind, JsonValue, parse } from "./json";
import { inputString, outputString, setError } from "./host";

/** `info` of a message, as sup's host sends it (zero values when absent). */
export class MessageInfo {
  /** WhatsApp message id. */
  id: string = "";
  /** Unix seconds when the message was sent. */
  timestamp: i64 = 0;
  /** The sender's display name. */
  pushName: string = "";
  /** Whether the chat is a group. */
  isGroup: bool = false;
  /** Whether the bot's own account sent it. */
  isFromMe: bool = false;
  /** Whether it was sent in the bot owner's chat with themself. */
  isSelf: bool = false;
  /** Set only by hosts enforcing sup's auto-reply protections. */
  autoReplyAllowed: bool = false;
}

/** What `handle_message` receives: `{"message":..,"sender":..,"info":{..}}`. */
export class Input {
  /** The text after `.sup <topic>` (the whole text for `*` topics). */
  message: string = "";
  /** The chat JID; key per-sender data on it. */
  sender: string = "";
  /** Details of the message. */
  info: MessageInfo = new MessageInfo();
}

/** What `handle_message` answers: `{"success":..,"error"?:..,"reply"?:..}`. */
export class Output {
  constructor(
    /** `false` makes sup log `error` instead of replying. */
    public success: bool,
    /** Text sent back to the chat; empty sends nothing. */
    public reply: string,
    /** Why the plugin failed. */
    public error: string,
  ) {}

  /** A successful reply (sup's `plugin.Success`). */
  static ok(reply: string): Output {
    return new Output(true, reply, "");
  }

  /** A failure (sup's `plugin.Error`). */
  static fail(error: string): Output {
    return new Output(false, "", error);
  }

  /** The JSON sup expects; empty `error`/`reply` are omitted, as Go's `omitempty` does. */
  toJson(): JsonValue {
    const out = JsonValue.object().set("success", JsonValue.bool(this.success));
    if (this.error.length > 0) out.set("error", JsonValue.string(this.error));
    if (this.reply.length > 0) out.set("reply", JsonValue.string(this.reply));
    return out;
  }
}

/** What `get_help` answers; sup shows it in `.sup help`. */
export class Help {
  constructor(
    /** Command name. */
    public name: string,
    /** One line on what it does. */
    public description: string,
    /** Usage line, e.g. `.sup counter [action]`. */
    public usage: string,
    /** Example invocations. */
    public examples: Array<string>,
    /** Grouping in sup's help, e.g. `utility`. */
    public category: string,
  ) {}

  /** `{"name","description","usage","examples","category"}`. */
  toJson(): JsonValue {
    return JsonValue.object()
      .set("name", JsonValue.string(this.name))
      .set("description", JsonValue.string(this.description))
      .set("usage", JsonValue.string(this.usage))
      .set("examples", JsonValue.stringArray(this.examples))
      .set("category", JsonValue.string(this.category));
  }
}

/** Base class of a sup plugin; override the abstract methods. */
export abstract class SupPlugin {
  /** The plugin's name (sup falls back to the file name when this fails). */
  abstract name(): string;
  /** The plugin's version string. */
  abstract version(): string;
  /** Help text for `.sup help`. */
  abstract help(): Help;
  /** Answer one message. Never abort for bad user input: return {@link Output.fail}. */
  abstract handleMessage(input: Input): Output;

  /** Topics that route messages here; `["*"]` receives every message. Default: the name. */
  topics(): Array<string> {
    return [this.name()];
  }

  /** Environment variables the host should pass to this plugin. Default: none. */
  requiredEnvVars(): Array<string> {
    return [];
  }
}

let registered: SupPlugin | null = null;

/** Make `plugin` the one the exports below call; do it at the entry file's top level. */
export function registerPlugin(plugin: SupPlugin): void {
  registered = plugin;
}

const NOT_REGISTERED =
  "Plugin not registered. Call registerPlugin() at the top level of the plugin's entry file.";

/** Parse sup's input JSON; `null` with `error` set when it is not valid. */
export function parseInput(text: string): Input | null {
  lastInputError = null;
  const parsed = parse(text);
  if (!parsed.ok) {
    lastInputError = parsed.error;
    return null;
  }
  const v = parsed.value;
  if (v.kind != JsonKind.Object) {
    lastInputError = "input is not a JSON object";
    return null;
  }
  const input = new Input();
  const message = v.get("message");
  if (message !== null && !message.isNull) {
    const s = message.asString();
    if (s === null) {
      lastInputError = '"message" is not a string';
      return null;
    }
    input.message = s;
  }
  const sender = v.get("sender");
  if (sender !== null && !sender.isNull) {
    const s = sender.asString();
    if (s === null) {
      lastInputError = '"sender" is not a string';
      return null;
    }
    input.sender = s;
  }
  const info = v.get("info");
  if (info !== null && info.kind == JsonKind.Object) {
    const id = info.getString("id");
    if (id !== null) input.info.id = id;
    const ts = info.get("timestamp");
    if (ts !== null && ts.kind == JsonKind.Number) {
      input.info.timestamp = i64(ts.asNumber());
    }
    const pushName = info.getString("push_name");
    if (pushName !== null) input.info.pushName = pushName;
    input.info.isGroup = flag(info, "is_group");
    input.info.isFromMe = flag(info, "is_from_me");
    input.info.isSelf = flag(info, "is_self");
    input.info.autoReplyAllowed = flag(info, "auto_reply_allowed");
  }
  return input;
}

/** Why the last {@link parseInput} returned `null`. */
export let lastInputError: string | null = null;

function flag(obj: JsonValue, key: string): bool {
  const v = obj.get(key);
  return v !== null && v.asBool();
}

function notRegistered(): i32 {
  setError(NOT_REGISTERED);
  return 1;
}

/** sup export: message JSON in, `{"success",..}` out. Returns 1 (with a failure output) on unparseable input. */
export function handle_message(): i32 {
  const plugin = registered;
  if (plugin === null) return notRegistered();
  const input = parseInput(inputString());
  if (input === null) {
    outputString(
      Output.fail("Failed to parse input: " + lastInputError!).toJson()
        .stringify(),
    );
    return 1;
  }
  outputString(plugin.handleMessage(input).toJson().stringify());
  return 0;
}

/** sup export: help JSON. */
export function get_help(): i32 {
  const plugin = registered;
  if (plugin === null) return notRegistered();
  outputString(plugin.help().toJson().stringify());
  return 0;
}

/** sup export: the name as plain text. */
export function get_name(): i32 {
  const plugin = registered;
  if (plugin === null) return notRegistered();
  outputString(plugin.name());
  return 0;
}

/** sup export: the version as plain text. */
export function get_version(): i32 {
  const plugin = registered;
  if (plugin === null) return notRegistered();
  outputString(plugin.version());
  return 0;
}

/** sup export: the topics as a JSON array of strings. */
export function get_topics(): i32 {
  const plugin = registered;
  if (plugin === null) return notRegistered();
  outputString(JsonValue.stringArray(plugin.topics()).stringify());
  return 0;
}

/** sup export: required environment variable names as a JSON array. */
export function get_required_env_vars(): i32 {
  const plugin = registered;
  if (plugin === null) return notRegistered();
  outputString(JsonValue.stringArray(plugin.requiredEnvVars()).stringify());
  return 0;
}

function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d || c == 0x0b ||
    c == 0x0c || c == 0xa0;
}

/** Split `text` on runs of whitespace, like Go's `strings.Fields` that sup's plugins use for commands. */
export function fields(text: string): Array<string> {
  const out = new Array<string>();
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const space = i == text.length || isSpace(text.charCodeAt(i));
    if (space) {
      if (start >= 0) out.push(text.substring(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}

/** The words of `text` from index `from` on, joined by single spaces (the rest of a command). */
export function rest(words: Array<string>, from: i32): string {
  return from >= words.length ? "" : words.slice(from).join(" ");
}
