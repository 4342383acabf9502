/**
 * `--help`: citty renders the usage from the same definitions that parse the arguments;
 * this adds the HAProxy short flags (kept out of the parsing definitions, see args.ts),
 * the version, and what citty cannot know: the `--` worker command and STEWARD_* variables.
 */

import process from "node:process";
import { type ArgsDef, type CommandDef, renderUsage } from "citty";
import { shortFlagsOf } from "./normalize.ts";

const RUN_FOOTER = [
  "Everything after '--' is the worker command, which makes a configuration file optional:",
  "  steward -W -S /run/app.sock -l http=tcp://0.0.0.0:8080 -n 4 -- node server.js",
  "Every option can also be set as STEWARD_<OPTION> (STEWARD_WORKERS=4, STEWARD_DAEMON=1);",
  "the command line wins over the environment, which wins over the file.",
  "'steward -v' prints the version, as HAProxy's -v does; -V is --verbose.",
];

/**
 * The help text as lines for stdout, without colour: stdout is for machines, and citty
 * decides on colour from the process environment, which the CLI does not look at.
 */
export async function helpLines(
  cmd: CommandDef<ArgsDef>,
  parent: CommandDef<ArgsDef> | undefined,
  version: string,
): Promise<string[]> {
  const shown = await withShortFlags(cmd, version);
  const text = await renderUsage(shown, parent === undefined ? undefined : await withShortFlags(parent, version));
  // citty pads the last column to equal width; trailing blanks are noise in a pipe.
  // node:util's inspect only for --help (loading it costs every start ~0.5 ms)
  const lines = process.getBuiltinModule("node:util").stripVTControlCharacters(text).split("\n").map((line) => line.trimEnd());
  const name = (await resolve(cmd.meta))?.name;
  return name === "steward" || name === "run" ? [...lines, "", ...RUN_FOOTER] : lines;
}

async function withShortFlags(cmd: CommandDef<ArgsDef>, version: string): Promise<CommandDef<ArgsDef>> {
  const args: ArgsDef = {};
  for (const [name, def] of Object.entries((await resolve(cmd.args)) ?? {})) {
    const short = def.type === "positional" ? [] : shortFlagsOf(name);
    args[name] = short.length === 0 ? def : { ...def, alias: short };
  }
  return { ...cmd, meta: { ...(await resolve(cmd.meta)), version }, args };
}

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}
