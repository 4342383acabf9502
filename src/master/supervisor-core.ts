/**
 * What the supervisor's parts share: `SupervisorCore`, the one explicit record of the
 * supervisor's mutable state (the current configuration and plans, the load in progress,
 * the restart timers, the stop's exit code), and the steps every part uses: starting a
 * worker or a program, telling an old worker to stop, the hard kill.
 *
 * Invariants:
 * - only supervisor.ts builds a core, and only the supervisor's parts (load.ts, exits.ts,
 *   reload.ts, stop.ts, notified.ts) change it;
 * - a process is recorded in `state.processes` as soon as it is spawned, before anything
 *   can observe it (its exit, its readiness, a notify message).
 */
import type { Config, ProgramConfig } from "../config/types.ts";
import { formatDuration } from "../config/duration.ts";
import { signalName } from "../config/signals.ts";
import type { Logger } from "../log.ts";
import type { ChildSpec } from "../workers/plan.ts";
import type { NotifySenders } from "../notify/senders.ts";
import { killGroupThenPid } from "../sys/kill.ts";
import type { RestartHistory } from "./policy.ts";
import { workers, type MasterState, type ProcessEntry } from "./state.ts";
import type { ProbationController } from "./probation.ts";
import type { Watchdog } from "./watchdog.ts";
import type { HealthChecks } from "./health.ts";
import type { BatchRollout } from "./rollout.ts";
import type { MemoryGuard } from "./rss.ts";
import type { LoadResult, ProgramPlanner, SupervisorHooks, SupervisorPorts, Timer, WorkerPlanner } from "./supervisor-types.ts";

/** A generation being started (the first one or a reload's): at most one at a time. */
export interface Load {
  generation: number;
  config: Config;
  pending: Set<number>;
  deadline: Timer;
  /** workers that extended their ready-timeout (EXTEND_TIMEOUT_USEC=): PID → until */
  extended: Map<number, number>;
  done: (result: LoadResult) => void;
  /** rollout = "batch:N" (rollout.ts) */
  batch?: BatchRollout;
}

export interface Restart {
  timer?: Timer;
  history: RestartHistory;
}

export interface SupervisorCore {
  /** the current generation's configuration and plans (a successful reload replaces them) */
  config: Config;
  plan: WorkerPlanner;
  programPlan: ProgramPlanner;
  readonly state: MasterState;
  readonly ports: SupervisorPorts;
  readonly log: Logger;
  readonly hooks: SupervisorHooks;
  /** ports.kill, as the kill helpers take it */
  readonly kill: (target: number, signal: number) => boolean;
  load?: Load;
  /** a worker started before the exec (spawnEarly) that exited before its load began */
  earlyExit?: { reason: string; status: number };
  /** workers waiting to be observed ready (load or restart), by PID */
  readonly waitingReady: Set<number>;
  pollTimer?: Timer;
  /** when pollTimer fires, and when the next round over every waiting worker is due (load.ts) */
  pollAt?: number;
  roundDue?: number;
  /** `start-nice` was refused once in this image (a refusal would repeat): not tried again */
  startNiceRefused?: boolean;
  /** how long the last readiness poll took (ms), and when it ended */
  pollCost: number;
  pollEnded?: number;
  /** restart state by `worker:ID` or `program:NAME` */
  readonly restarts: Map<string, Restart>;
  hardStopTimer?: Timer;
  exitCode: number;
  stopSignal: number;
  finished: boolean;
  readonly senders: NotifySenders;
  /** the batch rollout of the reload in progress, or of a failed one still restoring */
  rollout?: BatchRollout;
  /** the reload in progress is a hard one (old workers get SIGTERM) */
  hardReload: boolean;
  /** max-rss and old-rss-budget (rss.ts) */
  readonly memory: MemoryGuard;
  /** the reload's new generation beside the previous one (master/probation.ts) */
  readonly probation: ProbationController;
  /** REFERENCE §5.10: WATCHDOG=1 keep-alives and health checks of ready workers */
  readonly watchdog: Watchdog;
  readonly health: HealthChecks;
}

/** The configuration worker `p` runs under: its load's, its probation's, or the current one. */
export function configOf(core: SupervisorCore, p: ProcessEntry): Config {
  if (core.load && p.role === "loading") return core.load.config;
  return p.role === "probation" ? (core.probation.config ?? core.config) : core.config;
}

