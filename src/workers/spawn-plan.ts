/**
 * How the children of a configuration start, as functions of what they depend on: the
 * configuration, the listeners already bound, the master's environment and working
 * directory, and where its sockets are. Nothing here binds, creates or reads state of its
 * own: binding listeners is the master's step before (master/bind.ts), and resolving a
 * command looks at PATH on disk only (bun-command.ts), for a clear error now rather than
 * at each spawn.
 */
import { DEFAULT_START_NICE } from "../config/global.ts";
import type { Config, GlobalConfig, ProgramConfig } from "../config/types.ts";
import type { BoundListener } from "../listeners/registry.ts";
import { resolveRunnable, type CarriedBun, type ResolvedCommand } from "./bun-command.ts";
import { argvWithListeners, envWithListeners } from "./dialects.ts";
import { inheritedEnv, workerEnv, type ChildSpec } from "./plan.ts";
import { sharePlan } from "./reuseport.ts";
import { join } from "node:path";

/** A configuration cannot be planned: a one-line reason naming the key. */
export class PlanError extends Error {}

/** What the plans read of the master. */
export interface PlanContext {
  /** the master's environment (children inherit it, PATH resolves commands) */
  env: Record<string, string | undefined>;
  /** the master's working directory (relative commands of a child without `cwd`) */
  cwd: string;
  masterPid: number;
  /** the master's notify socket and the directory of CLI sockets, for this configuration's user (host/userdirs.ts) */
  sockets: { notifyPath: string; cliDir: string };
  /** how `@bun` commands run, when steward itself runs on Bun */
  bun?: CarriedBun;
}

/** The socket a worker or program may serve forwarded CLI commands on (its STEWARD_CLI_SOCKET). */
export function cliSocketPath(
  runDir: string,
  p: { kind: "worker"; generation: number; id: number } | { kind: "program"; name: string },
): string {
  return join(runDir, p.kind === "worker" ? `worker-g${p.generation}-${p.id}.sock` : `program-${p.name}.sock`);
}

/** Why `user`/`group` cannot be applied by a master running as `masterUid` (only root may switch identity), or undefined. */
export function identityProblem(config: Config, masterUid: number): string | undefined {
  const { uid, gid, user, group } = config.global;
  if (uid === undefined && gid === undefined) return undefined;
  if (masterUid === 0) return undefined;
  if ((uid === undefined || uid === masterUid) && gid === undefined) return undefined;
  const who = [user !== undefined ? `user '${user}'` : "", group !== undefined ? `group '${group}'` : ""].filter(Boolean).join(" and ");
  return `global: cannot run workers as ${who}: the master runs as uid ${masterUid} and only root can switch identity`;
}

function identity(config: Config): Pick<ChildSpec, "uid" | "gid"> {
  return {
    ...(config.global.uid !== undefined ? { uid: config.global.uid } : {}),
    ...(config.global.gid !== undefined ? { gid: config.global.gid } : {}),
  };
}

/** The worker's command, resolved before anything is bound (PlanError with why it cannot run). */
export function resolveWorker(config: Config, ctx: Pick<PlanContext, "env" | "cwd" | "bun">): ResolvedCommand {
  const resolved = resolveRunnable(config.worker.command, config.worker.env.PATH ?? ctx.env.PATH, config.worker.cwd ?? ctx.cwd, ctx.bun);
  if ("error" in resolved) throw new PlanError(`worker.command: ${resolved.error}`);
  return resolved;
}

/** How worker `id` of `generation` starts: `resolved` (resolveWorker), listening on `bound` (in configuration order). */
export function workerPlan(config: Config, resolved: ResolvedCommand, bound: BoundListener[], ctx: PlanContext): (id: number, generation: number) => ChildSpec {
  // share = "reuseport" listeners are not passed down: workers get their address (reuseport.ts)
  const shared = sharePlan(bound);
  const watchdog = config.global.watchdog ?? 0;
  const startNice = startNiceOf(config.global);
  return (id, generation) => ({
    label: `worker ${id}`,
    path: resolved.path,
    argv: argvWithListeners(resolved.argv, shared.inherited),
    ...(resolved.execEnv ? { execEnv: resolved.execEnv } : {}),
    ...(resolved.runtime ? { runtime: resolved.runtime() } : {}),
    ...(config.worker.cwd !== undefined ? { cwd: config.worker.cwd } : {}),
    env: {
      ...workerEnv({
        masterEnv: ctx.env,
        configEnv: envWithListeners(config.worker, shared.inherited, ctx.masterPid),
        listenerNames: shared.inherited.map((l) => l.name),
        workerId: id,
        generation,
        masterPid: ctx.masterPid,
        notifySocket: ctx.sockets.notifyPath,
        cliSocket: cliSocketPath(ctx.sockets.cliDir, { kind: "worker", generation, id }),
        watchdog,
      }),
      ...shared.env,
    },
    fds: shared.inherited.map((l) => l.fd),
    ...identity(config),
    ...(watchdog > 0 ? { watchdog } : {}),
    ...(startNice ? { startNice } : {}),
  });
}

/** `start-nice` for the workers of `global`: none when it is 0, or when they are ready once spawned (`ready = "spawn"`). */
export function startNiceOf(global: GlobalConfig): ChildSpec["startNice"] {
  const nice = global.startNice ?? DEFAULT_START_NICE;
  if (nice === 0 || global.ready.kind === "spawn") return undefined;
  return { nice, explicit: global.startNice !== undefined };
}

/** How `config`'s programs start; every command is resolved now, for a clear error (PlanError). */
export function programPlan(config: Config, ctx: PlanContext): (program: ProgramConfig) => ChildSpec {
  const resolved = new Map(
    config.program.map((program) => {
      const r = resolveRunnable(program.command, program.env.PATH ?? ctx.env.PATH, program.cwd ?? ctx.cwd, ctx.bun);
      if ("error" in r) throw new PlanError(`program '${program.name}': command: ${r.error}`);
      return [program.name, r] as const;
    }),
  );
  return (program) => {
    const r = resolved.get(program.name)!;
    return {
      label: `program '${program.name}'`,
      path: r.path,
      argv: r.argv,
      ...(r.execEnv ? { execEnv: r.execEnv } : {}),
      ...(program.cwd !== undefined ? { cwd: program.cwd } : {}),
      env: {
        ...inheritedEnv(ctx.env),
        ...program.env,
        NOTIFY_SOCKET: ctx.sockets.notifyPath,
        STEWARD_MASTER_PID: String(ctx.masterPid),
        STEWARD_CLI_SOCKET: cliSocketPath(ctx.sockets.cliDir, { kind: "program", name: program.name }),
      },
      fds: [],
      ...identity(config),
    };
  };
}
