/**
 * argv → one subcommand → an exit code. The steps: rewrite the short flags, pick the
 * subcommand, answer --help, refuse what citty would let through, then let citty parse and
 * run the command. Nothing here exits the process: the entry point does, with the code
 * returned (citty's runMain would call process.exit itself, so runCommand is used).
 */

import process from "node:process";
import { type ArgsDef, type CommandDef, defineCommand, runCommand } from "citty";
import { suggest } from "../config/suggest.ts";
import { UnavailableError } from "./_client.ts";
import { USAGE_EXIT_CODE, UsageError, usageLine } from "./_usage.ts";
import { RUN_ARGS } from "./args.ts";
import { check } from "./check.ts";
import { cli } from "./cli.ts";
import type { CliDeps, CommandInput } from "./deps.ts";
import { helpLines } from "./help.ts";
import { type NormalizedArgv, normalizeArgv, SUBCOMMANDS, type Subcommand } from "./normalize.ts";
import { reload } from "./reload.ts";
import { run } from "./run.ts";
import { status } from "./status.ts";
import { checkArgs } from "./strict.ts";
import { upgrade } from "./upgrade.ts";
import { version } from "./version.ts";

/** `steward help [COMMAND]`: the same text as `steward [COMMAND] --help`. */
const help = defineCommand<ArgsDef>({
  meta: { name: "help", description: "Print this help, or a command's: steward help COMMAND" },
  args: { command: { type: "positional", required: false, description: "the command to describe" } },
  run: async ({ data }) => {
    const { deps, checked } = data as CommandInput;
    const [named, extra] = checked.positionals;
    if (extra !== undefined) throw new UsageError(`'help' takes one command name (got '${named} ${extra}')`);
    if (named !== undefined && !Object.hasOwn(COMMANDS, named)) {
      throw new UsageError(`unknown command '${named}' (the commands: ${SUBCOMMANDS.join(", ")})`);
    }
    const lines = named === undefined ? await helpLines(steward, undefined, deps.version) : await helpLines(commandNamed(named), steward, deps.version);
    for (const line of lines) deps.stdout(line);
    return 0;
  },
});

const COMMANDS: Readonly<Record<Subcommand, CommandDef<ArgsDef>>> = { run, check, cli, reload, status, upgrade, version, help };

/** Commands that take a command after `--`: the worker's, or (cli) the master CLI's. */
const TAKES_COMMAND: ReadonlySet<string> = new Set(["run", "check", "cli"]);

/** Only rendered, for `steward --help`: the options of the default command and the list of commands. */
const steward = defineCommand<ArgsDef>({
  meta: { name: "steward", description: "Supervise workers that share listeners; reload them without dropping a connection" },
  args: RUN_ARGS,
  subCommands: COMMANDS,
});

/** Runs one command line; resolves to the exit code (REFERENCE §6). Rejects only if an injected function does. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const normalized = normalizeArgv(argv);
  // An unknown subcommand has no help of its own: point at the general one.
  const known = (SUBCOMMANDS as readonly string[]).includes(normalized.subcommand);
  const hintFor = normalized.explicit && known ? normalized.subcommand : undefined;
  try {
    const cmd = commandNamed(normalized.subcommand);
    if (normalized.args.includes("--help")) {
      const lines = normalized.explicit ? await helpLines(cmd, steward, deps.version) : await helpLines(steward, undefined, deps.version);
      for (const line of lines) deps.stdout(line);
      return 0;
    }
    const input = await checkedInput(cmd, normalized, argv, deps);
    const { result } = await runCommand(cmd, { rawArgs: normalized.args, data: input });
    return typeof result === "number" ? result : 0;
  } catch (error) {
    const message = usageMessage(error);
    if (message === undefined) throw error;
    deps.stderr(error instanceof UnavailableError ? `steward: ${message}` : usageLine(message, hintFor));
    return USAGE_EXIT_CODE;
  }
}

/** @throws UsageError for an unknown subcommand, with the closest name or the `--` hint */
function commandNamed(name: string): CommandDef<ArgsDef> {
  if (Object.hasOwn(COMMANDS, name)) return COMMANDS[name as Subcommand];
  const close = suggest(name, SUBCOMMANDS);
  const hint = close !== undefined ? `did you mean '${close}'?` : "a worker command goes after '--'";
  throw new UsageError(`unknown command '${name}' (${hint})`);
}

/** @throws UsageError for unknown options, missing values, stray words or a stray `--` */
async function checkedInput(
  cmd: CommandDef<ArgsDef>,
  normalized: NormalizedArgv,
  argv: readonly string[],
  deps: CliDeps,
): Promise<CommandInput> {
  const defs = (await cmd.args) as ArgsDef;
  const checked = checkArgs(normalized.args, normalized.spelled, defs);
  const takesWords = Object.values(defs).some((def) => def.type === "positional");
  if (!takesWords && checked.positionals.length > 0) {
    const word = checked.positionals[0];
    const hint = TAKES_COMMAND.has(normalized.subcommand) ? " (a worker command goes after '--')" : "";
    throw new UsageError(`unexpected argument '${word}'${hint}`);
  }
  if (normalized.command !== undefined && !TAKES_COMMAND.has(normalized.subcommand)) {
    throw new UsageError(`'${normalized.subcommand}' takes no command after '--'`);
  }
  return { deps, argv, checked, command: normalized.command };
}

/** The one-line message for errors the user caused; undefined for bugs, which propagate. */
function usageMessage(error: unknown): string | undefined {
  if (error instanceof UsageError || error instanceof UnavailableError) return error.message;
  // citty's own argument errors (CLIError); its messages may carry colour codes.
  // node:util's inspect (which this needs) only then: loading it costs every start ~0.5 ms
  if (error instanceof Error && error.name === "CLIError") return process.getBuiltinModule("node:util").stripVTControlCharacters(error.message);
  return undefined;
}
