/**
 * A configuration's children, planned in steps: the identity it asks for, the worker's
 * command resolved (before anything is bound, for a clear error), its listeners bound
 * (bind.ts), then the pure plans of workers/spawn-plan.ts, and the workers' health
 * checks (health-plan.ts).
 */
import type { Config } from "../config/types.ts";
import type { ListenerRegistry } from "../listeners/registry.ts";
import type { Logger } from "../log.ts";
import type { Runtime } from "../runtime/types.ts";
import type { UserDirs } from "../host/userdirs.ts";
import { resolveRunnable } from "../workers/bun-command.ts";
import { cliSocketPath, identityProblem, PlanError, programPlan, resolveWorker, workerPlan, type PlanContext } from "../workers/spawn-plan.ts";
import { healthPlanner } from "./health-plan.ts";
import { bindListeners } from "./bind.ts";
import type { MasterOs } from "./os.ts";
import type { ProgramPlanner, WorkerPlanner } from "./supervisor.ts";

export interface PlanningHost {
  readonly os: MasterOs;
  readonly runtime: Pick<Runtime, "bun">;
  readonly listeners: ListenerRegistry;
  readonly log: Logger;
  readonly uid: number;
  userDirs: UserDirs;
  notifyPath: string;
  runDir: string;
}

/** Binds what `config` listens on (keeping what is bound) and plans its children; throws a one-line reason. */
export function planChildren(host: PlanningHost, config: Config): { worker: WorkerPlanner; program: ProgramPlanner } {
  const problem = identityProblem(config, host.uid);
  if (problem) throw new PlanError(problem);
  const base = { env: host.os.env, cwd: host.os.cwd(), ...(host.runtime.bun ? { bun: host.runtime.bun } : {}) };
  const command = resolveWorker(config, base);
  const bound = bindListeners(host.listeners, config, host.log);
  const { uid, gid } = config.global;
  const ctx: PlanContext = { ...base, masterPid: host.os.pid, sockets: host.userDirs.socketsFor(uid, gid, host.uid, host.notifyPath) };
  const worker = workerPlan(config, command, bound, ctx);
  const program = programPlan(config, ctx);
  const health = config.worker.health;
  if (!health) return { worker, program };
  const check = resolveRunnable(health.command, config.worker.env.PATH ?? base.env.PATH, config.worker.cwd ?? base.cwd, base.bun);
  if ("error" in check) throw new PlanError(`worker.health.command: ${check.error}`);
  const checks = healthPlanner({
    os: host.os,
    health,
    resolved: check,
    masterEnv: base.env,
    configEnv: config.worker.env,
    ...(config.worker.cwd !== undefined ? { cwd: config.worker.cwd } : {}),
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    masterPid: host.os.pid,
    runDir: host.runDir,
    cliSocket: (generation, id) => cliSocketPath(ctx.sockets.cliDir, { kind: "worker", generation, id }),
  });
  return { worker: Object.assign(worker, { health: checks }), program };
}
