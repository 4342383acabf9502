/**
 * `steward [run]`: command line + STEWARD_* + file → a valid configuration → the master.
 * With `--check` it stops after validation, as `steward check` does.
 */

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { type ArgsDef, defineCommand } from "citty";
import { formatProblem, loadConfig } from "../config/index.ts";
import type { ConfigProblem, ConfigResult } from "../config/types.ts";
import { helpHint, USAGE_EXIT_CODE } from "./_usage.ts";
import { missingCommands } from "./commands-exist.ts";
import { RUN_ARGS } from "./args.ts";
import type { CliDeps, CommandInput } from "./deps.ts";
import type { RunDirEnv } from "../host/rundir.ts";
import type { RunOptions } from "../master/options.ts";
import { configFileOf, logLevelOf, refuseConflicts, resolveSettings, type Settings, toOverrides } from "./settings.ts";

export const VALID_MESSAGE = "Configuration file is valid";

export const run = defineCommand<ArgsDef>({
  meta: { name: "run", description: "Start the master and its workers (the default command)" },
  args: RUN_ARGS,
  run: ({ args, data }) => startOrCheck(data as CommandInput, RUN_ARGS, args, "run"),
});

/**
 * The steps of `run` and `check`: settle the options, load the configuration, then either
 * report it valid or hand it to the master. Resolves to the exit code.
 */
export async function startOrCheck(
  input: CommandInput,
  defs: ArgsDef,
  parsed: Readonly<Record<string, unknown>>,
  subcommand: "run" | "check",
): Promise<number> {
  const { deps } = input;
  const settings = resolveSettings(defs, parsed, input.checked, deps.env);
  refuseConflicts(settings);
  const configPath = configFileOf(settings);
  const configSource = sourceOf(configPath === undefined ? undefined : resolve(deps.cwd, configPath));
  const loaded = await load(settings, input);
  if (!loaded.ok) return reportProblems(loaded.problems, deps, subcommand);
  if (subcommand === "check" || settings.values.check === true) {
    const file = configFileOf(settings) ?? "command line";
    const missing = missingCommands(loaded.config, deps.env, deps.cwd, file, input.command?.length ? "command line" : file, deps.bun);
    if (missing.length > 0) return reportProblems(missing, deps, subcommand);
    deps.stdout(VALID_MESSAGE);
    return 0;
  }
  await deps.startMaster({
    config: loaded.config,
    logLevel: logLevelOf(settings),
    systemd: settings.values.systemd === true,
    daemon: settings.values.daemon === true,
    ...(deps.env.JOURNAL_STREAM ? { journalStream: deps.env.JOURNAL_STREAM } : {}),
    args: [...input.argv],
    runDirEnv: runDirEnvOf(deps.env),
    configSource,
  });
  return 0;
}

/** The configuration file as it is before it is read (RunOptions.configSource). */
function sourceOf(file: string | undefined): NonNullable<RunOptions["configSource"]> {
  if (file === undefined) return {};
  try {
    const st = statSync(file);
    if (!st.isFile()) return { file };
    return { file, identity: { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs } };
  } catch {
    return { file };
  }
}

/** The variables that choose where the master's run directory is (host/rundir.ts). */
function runDirEnvOf(env: Readonly<Record<string, string | undefined>>): RunDirEnv {
  const out: RunDirEnv = {};
  for (const key of ["RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR", "TMPDIR"] as const) {
    const value = env[key];
    if (value) out[key] = value;
  }
  return out;
}

function load(settings: Settings, input: CommandInput): Promise<ConfigResult> {
  const file = configFileOf(settings);
  return loadConfig({
    ...(file === undefined ? {} : { file }),
    overrides: toOverrides(settings, input.command),
    cwd: input.deps.cwd,
  });
}

/**
 * One line per problem on stderr. Problems that are all about values typed on the command
 * line or in STEWARD_* variables are usage errors (exit 2, with the --help hint, REFERENCE §2);
 * anything involving the file, or a worker command given nowhere, is a failed start (exit 1).
 */
function reportProblems(problems: readonly ConfigProblem[], deps: CliDeps, subcommand: string): number {
  const usage = problems.every(isOptionProblem);
  for (const problem of problems) {
    // The key already says where the value came from (`--workers`, `STEWARD_WORKERS`).
    if (usage) deps.stderr(`${formatProblem({ ...problem, source: "steward" })}; ${helpHint(subcommand)}`);
    else deps.stderr(formatProblem(problem));
  }
  return usage ? USAGE_EXIT_CODE : 1;
}

/** A bad value of an option: config/ names it `--workers`, `--` or `STEWARD_WORKERS`. */
function isOptionProblem(problem: ConfigProblem): boolean {
  if (problem.source !== "command line" && problem.source !== "environment") return false;
  return problem.key.startsWith("--") || problem.key.startsWith("STEWARD_");
}
