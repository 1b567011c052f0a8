/**
 * Help text: the command list, and one page per command, built from the
 * same {@link Command} records the dispatcher runs so the two cannot drift.
 *
 * @module
 */
import type { Command } from "./commands.ts";

const GLOBAL_HELP = [
  "  --data-dir DIR  the data directory holding cache.db (default: $SUP_DATA_DIR,",
  "                  else $XDG_DATA_HOME/sup, else ~/.local/share/sup)",
  "  --json          print one JSON document (errors too, on stderr)",
  "  -h, --help      show this help",
];

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
    ...GLOBAL_HELP,
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
    ...command.options.map(([, help]) => `  ${help}`),
    ...GLOBAL_HELP,
  ];
  if (command.aliases) {
    lines.push("", `Also called: ${command.aliases.join(", ")}`);
  }
  lines.push("", "Examples:", ...command.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
