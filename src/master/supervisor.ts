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
 */
import type { Config, OnFailure, ProgramConfig } from "../config/types.ts";
import { formatDuration } from "../config/duration.ts";
import { signalName } from "../config/signals.ts";
import type { Logger } from "../log.ts";
import type { LogFields } from "../log-format.ts";
import type { WaitStatus } from "../sys/posix.ts";
import type { ChildSpec } from "../workers/plan.ts";
import type { NotifyFields } from "../notify/receiver.ts";
import { NotifySenders } from "../notify/senders.ts";
import { decideRestart, exitStatusOf, isNormalExit, type RestartHistory } from "./policy.ts";
import { nextGeneration, workers, type MasterState, type ProcessEntry } from "./state.ts";
import { ProbationController } from "./probation.ts";
import { SIGKILL, SIGTERM } from "../sys/constants.ts";
import { killGroupThenPid } from "../sys/kill.ts";
import { Watchdog } from "./watchdog.ts";
import { HealthChecks, type HealthPlanner } from "./health.ts";
import { batchSize } from "../config/rollout.ts";
import { BatchRollout } from "./rollout.ts";
import { MemoryGuard, type MemoryPorts } from "./rss.ts";

export interface Timer {
  cancel(): void;
}

export interface SupervisorPorts {
  now(): number;
  after(ms: number, fn: () => void): Timer;
  /** starts a child; throws with a one-line reason when it cannot */
  spawn(child: ChildSpec): number;
  /** kill(2) on a PID (or -PGID); false when it is already gone */
  kill(pid: number, signal: number): boolean;
  /** `accepting` readiness of a worker on the master's listeners */
  isAccepting(pid: number): boolean;
  /** a more precise reason than the generic one when an `accepting` worker is not ready (reuse-port listeners) */
  notReadyReason?(pid: number): string | undefined;
  /** the parent of a process, to attribute notify messages sent by a worker's children */
  parentOf(pid: number): number | undefined;
  /** reads the sd_notify datagrams already waiting (before a watchdog deadline is judged) */
  drainNotify?(): void;
  /** bytes resident in a worker's process tree (workers/rss.ts); without it max-rss and old-rss-budget see nothing */
  rssOf?(pid: number): number | undefined;
  /** releases what the master holds (listeners, sockets, files) and ends the process */
  exit(code: number): void;
  /** the processes below the master that it did not start (descendants.ts); none without */
  strays?: StrayPort;
}

/** Adopted processes (orphans of the master's descendants), looked at only while stopping. */
export interface StrayPort {
  /** Signals the adopted children not signalled yet (after kill(): SIGKILLs everything below the master); returns their PIDs. */
  stop(workerSignal: number): number[];
  /** SIGKILL to every process below the master, now and at each later stop(); returns their PIDs. */
  kill(): number[];
  /** true while the master has any child at all */
  left(): boolean;
}

export interface SupervisorHooks {
  /** a load finished with every worker ready */
  loaded?(generation: number): void;
  /** no old worker is left (listeners the current configuration dropped may now be closed) */
  oldGone?(): void;
  /** the master begins to stop */
  stopping?(): void;
  /** events counted by the metrics (metrics/endpoint.ts) */
  workerStarted?(p: ProcessEntry): void;
  exited?(p: ProcessEntry, ws: WaitStatus): void;
  restarting?(p: ProcessEntry): void;
  /** a reload's new generation went on probation (master/probation.ts) */
  probationStarted?(generation: number, until: number): void;
}

/** How a worker is built: the spawn plan for worker `id` of `generation`; `health`: how it is checked (health.ts). */
export type WorkerPlanner = ((id: number, generation: number) => ChildSpec) & { health?: HealthPlanner };

/** How a `[[program]]` is started. */
export type ProgramPlanner = (program: ProgramConfig) => ChildSpec;

/** `rolledBack`: the generation was ready but failed its probation (master/probation.ts) */
export type LoadResult = { ok: true } | { ok: false; reason: string; exitCode: number; rolledBack?: boolean };

