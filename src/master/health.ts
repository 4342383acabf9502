/**
 * Health checks of workers (`[worker] health`, REFERENCE §5.10): a command run per worker,
 * through the same exec helper as workers, with that worker's id, PID and CLI socket in
 * its environment. Exit 0 is healthy; another status, or still running after `timeout`
 * (then its process group is killed), is a failure; `failures` in a row fail the worker
 * (`Supervisor.failWorker`).
 *
 * Invariants:
 * - at most one check of a worker at a time: the next starts `interval` after the last
 *   ended (Docker's HEALTHCHECK schedule), the first `interval` after the worker is ready;
 * - every check process is known here until its exit status is reaped, so a stopping
 *   master (`stopAll` kills them) waits for them, and a timed-out one is never left behind.
 */
import { formatDuration } from "../config/duration.ts";
import type { HealthConfig } from "../config/types.ts";
import { killGroupThenPid } from "../sys/kill.ts";
import type { WaitStatus } from "../sys/posix.ts";
import type { ChildSpec } from "../workers/plan.ts";
import type { ProcessEntry } from "./state.ts";
import { watched, type FailWorker, type Timer } from "./watchdog.ts";

/** One check of one worker, as plans.ts builds it (master/health-plan.ts). */
export interface HealthProbe {
  spec: ChildSpec;
  /** the last line the finished check wrote (its output file is then removed); "" if none */
  output?(): string;
}

/** How the checks of the workers of one configuration are built. */
export interface HealthPlanner {
  settings: HealthConfig;
  probe(worker: ProcessEntry): HealthProbe;
}

export interface HealthPorts {
  now(): number;
  after(ms: number, fn: () => void): Timer;
  spawn(child: ChildSpec): number;
  kill(pid: number, signal: number): boolean;
}

interface Watched {
  planner: HealthPlanner;
  failures: number;
  /** the next check, while none runs */
  next?: Timer;
  /** the running check's PID */
  running?: number;
}

interface Check {
  worker: number;
  probe: HealthProbe;
  deadline: Timer;
  timedOut: boolean;
}

export class HealthChecks {
  /** how each worker is checked, from its spawn (attach) */
  private readonly planners = new Map<number, HealthPlanner>();
  private readonly workers = new Map<number, Watched>();
  private readonly checks = new Map<number, Check>();
  private stopped = false;
  private readonly kill = (target: number, signal: number): boolean => this.ports.kill(target, signal);

  constructor(
    private readonly ports: HealthPorts,
    private readonly warn: (line: string) => void,
    private readonly lookup: (pid: number) => ProcessEntry | undefined,
    private readonly fail: FailWorker,
  ) {}

  /** Worker `pid` was started from a configuration with `[worker] health`. */
  attach(pid: number, planner: HealthPlanner | undefined): void {
    if (planner) this.planners.set(pid, planner);
  }

  /** The worker was observed ready (or was ready when this image took over, with `planner`). */
  ready(p: ProcessEntry, planner = this.planners.get(p.pid)): void {
    if (!planner || this.stopped || this.workers.has(p.pid)) return;
    const w: Watched = { planner, failures: 0 };
    this.workers.set(p.pid, w);
    this.schedule(p.pid, w);
  }

  /** The worker exited or was failed: no more checks (one running is left to finish, its result unused). */
  forget(pid: number): void {
    this.planners.delete(pid);
    const w = this.workers.get(pid);
    w?.next?.cancel();
    this.workers.delete(pid);
  }

  /** The master stops: no new check; running ones are killed (their exits still come to `reaped`). */
  stopAll(): void {
    this.stopped = true;
    for (const w of this.workers.values()) w.next?.cancel();
    this.workers.clear();
    for (const pid of this.checks.keys()) killGroupThenPid(this.kill, pid);
  }

  /** check processes not reaped yet */
  get running(): number {
    return this.checks.size;
  }

  /** true for a check process not reaped yet */
  tracks(pid: number): boolean {
    return this.checks.has(pid);
  }

  /** An exit status: true when it was a check's (then it is handled here). */
  reaped(ws: WaitStatus): boolean {
    const check = this.checks.get(ws.pid);
    if (!check) return false;
    this.checks.delete(ws.pid);
    check.deadline.cancel();
    const output = check.probe.output?.() ?? "";
    const w = this.workers.get(check.worker);
    if (!w || w.running !== ws.pid) return true;
    w.running = undefined;
    const settings = w.planner.settings;
    const failed = check.timedOut
      ? `did not finish within ${formatDuration(settings.timeout)}`
      : ws.exited && ws.code === 0
        ? undefined
        : ws.exited
          ? `exited with code ${ws.code}`
          : `killed by signal ${ws.signal}`;
    this.result(check.worker, w, failed === undefined ? undefined : output ? `${failed}: ${output}` : failed);
    return true;
  }

  private schedule(pid: number, w: Watched): void {
    w.next = this.ports.after(w.planner.settings.interval, () => {
      w.next = undefined;
      this.run(pid, w);
    });
  }

  private run(pid: number, w: Watched): void {
    const p = this.lookup(pid);
    if (this.workers.get(pid) !== w) return;
    if (!watched(p)) {
      // told to stop (old generation, failed): no more checks
      this.forget(pid);
      return;
    }
    let probe: HealthProbe;
    let check: number;
    try {
      probe = w.planner.probe(p);
      check = this.ports.spawn(probe.spec);
    } catch (e) {
      this.result(pid, w, `could not be started: ${(e as Error).message}`);
      return;
    }
    const timeout = w.planner.settings.timeout;
    const entry: Check = {
      worker: pid,
      probe,
      timedOut: false,
      deadline: this.ports.after(timeout, () => {
        entry.timedOut = true;
        killGroupThenPid(this.kill, check);
      }),
    };
    this.checks.set(check, entry);
    w.running = check;
  }

  /** One check's outcome: `failure` is undefined for a healthy worker. */
  private result(pid: number, w: Watched, failure: string | undefined): void {
    if (failure === undefined) {
      w.failures = 0;
    } else {
      w.failures++;
      const p = this.lookup(pid);
      const limit = w.planner.settings.failures;
      if (w.failures >= limit && watched(p)) {
        const reason = `failed its health check ${w.failures} time(s) in a row (last: ${failure})`;
        this.forget(pid);
        this.fail(pid, reason, { event: "health-failed", worker: p.id, workerPid: pid, reason: failure });
        return;
      }
      this.warn(`Worker ${p?.id ?? "?"} (${pid}): health check ${failure} (${w.failures} of ${limit})`);
    }
    if (!this.stopped && this.workers.get(pid) === w) this.schedule(pid, w);
  }
}
