/**
 * Help text: the command list, and one page per command, built from the
 * same {@link Command} records the dispatcher runs so the two cannot drift.
 *
 * @module
 */
import wrapAnsi from "npm:wrap-ansi@10.0.2";
import type { Command } from "./command.ts";

const GLOBAL_OPTIONS: [string, string][] = [
  [
    "--data-dir DIR",
    "the data directory holding cache.db (default: $SUP_DATA_DIR, else $XDG_DATA_HOME/sup-cache, else ~/.local/share/sup-cache)",
  ],
  [
    "--redis URL",
    "keep the data in Redis instead of cache.db: redis://[user:password@]host:6379/0, or node URLs separated by commas for a Redis Cluster (default: $SUP_CACHE_REDIS)",
  ],
  ["--json", "print one JSON document (errors too, on stderr)"],
  ["-h, --help", "show this help"],
  ["-V, --version", "print the version of sup-cache"],
];

/** Option lines with the descriptions aligned and wrapped. */
function optionLines(options: [string, string][]): string[] {
  const width = Math.max(...options.map(([flags]) => flags.length));
  return options.flatMap(([flags, help]) =>
    wrap(help, 76 - width).map((line, i) =>
      `  ${(i === 0 ? flags : "").padEnd(width)}  ${line}`
    )
  );
}

/** The overview `sup-cache --help` prints. */
export function mainHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "sup-cache: run sup plugins and see, fix and move what they cached",
    "",
    "Usage: sup-cache <command> [arguments] [options]",
    "",
    "Commands:",
    ...commands.map((c) =>
      `  ${c.name.padEnd(width)}  ${c.summary}${
        c.aliases ? ` (also: ${c.aliases.join(", ")})` : ""
      }`
    ),
    "",
    "Options of every command:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Run sup-cache <command> --help for a command's arguments and examples.",
  ].join("\n");
}

/** The page `sup-cache <command> --help` prints. */
export function commandHelp(command: Command): string {
  const lines = [
    `Usage: sup-cache ${command.name}${
      command.usage ? ` ${command.usage}` : ""
    } [options]`,
    "",
    ...wrap(command.description, 78).map((l) => `  ${l}`),
    "",
    "Options:",
    ...optionLines([
      ...command.options.map(([, flags, help]): [string, string] => [
        flags,
        help,
      ]),
      ...GLOBAL_OPTIONS,
    ]),
  ];
  if (command.aliases) {
    lines.push("", `Also called: ${command.aliases.join(", ")}`);
  }
  lines.push("", "Examples:", ...command.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

function wrap(text: string, width: number): string[] {
  return wrapAnsi(text, width, { hard: false, trim: true }).split("\n");
}