interface Load {
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

interface Restart {
  timer?: Timer;
  history: RestartHistory;
}

/**
 * `accepting` readiness is polled quickly while workers are young (interpreted servers
 * take seconds to boot), then more slowly; and never for more than a quarter of the
 * master's time: the next poll waits at least three times as long as the last one took.
 */
const ACCEPT_POLL_FAST_MS = 5;
const ACCEPT_POLL_FAST_FOR_MS = 5_000;
const ACCEPT_POLL_MS = 25;
const ACCEPT_POLL_DUTY_FACTOR = 3;

export function describeExit(ws: WaitStatus): string {
  return ws.exited ? `exited with code ${ws.code}` : `killed by signal ${ws.signal} (${signalName(ws.signal)})`;
}

export class Supervisor {
  private load?: Load;
  /** a worker started before the exec (spawnEarly) that exited before its load began */
  private earlyExit?: { reason: string; status: number };
  /** workers waiting to be observed ready (load or restart), by PID */
  private readonly waitingReady = new Set<number>();
  private pollTimer?: Timer;
  /** how long the last readiness poll took (ms) */
  private pollCost = 0;
  /** restart state by `worker:ID` or `program:NAME` */
  private readonly restarts = new Map<string, Restart>();
  private hardStopTimer?: Timer;
  private exitCode = 0;
  private stopSignal = SIGTERM;
  private readonly kill = (target: number, signal: number): boolean => this.ports.kill(target, signal);
  private finished = false;
  private readonly senders = new NotifySenders((pid) => this.ports.parentOf(pid));
  /** the batch rollout of the reload in progress, or of a failed one still restoring */
  private rollout?: BatchRollout;
  /** the reload in progress is a hard one (old workers get SIGTERM) */
  private hardReload = false;
  /** max-rss and old-rss-budget (rss.ts) */
  private readonly memory: MemoryGuard;
  /** the reload's new generation beside the previous one (master/probation.ts) */
  readonly probation: ProbationController;
  /** REFERENCE §5.10: WATCHDOG=1 keep-alives and health checks of ready workers */
  private readonly watchdog = new Watchdog(
    { now: () => this.ports.now(), after: (ms, fn) => this.ports.after(ms, fn), drainNotify: () => this.ports.drainNotify?.() },
    (pid) => this.state.processes.get(pid),
    (pid, reason, event) => this.failWorker(pid, reason, event),
  );
  private readonly health = new HealthChecks(
    { now: () => this.ports.now(), after: (ms, fn) => this.ports.after(ms, fn), spawn: (c) => this.ports.spawn(c), kill: this.kill },
    (line) => this.log.warn(line),
    (pid) => this.state.processes.get(pid),
    (pid, reason, event) => this.failWorker(pid, reason, event),
  );

  constructor(
    private config: Config,
    readonly state: MasterState,
    private readonly ports: SupervisorPorts,
    private readonly log: Logger,
    private plan: WorkerPlanner,
    private readonly hooks: SupervisorHooks = {},
    private programPlan: ProgramPlanner = () => {
      throw new Error("no program planner");
    },
  ) {
    this.probation = new ProbationController({
      now: () => this.ports.now(),
      after: (ms, fn) => this.ports.after(ms, fn),
      kill: this.kill,
      log: this.log,
      state: this.state,
      config: () => this.config,
      spawnWorker: (id, generation, role, plan) => this.spawnWorker(id, generation, role, plan),
      watchReady: (pid, config) => this.watchReady(pid, config),
      hardKillLater: (pids) => {
        if (this.config.global.hardStopAfter > 0) this.ports.after(this.config.global.hardStopAfter, () => this.hardKill(pids));
      },
      restartPending: (key) => this.restarts.get(key)?.timer !== undefined,
      startCurrent: (id) => {
        const pid = this.spawnWorker(id, this.state.reloads, "current", this.plan);
        if (pid !== undefined) this.watchReady(pid, this.config);
      },
      promote: (generation, config, plan, programPlan, hard) => this.promote(generation, config, plan, programPlan, hard),
      started: (generation, until) => this.hooks.probationStarted?.(generation, until),
    });
    this.memory = new MemoryGuard(this.memoryPorts());
  }

  private memoryPorts(): MemoryPorts {
    return {
      now: () => this.ports.now(),
      after: (ms, fn) => this.ports.after(ms, fn),
      rssOf: (pid) => this.ports.rssOf?.(pid),
      global: () => this.config.global,
      workers: (role) => workers(this.state, role),
      // a reload is in progress until its probation's verdict
      busy: () => this.load !== undefined || this.state.phase !== "running" || this.probation.generation !== undefined,
      startReplacement: (p) => {
        const pid = this.spawnWorker(p.id, p.generation, "current", this.plan);
        if (pid !== undefined) this.watchReady(pid, this.config);
        return pid;
      },
      retire: (p) => this.softStop(p, this.config.global.stopSignal, this.config.global.hardStopAfter),
      killNow: (p, failed) => {
        if (failed) p.role = "failed";
        killGroupThenPid(this.kill, p.pid);
      },
      log: this.log,
    };
  }

  // ---- start ------------------------------------------------------------------------

  /** Starts the first generation; on failure the master stops and exits. */
  start(): void {
    this.state.phase = "starting";
    this.log.beginLoad();
    for (const program of this.config.program) this.spawnProgram(program, this.programPlan);
    this.runLoad(this.state.reloads, this.config, this.plan, (result) => {
      if (result.ok) {
        this.state.phase = "running";
        this.log.notice("Loading success.", { event: "loaded", generation: this.state.reloads });
        this.hooks.loaded?.(this.state.reloads);
        this.memory.start();
        this.checkAllGone();
      } else {
        this.state.lastFailure = result.reason;
        this.log.alert(`Loading failure: ${result.reason}`, { event: "load-failed", reason: result.reason });
        this.stop(result.exitCode, SIGTERM);
      }
    });
  }