export function spawnWorker(core: SupervisorCore, id: number, generation: number, role: ProcessEntry["role"], plan: WorkerPlanner): number | undefined {
  let pid: number;
  let child: ChildSpec;
  try {
    child = plan(id, generation);
    pid = core.ports.spawn(child);
  } catch (e) {
    core.log.alert(`Cannot start worker ${id}: ${(e as Error).message}`);
    return undefined;
  }
  const entry: ProcessEntry = {
    pid,
    kind: "worker",
    name: "worker",
    id,
    generation,
    startedAt: core.ports.now(),
    version: core.state.version,
    ...(child.runtime !== undefined ? { runtime: child.runtime } : {}),
    role,
    ready: false,
    ...(child.watchdog ? { watchdog: child.watchdog } : {}),
    // listeners/steer.ts: sockets of those old workers may leave a reuse-port group after this one joined
    ...(workers(core.state, "old").length > 0 ? { besideOld: true } : {}),
  };
  core.state.processes.set(pid, entry);
  if (child.startNice) startNice(core, entry, child.startNice);
  core.health.attach(pid, plan.health);
  core.log.notice(`Worker ${id} (${pid}) started (generation ${generation})`, { event: "worker-started", worker: id, workerPid: pid, generation });
  core.hooks.workerStarted?.(entry);
  return pid;
}

/**
 * `start-nice`: a new worker's session gets its nice value until the worker is ready
 * (endStartNice), so that under load it starts in less time beside the busy generation it
 * replaces. A refusal (no privilege to lower it) would repeat: this image tries no more,
 * and says so once, at debug level for the default and as a warning for a configured value.
 */
function startNice(core: SupervisorCore, p: ProcessEntry, want: NonNullable<ChildSpec["startNice"]>): void {
  if (!core.ports.sessionNice || core.startNiceRefused) return;
  try {
    core.ports.sessionNice(p.pid, want.nice);
    p.startNice = want.nice;
  } catch (e) {
    core.startNiceRefused = true;
    const line = `start-nice ${want.nice} not applied to worker ${p.id} (${p.pid}): ${(e as Error).message}; not tried again until the master re-executes`;
    if (want.explicit) core.log.warn(line);
    else core.log.debug(line);
  }
}

/** Worker `p` is ready: its session's nice value goes back to 0 (what a new session starts with). */
export function endStartNice(core: SupervisorCore, p: ProcessEntry): void {
  if (p.startNice === undefined) return;
  delete p.startNice;
  try {
    core.ports.sessionNice?.(p.pid, 0);
  } catch (e) {
    core.log.warn(`Worker ${p.id} (${p.pid}) keeps its start-nice: ${(e as Error).message}`);
  }
}

export function spawnProgram(core: SupervisorCore, program: ProgramConfig, plan: ProgramPlanner): number | undefined {
  let pid: number;
  try {
    pid = core.ports.spawn(plan(program));
  } catch (e) {
    core.log.alert(`Cannot start program '${program.name}': ${(e as Error).message}`);
    return undefined;
  }
  core.state.processes.set(pid, {
    pid,
    kind: "program",
    name: program.name,
    id: 0,
    generation: core.state.reloads,
    startedAt: core.ports.now(),
    version: core.state.version,
    role: "current",
    ready: true,
  });
  core.log.notice(`Program '${program.name}' (${pid}) started`);
  return pid;
}

/** An old worker is told to stop: role old, its stop signal now, SIGKILL after hard-stop-after. */
export function softStop(core: SupervisorCore, p: ProcessEntry, signal: number, hardStopAfter: number): void {
  p.role = "old";
  p.stopSentAt = core.ports.now();
  core.ports.kill(p.pid, signal);
  core.log.notice(`Old worker ${p.id} (${p.pid}) of generation ${p.generation} sent ${signalName(signal)}`);
  if (hardStopAfter > 0) core.ports.after(hardStopAfter, () => hardKill(core, [p.pid]));
}

/** hard-stop-after ran out: SIGKILL (group, then PID) to those of `pids` still alive. */
export function hardKill(core: SupervisorCore, pids: number[]): void {
  const left = pids.filter((pid) => core.state.processes.has(pid));
  if (left.length === 0) return;
  core.log.warn(`hard-stop-after (${formatDuration(core.config.global.hardStopAfter)}) expired: killing ${left.join(", ")}`);
  for (const pid of left) {
    killGroupThenPid(core.kill, pid);
  }
}
