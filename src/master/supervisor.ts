/**
 * The supervisor: starts generations of workers, watches them, applies `on-failure`,
 * and stops everything. Event-driven and free of OS calls: processes, timers, /proc and
 * exit come through `SupervisorPorts`, so unit tests drive it with a fake.
 *
 * Invariants:
 * - at most one load (generation being started) at a time;
 * - every process it started stays in `state.processes` until its exit status is
 *   reaped, so the master never exits while a child it knows of is alive;
 * - once stopping, nothing new is started and the exit code no longer changes.
 *
 * This class is the coordinator: it builds the shared state (`SupervisorCore`,
 * supervisor-core.ts) and its controllers, and each public method hands over to the part
 * that owns it: the load and readiness (load.ts), exits and on-failure (exits.ts), the
 * reload and its promotion (reload.ts), the stop (stop.ts), sd_notify (notified.ts).
 */
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { LogFields } from "../log-format.ts";
import type { WaitStatus } from "../sys/posix.ts";
import type { NotifyFields } from "../notify/receiver.ts";
import { NotifySenders } from "../notify/senders.ts";
import { SIGTERM } from "../sys/constants.ts";
import { killGroupThenPid } from "../sys/kill.ts";
import { workers, type MasterState, type ProcessEntry } from "./state.ts";
import { ProbationController } from "./probation.ts";
import { Watchdog } from "./watchdog.ts";
import { HealthChecks } from "./health.ts";
import { MemoryGuard } from "./rss.ts";
import { hardKill, softStop, spawnProgram, spawnWorker, type SupervisorCore } from "./supervisor-core.ts";
import { runLoad, watchReady } from "./load.ts";
import { childExited, failWorker } from "./exits.ts";
import { abandonEarly, promote, reload, resume, spawnEarly } from "./reload.ts";
import { checkAllGone, maybeFinish, signal, stop } from "./stop.ts";
import { notified } from "./notified.ts";
import type { LoadResult, ProgramPlanner, SupervisorHooks, SupervisorPorts, WorkerPlanner } from "./supervisor-types.ts";

export type { LoadResult, ProgramPlanner, StrayPort, SupervisorHooks, SupervisorPorts, Timer, WorkerPlanner } from "./supervisor-types.ts";
export { describeExit } from "./policy.ts";

export class Supervisor {
  private readonly core: SupervisorCore;
  /** the reload's new generation beside the previous one (master/probation.ts) */
  readonly probation: ProbationController;

  constructor(
    config: Config,
    readonly state: MasterState,
    ports: SupervisorPorts,
    log: Logger,
    plan: WorkerPlanner,
    hooks: SupervisorHooks = {},
    programPlan: ProgramPlanner = () => {
      throw new Error("no program planner");
    },
  ) {
    const kill = (target: number, signal: number): boolean => ports.kill(target, signal);
    // the controllers call back into the core they belong to (only once it is built)
    const core: SupervisorCore = {
      config,
      plan,
      programPlan,
      state,
      ports,
      log,
      hooks,
      kill,
      waitingReady: new Set(),
      pollCost: 0,
      restarts: new Map(),
      exitCode: 0,
      stopSignal: SIGTERM,
      finished: false,
      senders: new NotifySenders((pid) => ports.parentOf(pid)),
      hardReload: false,
      // REFERENCE §5.10: WATCHDOG=1 keep-alives and health checks of ready workers
      watchdog: new Watchdog(
        { now: () => ports.now(), after: (ms, fn) => ports.after(ms, fn), drainNotify: () => ports.drainNotify?.() },
        (pid) => state.processes.get(pid),
        (pid, reason, event) => failWorker(core, pid, reason, event),
      ),
      health: new HealthChecks(
        { now: () => ports.now(), after: (ms, fn) => ports.after(ms, fn), spawn: (c) => ports.spawn(c), kill },
        (line) => log.warn(line),
        (pid) => state.processes.get(pid),
        (pid, reason, event) => failWorker(core, pid, reason, event),
      ),
      probation: new ProbationController({
        now: () => ports.now(),
        after: (ms, fn) => ports.after(ms, fn),
        kill,
        log,
        state,
        config: () => core.config,
        spawnWorker: (id, generation, role, plan) => spawnWorker(core, id, generation, role, plan),
        watchReady: (pid, config) => watchReady(core, pid, config),
        hardKillLater: (pids) => {
          if (core.config.global.hardStopAfter > 0) ports.after(core.config.global.hardStopAfter, () => hardKill(core, pids));
        },
        restartPending: (key) => core.restarts.get(key)?.timer !== undefined,
        startCurrent: (id) => {
          const pid = spawnWorker(core, id, state.reloads, "current", core.plan);
          if (pid !== undefined) watchReady(core, pid, core.config);
        },
        promote: (generation, config, plan, programPlan, hard) => promote(core, generation, config, plan, programPlan, hard),
        started: (generation, until) => hooks.probationStarted?.(generation, until),
      }),
      memory: new MemoryGuard({
        now: () => ports.now(),
        after: (ms, fn) => ports.after(ms, fn),
        rssOf: (pid) => ports.rssOf?.(pid),
        global: () => core.config.global,
        workers: (role) => workers(state, role),
        // a reload is in progress until its probation's verdict
        busy: () => core.load !== undefined || state.phase !== "running" || core.probation.generation !== undefined,
        startReplacement: (p) => {
          const pid = spawnWorker(core, p.id, p.generation, "current", core.plan);
          if (pid !== undefined) watchReady(core, pid, core.config);
          return pid;
        },
        retire: (p) => softStop(core, p, core.config.global.stopSignal, core.config.global.hardStopAfter),
        killNow: (p, failed) => {
          if (failed) p.role = "failed";
          killGroupThenPid(kill, p.pid);
        },
        log,
      }),
    };
    this.core = core;
    this.probation = core.probation;
  }