  private runLoad(generation: number, config: Config, plan: WorkerPlanner, done: (r: LoadResult) => void, adopt = false): void {
    const g = config.global;
    const early = adopt ? this.loadingOf(generation) : [];
    // workers started before the exec have been waiting since they started
    const since = Math.min(this.ports.now(), ...early.map((p) => p.startedAt));
    const load: Load = {
      generation,
      config,
      pending: new Set(),
      deadline: this.ports.after(Math.max(0, g.readyTimeout - (this.ports.now() - since)), () => this.loadTimedOut(load)),
      extended: new Map(),
      done,
    };
    this.load = load;
    if (generation > 0) load.batch = this.batchFor(load, plan);
    if (adopt) {
      const exited = this.earlyExit;
      this.earlyExit = undefined;
      for (const p of early) load.pending.add(p.pid);
      if (exited) {
        this.failLoad(exited.reason, exited.status);
        return;
      }
      const expected = load.batch ? load.batch.take().length : g.workers;
      if (early.length !== expected) {
        this.failLoad(`${early.length} of ${expected} workers were started before the exec`, 1);
        return;
      }
      for (const p of early) {
        this.health.attach(p.pid, plan.health);
        if (p.ready) {
          load.pending.delete(p.pid);
          this.monitor(p);
        } else this.watchReady(p.pid, config);
      }
      this.checkLoadDone();
      return;
    }
    const ids = load.batch ? load.batch.take() : Array.from({ length: g.workers }, (_, i) => i + 1);
    this.startLoading(load, ids, plan);
  }

  /** Starts workers `ids` of the load, gated by it; false when one could not be started (the load failed). */
  private startLoading(load: Load, ids: number[], plan: WorkerPlanner): boolean {
    for (const id of ids) {
      const pid = this.spawnWorker(id, load.generation, "loading", plan);
      if (pid === undefined) {
        this.failLoad(`worker ${id} could not be started`, 1);
        return false;
      }
      load.pending.add(pid);
    }
    // Watch only once all are pending, so an immediately ready worker cannot end the load early.
    for (const pid of [...load.pending]) this.watchReady(pid, load.config);
    this.checkLoadDone();
    return true;
  }

  /** A batch rollout for the reload `load`, when its configuration asks for one (rollout.ts). */
  private batchFor(load: Load, plan: WorkerPlanner): BatchRollout | undefined {
    const g = load.config.global;
    const size = batchSize(g.rollout, g.workers);
    if (g.rollout.kind === "all" || size >= g.workers) return undefined;
    this.rollout?.restoreNow();
    this.rollout = new BatchRollout(load.generation, g.workers, size, {
      start: (ids) => {
        if (this.load !== load) return false;
        load.deadline.cancel();
        load.deadline = this.ports.after(g.readyTimeout, () => this.loadTimedOut(load));
        return this.startLoading(load, ids, plan);
      },
      serving: () => workers(this.state, "current"),
      // the new configuration's stop-signal and hard-stop-after, as retireOldGeneration uses
      retire: (p) => this.softStop(p, this.hardReload ? SIGTERM : g.stopSignal, g.hardStopAfter),
      pauseDeadline: () => load.deadline.cancel(),
      alive: (pid) => this.state.processes.has(pid),
      restore: (id, generation) => {
        if (this.state.phase === "stopping") return;
        const pid = this.spawnWorker(id, generation, "current", this.plan);
        if (pid !== undefined) this.watchReady(pid, this.config);
      },
      log: this.log,
    });
    return this.rollout;
  }

  /** An old worker is told to stop: role old, its stop signal now, SIGKILL after hard-stop-after. */
  private softStop(p: ProcessEntry, signal: number, hardStopAfter: number): void {
    p.role = "old";
    p.stopSentAt = this.ports.now();
    this.ports.kill(p.pid, signal);
    this.log.notice(`Old worker ${p.id} (${p.pid}) of generation ${p.generation} sent ${signalName(signal)}`);
    if (hardStopAfter > 0) this.ports.after(hardStopAfter, () => this.hardKill([p.pid]));
  }

  private spawnWorker(id: number, generation: number, role: ProcessEntry["role"], plan: WorkerPlanner): number | undefined {
    let pid: number;
    let child: ChildSpec;
    try {
      child = plan(id, generation);
      pid = this.ports.spawn(child);
    } catch (e) {
      this.log.alert(`Cannot start worker ${id}: ${(e as Error).message}`);
      return undefined;
    }
    this.state.processes.set(pid, {
      pid,
      kind: "worker",
      name: "worker",
      id,
      generation,
      startedAt: this.ports.now(),
      version: this.state.version,
      ...(child.runtime !== undefined ? { runtime: child.runtime } : {}),
      role,
      ready: false,
      ...(child.watchdog ? { watchdog: child.watchdog } : {}),
    });
    this.health.attach(pid, plan.health);
    this.log.notice(`Worker ${id} (${pid}) started (generation ${generation})`, { event: "worker-started", worker: id, workerPid: pid, generation });
    this.hooks.workerStarted?.(this.state.processes.get(pid)!);
    return pid;
  }

  private spawnProgram(program: ProgramConfig, plan: ProgramPlanner): number | undefined {
    let pid: number;
    try {
      pid = this.ports.spawn(plan(program));
    } catch (e) {
      this.log.alert(`Cannot start program '${program.name}': ${(e as Error).message}`);
      return undefined;
    }
    this.state.processes.set(pid, {
      pid,
      kind: "program",
      name: program.name,
      id: 0,
      generation: this.state.reloads,
      startedAt: this.ports.now(),
      version: this.state.version,
      role: "current",
      ready: true,
    });
    this.log.notice(`Program '${program.name}' (${pid}) started`);
    return pid;
  }

  // ---- readiness --------------------------------------------------------------------

