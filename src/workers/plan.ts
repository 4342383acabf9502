/**
 * Spawn plans: what a child gets (argv, environment, descriptor table), as plain data
 * built by pure functions. Every child is started through steward's own exec shim
 * (`steward __exec`, or the native helper of native-shim.ts), which does in the child what
 * must happen between fork and exec (LISTEN_PID, WATCHDOG_PID, parent-death signal,
 * identity) and then execs the real command.
 */
import type { SpawnRequest } from "../sys/posix.ts";

/** The variable that carries an ExecPlan to the shim; removed before the real exec. */
export const EXEC_PLAN_VAR = "STEWARD_EXEC_PLAN";
export const SHIM_MODE = "__exec";

/** What the shim does in the child before exec. */
export interface ExecPlan {
  path: string;
  argv: string[];
  /** the master's PID: if the child's parent is already someone else, the master died */
  parent: number;
  /** signal the child gets when the master dies */
  deathSignal: number;
  /** descriptors 3..3+listenFds-1 must survive the exec */
  listenFds: number;
  uid?: number;
  gid?: number;
  /** for error messages: `worker 2`, `program 'agent'` */
  label: string;
  /** variables set for the final exec only, never for the shim (which is steward itself) */
  execEnv?: Record<string, string>;
}

export interface SelfCommand {
  path: string;
  prefix: string[];
}

export interface ChildSpec {
  label: string;
  /** resolved absolute path of the command and its argv (argv[0] as the user wrote it) */
  path: string;
  argv: string[];
  cwd?: string;
  /** the environment the child sees, before LISTEN_PID (added by the shim) */
  env: Record<string, string>;
  /** master descriptors to place at 3, 4, ... */
  fds: number[];
  uid?: number;
  gid?: number;
  /** variables for the final exec only (ExecPlan.execEnv) */
  execEnv?: Record<string, string>;
  /** what the command runs on when steward knows (`bun 1.4.5` for `@bun`), for `show proc` */
  runtime?: string;
  /** the watchdog interval (ms) it was given in WATCHDOG_USEC; absent = none */
  watchdog?: number;
  /** its stdout and stderr go to this file instead of the master's (health checks) */
  outputPath?: string;
  /** `start-nice`: its session's nice value until it is ready; `explicit`: the configuration set it (not the default) */
  startNice?: { nice: number; explicit: boolean };
}

/**
 * Turns the steward executable into the `bun` CLI (`@bun` commands, bun-command.ts). Never
 * in the shim's environment: the shim is steward and would start as bun.
 */
export const BUN_BE_BUN = "BUN_BE_BUN";

/** The master's own variables that a child must not inherit from it. */
export function inheritedEnv(masterEnv: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(masterEnv)) {
    if (v === undefined) continue;
    if (k.startsWith("STEWARD_") || k.startsWith("LISTEN_") || k === "NOTIFY_SOCKET" || k === "WATCHDOG_USEC" || k === "WATCHDOG_PID") continue;
    if (k === BUN_BE_BUN) continue;
    out[k] = v;
  }
  return out;
}

export interface WorkerEnvInput {
  masterEnv: Record<string, string | undefined>;
  configEnv: Record<string, string>;
  listenerNames: string[];
  workerId: number;
  generation: number;
  masterPid: number;
  notifySocket: string;
  cliSocket: string;
  /** `[global] watchdog` in ms; 0 or absent = off */
  watchdog?: number;
}

/** REFERENCE §4: the configured env, then what steward gives every worker (which wins). */
export function workerEnv(i: WorkerEnvInput): Record<string, string> {
  return {
    ...inheritedEnv(i.masterEnv),
    ...i.configEnv,
    LISTEN_FDS: String(i.listenerNames.length),
    LISTEN_FDNAMES: i.listenerNames.join(":"),
    NOTIFY_SOCKET: i.notifySocket,
    STEWARD_WORKER_ID: String(i.workerId),
    STEWARD_GENERATION: String(i.generation),
    STEWARD_MASTER_PID: String(i.masterPid),
    STEWARD_CLI_SOCKET: i.cliSocket,
    // WATCHDOG_PID, the worker's own PID, is set by the exec helper with LISTEN_PID
    ...(i.watchdog ? { WATCHDOG_USEC: String(i.watchdog * 1000) } : {}),
  };
}

/**
 * Set just before exec beside LISTEN_PID: systemd's libraries (sd_watchdog_enabled) use
 * the watchdog only in the process WATCHDOG_PID names, so it must be the child's own PID.
 */
export function watchdogPidFor(env: Record<string, string>, pid: number): Record<string, string> {
  return env.WATCHDOG_USEC !== undefined ? { WATCHDOG_PID: String(pid) } : {};
}

/** The posix_spawn request that starts `child` through the shim. */
export function shimSpawnRequest(self: SelfCommand, child: ChildSpec, masterPid: number, deathSignal: number): SpawnRequest {
  // BUN_BE_BUN, wherever it came from (`@bun`, a configured env), waits for the final exec.
  const { [BUN_BE_BUN]: beBun, ...shimEnv } = child.env;
  const execEnv = { ...(beBun !== undefined ? { [BUN_BE_BUN]: beBun } : {}), ...child.execEnv };
  const plan: ExecPlan = {
    path: child.path,
    argv: child.argv,
    parent: masterPid,
    deathSignal,
    listenFds: child.fds.length,
    label: child.label,
    ...(child.uid !== undefined ? { uid: child.uid } : {}),
    ...(child.gid !== undefined ? { gid: child.gid } : {}),
    ...(Object.keys(execEnv).length > 0 ? { execEnv } : {}),
  };
  return {
    path: self.path,
    argv: [self.path, ...self.prefix, SHIM_MODE],
    env: { ...shimEnv, [EXEC_PLAN_VAR]: JSON.stringify(plan) },
    ...(child.cwd !== undefined ? { cwd: child.cwd } : {}),
    passFds: child.fds,
    ownSession: true,
    ...(child.outputPath !== undefined ? { outputPath: child.outputPath } : {}),
  };
}
