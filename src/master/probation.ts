/**
 * Probation (REFERENCE §5.8): after a reload's new generation is ready, the previous one
 * keeps running and accepting beside it for `probation`; a new worker that fails meanwhile
 * (exits abnormally, or is reported by the watchdog or health checks) counts, and more
 * than `probation-failures` failures roll the reload back.
 *
 * Invariants:
 * - at most one probation at a time, and none while a load runs (the reload that started
 *   it is still in progress until the verdict: the Reloader stays busy, so no reload and no
 *   re-exec happens during a probation);
 * - during probation the supervisor's configuration and plan are still the previous
 *   generation's: its workers (role `current`) restart from their own plan; the new
 *   generation's (role `probation`) from the new one, which this controller holds;
 * - the verdict (promote, rollback, or the master stopping) calls the reload's `done`
 *   exactly once.
 */
import type { Config } from "../config/types.ts";
import { formatDuration } from "../config/duration.ts";
import { signalName } from "../config/signals.ts";
import type { Logger } from "../log.ts";
import type { LogFields } from "../log-format.ts";
import type { WaitStatus } from "../sys/posix.ts";
import type { ChildSpec } from "../workers/plan.ts";
import type { ProgramConfig } from "../config/types.ts";
import { decideRestart, isNormalExit, RESTART_BACKOFF_MAX, type RestartHistory } from "./policy.ts";
import { workers, type MasterState, type ProcessEntry, type ProcessRole } from "./state.ts";

// The supervisor's own types, restated structurally: supervisor.ts imports this file.
type Timer = { cancel(): void };
type WorkerPlanner = (id: number, generation: number) => ChildSpec;
type ProgramPlanner = (program: ProgramConfig) => ChildSpec;
/** a reload's outcome (supervisor.ts LoadResult) */
type LoadResult = { ok: true } | { ok: false; reason: string; exitCode: number; rolledBack?: boolean };

/** What the controller needs of the supervisor (its private parts, lent through a narrow port). */
export interface ProbationPorts {
  now(): number;
  after(ms: number, fn: () => void): Timer;
  kill(pid: number, signal: number): boolean;
  readonly log: Logger;
  readonly state: MasterState;
  /** the configuration of the previous (still current) generation */
  config(): Config;
  /** starts worker `id` of `generation` with `role`; undefined when it could not start (logged) */
  spawnWorker(id: number, generation: number, role: ProcessRole, plan: WorkerPlanner): number | undefined;
  watchReady(pid: number, config: Config): void;
  /** SIGKILL to those of `pids` still alive once hard-stop-after has passed */
  hardKillLater(pids: number[]): void;
  /** whether a restart of `key` (`worker:ID`, the previous generation's) is pending */
  restartPending(key: string): boolean;
  /** starts worker `id` of the current generation from the current plan */
  startCurrent(id: number): void;
  /** the reload's success: the new generation becomes current, the previous one gets its stop signal */
  promote(generation: number, config: Config, plan: WorkerPlanner, programPlan: ProgramPlanner | undefined, hard: boolean): void;
  /** tells the host (sd_notify STATUS=) */
  started(generation: number, until: number): void;
}

export interface ProbationStart {
  generation: number;
  config: Config;
  plan: WorkerPlanner;
  programPlan?: ProgramPlanner;
  hard: boolean;
  done: (r: LoadResult) => void;
}

interface Running extends ProbationStart {
  until: number;
  failures: number;
  /** workers already counted (a watchdog failure and the exit that follows count once) */
  counted: Set<number>;
  timer: Timer;
}

export class ProbationController {
  private run?: Running;
  /** restarts of the new generation's workers, by id (apart from the supervisor's, of the previous generation) */
  private readonly restarts = new Map<number, { timer?: Timer; history: RestartHistory }>();

  constructor(private readonly ports: ProbationPorts) {}

