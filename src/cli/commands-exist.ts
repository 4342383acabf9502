/**
 * What `run` refuses before it binds anything, `check` refuses too: a worker or program
 * command (or `[worker] health` command) that names no executable file (found as execvp would, through the worker's PATH).
 * `run` reports it as `Starting failed: worker.command: …`; `check` as a configuration
 * problem with the same words, exit 1. `@bun` commands resolve as the master resolves them
 * (the Bun runtime this steward carries, else `bun` on PATH).
 */

import type { Config, ConfigProblem } from "../config/types.ts";
import { resolveRunnable, type CarriedBun } from "../workers/bun-command.ts";

/**
 * @param source where the commands were given: the file as the user named it, or "command line"
 * @param workerSource the same for the worker command, which `--` may have given
 */
export function missingCommands(config: Config, env: Readonly<Record<string, string | undefined>>, cwd: string, source: string, workerSource: string, bun?: CarriedBun): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const worker = config.worker;
  const found = resolveRunnable(worker.command, worker.env.PATH ?? env.PATH, worker.cwd ?? cwd, bun);
  if ("error" in found) problems.push({ source: workerSource, key: "worker.command", problem: found.error });
  if (worker.health) {
    const check = resolveRunnable(worker.health.command, worker.env.PATH ?? env.PATH, worker.cwd ?? cwd, bun);
    if ("error" in check) problems.push({ source, key: "worker.health.command", problem: check.error });
  }
  for (const program of config.program) {
    const r = resolveRunnable(program.command, program.env.PATH ?? env.PATH, program.cwd ?? cwd, bun);
    if ("error" in r) problems.push({ source, key: `program '${program.name}': command`, problem: r.error });
  }
  return problems;
}