  private watchReady(pid: number, config: Config): void {
    const ready = config.global.ready;
    const noListeners = config.listen.length === 0;
    if (ready.kind === "spawn" || (ready.kind === "accepting" && noListeners)) {
      this.becomeReady(pid);
      return;
    }
    this.waitingReady.add(pid);
    if (ready.kind === "delay") this.ports.after(ready.ms, () => this.markReady(pid));
    if (ready.kind === "accepting") this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.pollTimer) return;
    const now = this.ports.now();
    const young = [...this.waitingReady].some((pid) => now - (this.state.processes.get(pid)?.startedAt ?? 0) < ACCEPT_POLL_FAST_FOR_MS);
    const delay = Math.max(young ? ACCEPT_POLL_FAST_MS : ACCEPT_POLL_MS, this.pollCost * ACCEPT_POLL_DUTY_FACTOR);
    this.pollTimer = this.ports.after(delay, () => {
      this.pollTimer = undefined;
      const began = this.ports.now();
      for (const pid of [...this.waitingReady]) {
        if (this.ports.isAccepting(pid)) this.markReady(pid);
      }
      this.pollCost = this.ports.now() - began;
      if (this.waitingReady.size > 0 && this.state.phase !== "stopping") this.schedulePoll();
    });
  }

  private markReady(pid: number): void {
    if (this.waitingReady.delete(pid)) this.becomeReady(pid);
  }

  private becomeReady(pid: number): void {
    const p = this.state.processes.get(pid);
    if (!p || p.ready) return;
    p.ready = true;
    this.log.notice(`Worker ${p.id} (${pid}) is ready`, { event: "worker-ready", worker: p.id, workerPid: pid, generation: p.generation });
    this.monitor(p);
    this.memory.ready(pid);
    if (this.load?.pending.delete(pid)) this.checkLoadDone();
  }

  private checkLoadDone(): void {
    const load = this.load;
    if (!load || load.pending.size > 0) return;
    if (load.batch?.batchReady()) return;
    load.deadline.cancel();
    this.load = undefined;
    for (const p of this.state.processes.values()) {
      if (p.role === "loading" && p.generation === load.generation) p.role = "current";
    }
    load.done({ ok: true });
  }

  private loadTimedOut(load: Load): void {
    if (this.load !== load) return;
    const now = this.ports.now();
    const late = [...load.pending].filter((pid) => (load.extended.get(pid) ?? 0) <= now);
    if (late.length === 0) {
      // every worker still pending asked for more time: look again when the first runs out
      const next = Math.min(...[...load.pending].map((pid) => load.extended.get(pid)!));
      load.deadline = this.ports.after(next - now, () => this.loadTimedOut(load));
      return;
    }
    const pid = late[0]!;
    const p = this.state.processes.get(pid);
    const why =
      load.config.global.ready.kind === "notify"
        ? "it sent no READY=1 on NOTIFY_SOCKET"
        : (this.ports.notReadyReason?.(pid) ?? "not accepting on any of its listeners");
    this.failLoad(`worker ${p?.id ?? "?"} (${pid}) not ready within ${formatDuration(load.config.global.readyTimeout)}: ${why}`, 1);
  }

  private failLoad(reason: string, exitCode: number): void {
    const load = this.load;
    if (!load) return;
    load.deadline.cancel();
    this.load = undefined;
    const killed: number[] = [];
    // workers of a batch rollout that were ready have served: they drain as old ones do
    const drained: number[] = [];
    const g = load.config.global;
    for (const p of this.state.processes.values()) {
      if (p.role === "loading" && p.generation === load.generation) {
        p.role = "failed";
        this.waitingReady.delete(p.pid);
        if (load.batch && p.ready) {
          this.ports.kill(p.pid, g.stopSignal);
          drained.push(p.pid);
        } else {
          killGroupThenPid(this.kill, p.pid);
          killed.push(p.pid);
        }
        // the stop that may follow (a failed start) must neither signal it again nor say it did
        p.stopSentAt = this.ports.now();
      }
    }
    load.done({ ok: false, reason, exitCode });
    load.batch?.failed([...killed, ...drained]);
    if (drained.length > 0) {
      this.log.notice(`Sent ${signalName(g.stopSignal)} to the ${drained.length} ready worker(s) of failed generation ${load.generation}: ${drained.join(", ")}`);
      if (g.hardStopAfter > 0) this.ports.after(g.hardStopAfter, () => this.hardKill(drained));
    }
    if (killed.length > 0) this.log.notice(`Sent SIGKILL to the ${killed.length} worker(s) of failed generation ${load.generation}: ${killed.join(", ")}`);
  }

  // ---- events -----------------------------------------------------------------------