  /** the generation on probation, if one is */
  get generation(): number | undefined {
    return this.run?.generation;
  }

  /** the configuration of the generation on probation */
  get config(): Config | undefined {
    return this.run?.config;
  }

  /** The new generation is ready: its workers go on probation beside the previous generation. */
  begin(start: ProbationStart): void {
    const { ports } = this;
    const ms = start.config.global.probation;
    const until = ports.now() + ms;
    for (const p of workers(ports.state)) if (p.generation === start.generation && p.role === "current") p.role = "probation";
    const run: Running = { ...start, until, failures: 0, counted: new Set(), timer: ports.after(ms, () => this.promote("probation ended")) };
    this.run = run;
    ports.state.probation = { generation: start.generation, until, failures: 0, allowed: start.config.global.probationFailures };
    ports.log.notice(
      `Generation ${start.generation} is on probation for ${formatDuration(ms)} (until ${new Date(until).toISOString()}); generation ${ports.state.reloads} keeps serving beside it`,
      { event: "probation-started", generation: start.generation, until },
    );
    ports.started(start.generation, until);
  }

  /**
   * A failure of worker `p` (an abnormal exit, a missed watchdog, a failed health check).
   * Returns true when the probation took it and rolled back (on-failure must not restart
   * the worker too); false when `p` is not on probation or the failure is tolerated.
   */
  failure(p: ProcessEntry, reason: string): boolean {
    const run = this.run;
    if (!run || p.kind !== "worker" || p.generation !== run.generation || run.counted.has(p.pid)) return false;
    run.counted.add(p.pid);
    run.failures++;
    this.ports.state.probation!.failures = run.failures;
    const allowed = run.config.global.probationFailures;
    if (run.failures <= allowed) {
      this.ports.log.warn(`Probation of generation ${run.generation}: failure ${run.failures} of ${allowed} tolerated: ${reason}`);
      return false;
    }
    this.rollback(allowed === 0 ? reason : `${reason} (failure ${run.failures}, probation-failures = ${allowed})`);
    return true;
  }

  /** A worker of the generation on probation exited (the master is not stopping); `how`: its exit in words. */
  exited(p: ProcessEntry, ws: WaitStatus, how: string, fields: LogFields): void {
    const run = this.run!;
    const label = `worker ${p.id} (${p.pid})`;
    const counted = run.counted.has(p.pid);
    if (isNormalExit(ws) && !counted) {
      // not a failure: replaced (after the restart back-off) so that the generation is judged at full strength
      this.ports.log.notice(`New ${label} ${how} during probation; starting it again`, fields);
    } else {
      this.ports.log.alert(`New ${label} ${how} during probation`, fields);
      if (!counted && this.failure(p, `${label} ${how} during probation`)) return;
    }
    this.restartLater(p, run.generation);
  }

  /** on-failure = restart's back-off, never giving up: the failure count of the probation bounds the restarts */
  private restartLater(p: ProcessEntry, generation: number): void {
    const now = this.ports.now();
    const r = this.restarts.get(p.id) ?? { history: { failures: [], lastDelay: 0 } };
    const decision = decideRestart(r.history, now, now - p.startedAt);
    r.history = decision.history;
    this.restarts.set(p.id, r);
    r.timer = this.ports.after(decision.action === "restart" ? decision.delay : RESTART_BACKOFF_MAX, () => {
      r.timer = undefined;
      if (this.ports.state.phase !== "stopping") this.respawn(p.id, generation);
    });
  }

  private cancelRestarts(): void {
    for (const r of this.restarts.values()) r.timer?.cancel();
    this.restarts.clear();
  }

  private respawn(id: number, generation: number): void {
    const run = this.run;
    if (run?.generation === generation) {
      const pid = this.ports.spawnWorker(id, generation, "probation", run.plan);
      if (pid !== undefined) this.ports.watchReady(pid, run.config);
    } else if (this.ports.state.reloads === generation) {
      // promoted meanwhile: the worker belongs to the current generation now (rolled back: to nobody)
      this.ports.startCurrent(id);
    }
  }