  /** Starts the first generation; on failure the master stops and exits. */
  start(): void {
    const core = this.core;
    core.state.phase = "starting";
    core.log.beginLoad();
    for (const program of core.config.program) spawnProgram(core, program, core.programPlan);
    runLoad(core, core.state.reloads, core.config, core.plan, (result) => {
      if (result.ok) {
        core.state.phase = "running";
        core.log.notice("Loading success.", { event: "loaded", generation: core.state.reloads });
        core.hooks.loaded?.(core.state.reloads);
        core.memory.start();
        checkAllGone(core);
      } else {
        core.state.lastFailure = result.reason;
        core.log.alert(`Loading failure: ${result.reason}`, { event: "load-failed", reason: result.reason });
        stop(core, result.exitCode, SIGTERM);
      }
    });
  }

  /** An exit status collected by the reaper (exits.ts). */
  childExited(ws: WaitStatus): void {
    childExited(this.core, ws);
  }

  /**
   * A failure of worker `p` reported by whoever detected it (an abnormal exit, the watchdog,
   * a health check): true when the probation counted it and rolled back, so that on-failure
   * must not restart the worker too; false when `p` is not on probation or it was tolerated.
   */
  probationFailure(p: ProcessEntry, reason: string): boolean {
    return this.core.probation.failure(p, reason);
  }

  /**
   * A ready worker judged failed while it runs (missed watchdog, failed health check):
   * stopped, and its exit goes through on-failure as a failure (exits.ts). False when there
   * is nothing to fail.
   */
  failWorker(pid: number, reason: string, event: LogFields = {}): boolean {
    return failWorker(this.core, pid, reason, event);
  }

  /** A child it started and still tracks (worker, program, health check): not a stray. */
  tracks(pid: number): boolean {
    return this.state.processes.has(pid) || this.core.health.tracks(pid);
  }

  /** A message on NOTIFY_SOCKET from `pid` (notified.ts). */
  notified(pid: number, fields: NotifyFields): void {
    notified(this.core, pid, fields);
  }

  /** The signals of REFERENCE §5.7 (reload signals are handled by the reload controller). */
  signal(name: string): void {
    signal(this.core, name);
  }

  /** true while a load (start or reload) is in progress */
  get loading(): boolean {
    return this.core.load !== undefined;
  }

  /** Continues supervision in a new image (reload.ts). */
  resume(): void {
    resume(this.core);
  }

  /** Starts the next generation's workers ungated, before the exec; its generation, or undefined (reload.ts). */
  spawnEarly(config: Config, plan: WorkerPlanner): number | undefined {
    return spawnEarly(this.core, config, plan);
  }

  /** Workers started by spawnEarly that will not be gated: killed. */
  abandonEarly(generation: number): void {
    abandonEarly(this.core, generation);
  }

  /**
   * Starts the next generation from `config` (with `adopt`, gates the workers spawnEarly
   * started instead); on success the previous workers are retired, on failure they stay
   * current and the new ones are killed (reload.ts).
   */
  reload(config: Config, plan: WorkerPlanner, hard: boolean, done: (r: LoadResult) => void, programPlan?: ProgramPlanner, adopt = false): void {
    reload(this.core, config, plan, hard, done, programPlan, adopt);
  }

  /** Stops every child (workers get `workerSignal`, programs SIGTERM) and exits with `code` once all are gone (stop.ts). */
  stop(code: number, workerSignal: number): void {
    stop(this.core, code, workerSignal);
  }

  /** A child it did not start (a preflight) was collected: a stopping master may be done. */
  otherChildGone(): void {
    maybeFinish(this.core);
  }
}