  /** An exit status collected by the reaper. */
  childExited(ws: WaitStatus): void {
    if (this.health.reaped(ws)) {
      this.maybeFinish();
      return;
    }
    const p = this.state.processes.get(ws.pid);
    if (!p) {
      this.log.debug(`Reaped orphaned process ${ws.pid} (${describeExit(ws)})`);
      this.maybeFinish();
      return;
    }
    this.senders.forget(ws.pid);
    this.state.processes.delete(ws.pid);
    this.waitingReady.delete(ws.pid);
    this.watchdog.forget(ws.pid);
    this.health.forget(ws.pid);
    this.hooks.exited?.(p, ws);
    if (p.kind === "program") {
      this.programExited(p, ws);
      this.maybeFinish();
      return;
    }
    const label = `worker ${p.id} (${p.pid})`;
    const exited = { event: "worker-exited", worker: p.id, workerPid: p.pid, generation: p.generation, role: p.role, exit: describeExit(ws) };
    if (this.state.phase === "stopping") {
      const role = p.role === "old" ? "Old" : p.role === "current" ? "Current" : "New";
      this.log.notice(`${role} ${label} ${describeExit(ws)}`, exited);
    } else if (p.role === "loading") {
      // a ready worker is still loading while later batches of its rollout start
      const when = p.ready ? "before its generation's rollout was over" : "before it was ready";
      this.log.alert(`New ${label} ${describeExit(ws)} ${when}`, exited);
      const status = exitStatusOf(ws);
      const reason = `${label} ${describeExit(ws)} ${when}`;
      if (this.load) this.failLoad(reason, status === 0 ? 1 : status);
      else this.earlyExit ??= { reason, status: status === 0 ? 1 : status };
    } else if (p.role === "failed") {
      this.log.debug(`Failed ${label} ${describeExit(ws)}`, exited);
    } else if (p.role === "old") {
      this.log.notice(`Old ${label} ${describeExit(ws)}`, exited);
      if (workers(this.state, "old").length === 0) this.hooks.oldGone?.();
    } else if (p.role === "probation") {
      this.probation.exited(p, ws, describeExit(ws), exited);
    } else if (this.memory.exited(p)) {
      this.log.notice(`Current ${label} ${describeExit(ws)}`, exited);
    } else {
      this.currentWorkerDied(p, ws);
    }
    if (p.role !== "current") this.memory.exited(p);
    this.rollout?.exited(p.pid);
    this.checkAllGone(ws);
    this.maybeFinish();
  }

  private currentWorkerDied(p: ProcessEntry, ws: WaitStatus): void {
    const failed = p.failure === undefined ? "" : ` after it ${p.failure}`;
    this.applyPolicy(`worker:${p.id}`, `Current worker ${p.id} (${p.pid}) ${describeExit(ws)}${failed}`, p, ws, this.config.global.onFailure, () => {
      const pid = this.spawnWorker(p.id, p.generation, "current", this.plan);
      if (pid !== undefined) this.watchReady(pid, this.config);
      this.checkAllGone();
    });
  }

  private programExited(p: ProcessEntry, ws: WaitStatus): void {
    const label = `Program '${p.name}' (${p.pid}) ${describeExit(ws)}`;
    if (this.state.phase === "stopping" || p.role === "old") {
      this.log.notice(label);
      return;
    }
    const program = this.config.program.find((c) => c.name === p.name);
    if (!program) {
      this.log.notice(label);
      return;
    }
    this.applyPolicy(`program:${p.name}`, label, p, ws, program.onFailure, () => this.spawnProgram(program, this.programPlan));
  }

  /**
   * A failure of worker `p` reported by whoever detected it (an abnormal exit, the watchdog,
   * a health check): true when the probation counted it and rolled back, so that on-failure
   * must not restart the worker too; false when `p` is not on probation or it was tolerated.
   */
  probationFailure(p: ProcessEntry, reason: string): boolean {
    return this.probation.failure(p, reason);
  }

  /** REFERENCE §5.6 for one process: log, restart with back-off, or stop the master. */
  private applyPolicy(key: string, label: string, p: ProcessEntry, ws: WaitStatus, policy: OnFailure, respawn: () => void): void {
    if (policy === "ignore") {
      this.log.warn(`${label} (on-failure = ignore)`);
      return;
    }
    if (policy === "restart") {
      const r = this.restarts.get(key) ?? { history: { failures: [], lastDelay: 0 } };
      const decision = decideRestart(r.history, this.ports.now(), this.ports.now() - p.startedAt);
      r.history = decision.history;
      this.restarts.set(key, r);
      if (decision.action === "restart") {
        this.log.warn(`${label}; restarting it in ${formatDuration(decision.delay)} (on-failure = restart)`);
        r.timer = this.ports.after(decision.delay, () => {
          r.timer = undefined;
          if (this.state.phase === "stopping") return;
          this.hooks.restarting?.(p);
          respawn();
        });
        return;
      }
      this.log.alert(`${label}; it failed ${decision.failures} times within 60s: giving up (on-failure = restart)`);
    }
    // a worker steward failed (failWorker) failed, whatever status its stop signal left
    if (isNormalExit(ws) && p.failure === undefined) {
      this.log.notice(label);
      return;
    }
    const status = isNormalExit(ws) ? 1 : exitStatusOf(ws);
    this.log.alert(`${label}: exiting (on-failure = exit) with code ${status}`);
    this.stop(status, SIGTERM);
  }

  /** When no worker is left and none is coming, the service is over (HAProxy's master does the same). */
  private checkAllGone(last?: WaitStatus): void {
    if (this.state.phase !== "running" || this.load) return;
    if (workers(this.state).length > 0) return;
    if ([...this.restarts].some(([key, r]) => key.startsWith("worker:") && r.timer)) return;
    const code = last && !isNormalExit(last) ? exitStatusOf(last) : 0;
    this.log.notice(`All workers exited.`);
    this.stop(code, SIGTERM);
  }