  /** Ends the probation with the new generation promoted; a one-line reason for a CLI `promote` without one. */
  promote(origin: string): string {
    const run = this.run;
    if (!run) return "No generation is on probation.";
    this.end(run);
    // a restart still pending goes on: it starts the worker as one of the current generation (respawn)
    this.restarts.clear();
    this.ports.log.notice(`Generation ${run.generation} promoted (${origin})`, { event: "probation-ended", generation: run.generation, outcome: "promoted" });
    for (const p of workers(this.ports.state, "probation")) p.role = "current";
    this.ports.promote(run.generation, run.config, run.plan, run.programPlan, run.hard);
    run.done({ ok: true });
    return `Generation ${run.generation} promoted.`;
  }

  /**
   * Rolls back: the new generation gets its stop signal (SIGKILL after hard-stop-after),
   * the previous generation stays current and is brought back to its full worker count
   * from its own plan, and the reload fails with `reason`.
   */
  rollback(reason: string): string {
    const run = this.run;
    if (!run) return "No generation is on probation.";
    const { ports } = this;
    const { state, log } = ports;
    this.end(run);
    this.cancelRestarts();
    // Graceful: requests in flight on the new generation's healthy workers finish (those on
    // a crashed worker are lost anyway); the listeners stay open in the master and the
    // previous generation, so new connections go to the previous generation meanwhile.
    const signal = run.config.global.stopSignal;
    const now = ports.now();
    const stopped: number[] = [];
    for (const p of workers(state)) {
      if (p.generation !== run.generation || p.stopSentAt !== undefined) continue;
      p.role = "old";
      ports.kill(p.pid, signal);
      p.stopSentAt = now;
      stopped.push(p.pid);
    }
    if (stopped.length > 0) ports.hardKillLater(stopped);
    // generation numbers are never reused: the rolled-back workers may still be draining
    state.rolledBack = Math.max(state.rolledBack ?? 0, run.generation);
    log.alert(`Rolled back generation ${run.generation}: ${reason}`, { event: "rollback", generation: run.generation, reason });
    if (stopped.length > 0) log.notice(`Sent ${signalName(signal)} to the ${stopped.length} worker(s) of generation ${run.generation}: ${stopped.join(", ")}`);
    this.restoreCurrent();
    const failure = `rolled back: ${reason}`;
    state.failedReloads++;
    state.lastFailure = failure;
    log.alert(`Reload failed: ${failure}`, { event: "reload-failed", generation: run.generation, reason: failure });
    run.done({ ok: false, reason, exitCode: 1, rolledBack: true });
    return `Generation ${run.generation} rolled back.`;
  }

  /**
   * The previous generation at its full count again: an id with no current worker (stopped
   * by a batched rollout, or exited with no restart pending) is started from its own plan.
   */
  private restoreCurrent(): void {
    const { ports } = this;
    const current = new Set(workers(ports.state, "current").map((p) => p.id));
    const config = ports.config();
    for (let id = 1; id <= config.global.workers; id++) {
      if (current.has(id) || ports.restartPending(`worker:${id}`)) continue;
      ports.log.notice(`Worker ${id} of generation ${ports.state.reloads} is missing: starting it again from its own configuration`);
      ports.startCurrent(id);
    }
  }

  /** The master stops: the reload that started the probation ends without a verdict. */
  masterStopping(): void {
    const run = this.run;
    if (!run) return;
    this.end(run);
    this.cancelRestarts();
    this.ports.log.notice(`Probation of generation ${run.generation} ended: the master is stopping`);
    run.done({ ok: false, reason: "the master is stopping", exitCode: 1 });
  }

  private end(run: Running): void {
    run.timer.cancel();
    this.run = undefined;
    delete this.ports.state.probation;
  }
}