  /**
   * A message on NOTIFY_SOCKET from `pid`: a worker or program, one of its descendants, or
   * a PID one of them named with MAINPID= (systemd's NotifyAccess=all). Others are ignored.
   */
  notified(pid: number, fields: NotifyFields): void {
    const owner = this.senders.resolve(pid, (q) => this.state.processes.has(q));
    const p = owner === undefined ? undefined : this.state.processes.get(owner);
    if (!p) {
      if (this.senders.firstFromStranger(pid)) this.log.debug(`sd_notify message from process ${pid} ignored: not a worker, a program or one of their descendants`);
      return;
    }
    if (fields.MAINPID !== undefined && !this.senders.name(fields.MAINPID, p.pid)) {
      this.log.debug(`sd_notify MAINPID=${fields.MAINPID} from process ${pid} ignored: not a PID`);
    }
    if (fields.STATUS !== undefined) p.status = fields.STATUS;
    if (p.kind === "worker") this.watchdog.notified(p, fields);
    if (fields.EXTEND_TIMEOUT_USEC !== undefined) this.extendReadyTimeout(p, fields.EXTEND_TIMEOUT_USEC);
    const config = this.load && p.role === "loading" ? this.load.config : p.role === "probation" ? (this.probation.config ?? this.config) : this.config;
    const readyKind = config.global.ready.kind;
    if (fields.READY === "1" && readyKind === "notify") this.markReady(p.pid);
  }

  /** EXTEND_TIMEOUT_USEC=N: a loading worker gets until now + N before the load fails on it. */
  private extendReadyTimeout(p: ProcessEntry, value: string): void {
    const load = this.load;
    if (!load || !load.pending.has(p.pid)) return;
    const usec = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(usec)) {
      this.log.debug(`sd_notify EXTEND_TIMEOUT_USEC=${value} from worker ${p.id} (${p.pid}) ignored: not a number of microseconds`);
      return;
    }
    const until = this.ports.now() + Math.ceil(usec / 1000);
    if (until <= (load.extended.get(p.pid) ?? 0)) return;
    load.extended.set(p.pid, until);
    this.log.notice(`Worker ${p.id} (${p.pid}) extended its ready-timeout by ${formatDuration(Math.ceil(usec / 1000))}`);
  }

  /** The signals of REFERENCE §5.7 (reload signals are handled by the reload controller). */
  signal(name: string): void {
    switch (name) {
      case "SIGTERM":
        this.log.notice("SIGTERM received: stopping");
        this.stop(0, this.config.global.stopSignal);
        break;
      case "SIGINT":
        this.log.notice("SIGINT received: stopping");
        this.stop(130, this.config.global.stopSignal);
        break;
      case "SIGUSR1":
        this.log.notice("SIGUSR1 received: stopping gracefully");
        this.stop(0, this.config.global.stopSignal);
        break;
      case "SIGTTIN":
      case "SIGTTOU":
        for (const w of workers(this.state)) this.ports.kill(w.pid, name === "SIGTTIN" ? 21 : 22);
        break;
      default:
        break; // SIGQUIT and others: ignored
    }
  }

  // ---- watchdog and health checks (REFERENCE §5.10) ------------------------------------

  /** A child it started and still tracks (worker, program, health check): not a stray. */
  tracks(pid: number): boolean {
    return this.state.processes.has(pid) || this.health.tracks(pid);
  }

  /** A worker is ready: its watchdog arms and its health checks begin (as its planner says). */
  private monitor(p: ProcessEntry): void {
    this.watchdog.ready(p);
    this.health.ready(p);
  }

  /**
   * A ready worker judged failed while it runs (missed watchdog, failed health check):
   * logged as `event`, sent its stop signal, SIGKILL after hard-stop-after; its exit then
   * goes through on-failure (§5.6) as a failure, whatever its status. False when there is
   * nothing to fail (gone, already told to stop, an old generation's, the master stopping).
   */
  failWorker(pid: number, reason: string, event: LogFields = {}): boolean {
    const p = this.state.processes.get(pid);
    if (!p || p.kind !== "worker" || p.stopSentAt !== undefined || p.role === "old" || p.role === "failed") return false;
    if (this.state.phase === "stopping") return false;
    this.watchdog.forget(pid);
    this.health.forget(pid);
    const global = (this.load && p.role === "loading" ? this.load.config : p.role === "probation" ? (this.probation.config ?? this.config) : this.config).global;
    const fields = { worker: p.id, workerPid: pid, ...event };
    if (p.role === "probation") {
      // the probation counts it and may roll the reload back (the rollback then stops it);
      // tolerated, it is stopped here and its exit starts it again (probation.ts)
      this.log.alert(`Worker ${p.id} (${pid}) ${reason} during probation`, fields);
      if (this.probationFailure(p, `worker ${p.id} (${pid}) ${reason}`)) return true;
      this.log.notice(`Worker ${p.id} (${pid}) sent ${signalName(global.stopSignal)}`);
    } else {
      this.log.alert(`Worker ${p.id} (${pid}) ${reason}: sending ${signalName(global.stopSignal)}`, fields);
    }
    p.failure = reason;
    p.stopSentAt = this.ports.now();
    this.ports.kill(pid, global.stopSignal);
    if (global.hardStopAfter > 0) this.ports.after(global.hardStopAfter, () => this.hardKill([pid]));
    return true;
  }

  // ---- reload -----------------------------------------------------------------------

  /** true while a load (start or reload) is in progress */
  get loading(): boolean {
    return this.load !== undefined;
  }

  /**
   * Continues supervision in a new image: the restored processes keep their roles; old
   * workers already told to stop keep their hard-stop deadline.
   */
  resume(): void {
    this.state.phase = "running";
    this.memory.start();
    const hard = this.config.global.hardStopAfter;
    for (const p of this.state.processes.values()) {
      if (p.role === "failed") {
        this.ports.kill(p.pid, SIGKILL);
      } else if ((p.role === "old" || p.failure !== undefined) && p.stopSentAt !== undefined && hard > 0) {
        // old workers, and current ones failWorker stopped
        this.ports.after(Math.max(0, p.stopSentAt + hard - this.ports.now()), () => this.hardKill([p.pid]));
      } else if (p.role === "current" && p.kind === "worker" && p.ready) {
        // this image's watchdog and health checks start afresh (timers do not cross the exec)
        this.health.attach(p.pid, this.plan.health);
        this.monitor(p);
      } else if (p.role === "current" && p.kind === "worker" && !p.ready) {
        this.watchReady(p.pid, this.config); // restarted or replaced just before the exec
      }
    }
    this.memory.resumeRecycle();
  }

  /** The workers of `generation` still loading (started, not yet gated). */
  private loadingOf(generation: number) {
    return workers(this.state, "loading").filter((p) => p.generation === generation);
  }

  /**
   * Starts the workers of the next generation (nextGeneration) without gating them: the image that calls
   * this execs at once, and the next one gates them (`reload` with `adopt`). Returns the
   * generation, or undefined (and nothing left running) when a worker could not be started.
   */
  spawnEarly(config: Config, plan: WorkerPlanner): number | undefined {
    if (this.state.phase !== "running" || this.load) return undefined;
    const generation = nextGeneration(this.state);
    // a batch rollout starts only its first batch early, so the +N bound holds across the exec
    for (let id = 1; id <= batchSize(config.global.rollout, config.global.workers); id++) {
      if (this.spawnWorker(id, generation, "loading", plan) === undefined) {
        this.abandonEarly(generation);
        return undefined;
      }
    }
    return generation;
  }

  /** Workers started by spawnEarly that will not be gated: killed, as a failed load's are. */
  abandonEarly(generation: number): void {
    this.earlyExit = undefined;
    for (const p of this.loadingOf(generation)) {
      p.role = "failed";
      killGroupThenPid(this.kill, p.pid);
    }
  }

  /**
   * Starts the next generation from `config` (with `adopt`, gates the workers spawnEarly
   * started instead). On success the previous workers become old and get their stop
   * signal (SIGTERM when `hard`); on failure they stay current and untouched, and the new
   * workers are killed.
   */
  reload(config: Config, plan: WorkerPlanner, hard: boolean, done: (r: LoadResult) => void, programPlan?: ProgramPlanner, adopt = false): void {
    if (this.state.phase !== "running" || this.load) {
      done({ ok: false, reason: "Another reload is still in progress.", exitCode: 1 });
      return;
    }
    this.state.phase = "reloading";
    this.hardReload = hard;
    const generation = nextGeneration(this.state);
    this.runLoad(generation, config, plan, (result) => {
      if (this.state.phase === "stopping") {
        done({ ok: false, reason: "the master is stopping", exitCode: 1 });
        return;
      }
      this.state.phase = "running";
      if (!result.ok) {
        this.state.failedReloads++;
        this.state.lastFailure = result.reason;
        this.log.alert(`Reload failed: ${result.reason}`, { event: "reload-failed", generation, reason: result.reason });
        done(result);
        this.checkAllGone();
        return;
      }
      // with probation the verdict comes later; the reload is in progress until then
      if (config.global.probation > 0) {
        this.probation.begin({ generation, config, plan, ...(programPlan ? { programPlan } : {}), hard, done });
        return;
      }
      this.promote(generation, config, plan, programPlan, hard);
      done(result);
    }, adopt);
  }

  /** The reload succeeded: `generation` becomes current, the others get their stop signal. */
  private promote(generation: number, config: Config, plan: WorkerPlanner, programPlan: ProgramPlanner | undefined, hard: boolean): void {
    this.state.reloads = generation;
    this.state.failedReloads = 0;
    delete this.state.lastFailure;
    this.config = config;
    this.plan = plan;
    if (programPlan) this.programPlan = programPlan;
    this.retireOldGeneration(generation, hard);
    this.reloadPrograms();
    this.memory.start();
    this.log.notice("Loading success.", { event: "loaded", generation });
    this.hooks.loaded?.(generation);
  }

  /** Everything but `generation` is told to stop; survivors of too many reloads get SIGTERM. */
  private retireOldGeneration(generation: number, hard: boolean): void {
    const g = this.config.global;
    const now = this.ports.now();
    const signalled: number[] = [];
    for (const [key, r] of this.restarts) {
      if (!key.startsWith("worker:")) continue;
      r.timer?.cancel();
      this.restarts.delete(key);
    }
    for (const p of this.state.processes.values()) {
      if (p.kind !== "worker" || p.generation === generation) continue;
      if (p.role === "current") {
        p.role = "old";
        const sig = hard ? SIGTERM : g.stopSignal;
        this.ports.kill(p.pid, sig);
        p.stopSentAt = now;
        signalled.push(p.pid);
        this.log.notice(`Old worker ${p.id} (${p.pid}) of generation ${p.generation} sent ${signalName(sig)}`);
      } else if (p.role === "old" && p.termSentAt === undefined && generation - p.generation > g.maxReloads) {
        this.ports.kill(p.pid, SIGTERM);
        p.termSentAt = now;
        this.log.warn(`Old worker ${p.id} (${p.pid}) survived ${generation - p.generation} reloads (max-reloads = ${g.maxReloads}): sent SIGTERM`);
      }
    }
    if (signalled.length > 0 && g.hardStopAfter > 0) this.ports.after(g.hardStopAfter, () => this.hardKill(signalled));
    if (workers(this.state, "old").length === 0) this.hooks.oldGone?.();
  }

  /**
   * Programs after a successful reload: `start-on-reload = true` ones are stopped (SIGTERM)
   * and started again from the new configuration; `false` ones keep running untouched;
   * removed ones are stopped; new ones are started.
   */
  private reloadPrograms(): void {
    const running = [...this.state.processes.values()].filter((p) => p.kind === "program" && p.role === "current");
    const now = this.ports.now();
    const stop = (p: ProcessEntry, why: string) => {
      p.role = "old";
      p.stopSentAt = now;
      this.ports.kill(p.pid, SIGTERM);
      this.log.notice(`Program '${p.name}' (${p.pid}) sent SIGTERM (${why})`);
    };
    for (const p of running) if (!this.config.program.some((c) => c.name === p.name)) stop(p, "no longer configured");
    for (const program of this.config.program) {
      const current = running.filter((p) => p.name === program.name);
      if (current.length > 0 && !program.startOnReload) continue;
      for (const p of current) stop(p, "start-on-reload");
      const r = this.restarts.get(`program:${program.name}`);
      r?.timer?.cancel();
      this.restarts.delete(`program:${program.name}`);
      this.spawnProgram(program, this.programPlan);
    }
  }

  private hardKill(pids: number[]): void {
    const left = pids.filter((pid) => this.state.processes.has(pid));
    if (left.length === 0) return;
    this.log.warn(`hard-stop-after (${formatDuration(this.config.global.hardStopAfter)}) expired: killing ${left.join(", ")}`);
    for (const pid of left) {
      killGroupThenPid(this.kill, pid);
    }
  }

  // ---- stop -------------------------------------------------------------------------

  /** Stops every child (workers get `workerSignal`, programs SIGTERM) and exits with `code` once all are gone. */
  stop(code: number, workerSignal: number): void {
    if (this.state.phase === "stopping") return;
    this.state.phase = "stopping";
    this.exitCode = code;
    this.stopSignal = workerSignal;
    this.hooks.stopping?.();
    this.memory.stop();
    this.probation.masterStopping();
    if (this.load) {
      this.load.deadline.cancel();
      this.load = undefined;
    }
    this.pollTimer?.cancel();
    this.pollTimer = undefined;
    this.watchdog.stopAll();
    this.health.stopAll();
    for (const r of this.restarts.values()) r.timer?.cancel();
    const now = this.ports.now();
    let count = 0;
    for (const p of this.state.processes.values()) {
      if (p.stopSentAt !== undefined) continue;
      const sig = p.kind === "worker" ? workerSignal : SIGTERM;
      this.ports.kill(p.pid, sig);
      p.stopSentAt = now;
      count++;
    }
    if (count > 0) this.log.notice(`Stopping: sending ${signalName(workerSignal)} to ${count} process(es)`);
    this.stopStrays();
    const hard = this.config.global.hardStopAfter;
    if (hard > 0 && (this.state.processes.size > 0 || this.ports.strays?.left())) {
      this.hardStopTimer = this.ports.after(hard, () => this.hardStop());
    }
    this.maybeFinish();
  }

  /** Adopted processes get a stop signal too (a worker's the worker's own), as they turn up. */
  private stopStrays(): void {
    const pids = this.ports.strays?.stop(this.stopSignal) ?? [];
    if (pids.length > 0) this.log.notice(`Stopping ${pids.length} adopted process(es): ${pids.slice(0, 10).join(", ")}${pids.length > 10 ? ", ..." : ""}`);
  }

  /** A child it did not start (a preflight) was collected: a stopping master may be done. */
  otherChildGone(): void {
    this.maybeFinish();
  }

  private hardStop(): void {
    this.hardKill([...this.state.processes.keys()]);
    const pids = this.ports.strays?.kill() ?? [];
    if (pids.length > 0) this.log.warn(`hard-stop-after expired: killed ${pids.length} process(es) below the master`);
  }

  private maybeFinish(): void {
    if (this.state.phase !== "stopping" || this.finished || this.state.processes.size > 0 || this.health.running > 0) return;
    // the master leaves nothing behind: it waits for the last process it adopted
    if (this.ports.strays?.left()) {
      this.stopStrays();
      return;
    }
    this.finished = true;
    this.hardStopTimer?.cancel();
    this.log.notice(`Exiting master with code ${this.exitCode}.`);
    this.ports.exit(this.exitCode);
  }
}
