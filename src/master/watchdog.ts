/**
 * The workers' watchdog (`[global] watchdog`, REFERENCE §5.10), systemd's `WatchdogSec=`
 * for each worker: a worker given WATCHDOG_USEC must send `WATCHDOG=1` on NOTIFY_SOCKET
 * at least that often, or it is failed (`Supervisor.failWorker`).
 *
 * When it arms: once the worker is observed ready, for one interval from that moment (its
 * start is covered by `ready-timeout`, so a slow-booting interpreter is not failed for
 * loading); every `WATCHDOG=1` then re-arms it for one interval from its arrival. systemd
 * takes the first timestamp when the process starts and checks it once the service runs,
 * so a worker that pings from its first line behaves the same under both. It disarms when
 * the worker is told to stop (old generation, failed, master stopping) or exits.
 *
 * From the worker, as systemd takes them: `WATCHDOG=trigger` fails it at once (even with no
 * watchdog configured); `WATCHDOG_USEC=N` sets its interval to N µs and re-arms from now
 * (`0` turns its watchdog off).
 */
import { formatDuration, MAX_DURATION_MS } from "../config/duration.ts";
import type { LogFields } from "../log-format.ts";
import type { NotifyFields } from "../notify/receiver.ts";
import type { ProcessEntry } from "./state.ts";

/** A cancellable timer (the supervisor's ports give these). */
export interface Timer {
  cancel(): void;
}

export interface WatchdogPorts {
  now(): number;
  after(ms: number, fn: () => void): Timer;
  /**
   * Reads the datagrams already waiting on NOTIFY_SOCKET. A deadline is checked only after
   * that: a busy master may run a timer before the SIGIO handler that would have read the
   * worker's WATCHDOG=1 (systemd, likewise, runs its watchdog timer after every other event).
   */
  drainNotify?(): void;
}

/** How a watched worker is failed: `event` is the log event's name and fields. */
export type FailWorker = (pid: number, reason: string, event: LogFields) => void;

/** A worker steward still expects to serve: ready, not told to stop. */
export function watched(p: ProcessEntry | undefined): p is ProcessEntry {
  return !!p && p.kind === "worker" && p.ready && p.stopSentAt === undefined && p.role !== "old" && p.role !== "failed";
}

interface Armed {
  timer: Timer;
  /** when the worker is failed unless it pings again (ms) */
  deadline: number;
}

/**
 * A ping only moves the deadline; the one timer per worker, when it fires early, sleeps
 * again until the deadline (a worker pinging twice a second would otherwise replace a
 * runtime timer twice a second).
 */
export class Watchdog {
  /** armed workers by PID */
  private readonly armed = new Map<number, Armed>();

  constructor(
    private readonly ports: WatchdogPorts,
    private readonly lookup: (pid: number) => ProcessEntry | undefined,
    private readonly fail: FailWorker,
  ) {}

  /** The worker was observed ready (or was ready when this image took over). */
  ready(p: ProcessEntry): void {
    this.arm(p);
  }

  /** A message on NOTIFY_SOCKET that speaks for worker `p`. */
  notified(p: ProcessEntry, fields: NotifyFields): void {
    if (fields.WATCHDOG_USEC !== undefined) this.override(p, fields.WATCHDOG_USEC);
    if (fields.WATCHDOG === "trigger") {
      if (watched(p)) this.fail(p.pid, "sent WATCHDOG=trigger", { event: "watchdog-missed", worker: p.id, workerPid: p.pid, trigger: true });
      return;
    }
    const armed = this.armed.get(p.pid);
    if (fields.WATCHDOG === "1" && armed && p.watchdog) armed.deadline = this.ports.now() + p.watchdog;
  }

  /** The worker exited or was told to stop. */
  forget(pid: number): void {
    this.armed.get(pid)?.timer.cancel();
    this.armed.delete(pid);
  }

  /** The master stops: no worker is failed from now on. */
  stopAll(): void {
    for (const a of this.armed.values()) a.timer.cancel();
    this.armed.clear();
  }

  private arm(p: ProcessEntry): void {
    this.forget(p.pid);
    if (!p.watchdog || !watched(p)) return;
    const pid = p.pid;
    const armed: Armed = { deadline: this.ports.now() + p.watchdog, timer: { cancel: () => {} } };
    const sleep = (ms: number) => {
      armed.timer = this.ports.after(ms, () => {
        if (armed.deadline > this.ports.now()) return sleep(armed.deadline - this.ports.now());
        this.ports.drainNotify?.();
        if (this.armed.get(pid) !== armed) return;
        const left = armed.deadline - this.ports.now();
        if (left > 0) return sleep(left);
        this.armed.delete(pid);
        const now = this.lookup(pid);
        if (!watched(now)) return;
        this.fail(pid, `missed its watchdog: no WATCHDOG=1 for ${formatDuration(now.watchdog ?? 0)}`, { event: "watchdog-missed", worker: now.id, workerPid: pid });
      });
    };
    this.armed.set(pid, armed);
    sleep(p.watchdog);
  }

  /** `WATCHDOG_USEC=N` (systemd's override): the worker's interval from now on; 0 = off. */
  private override(p: ProcessEntry, value: string): void {
    const usec = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(usec)) return;
    // a longer timer would overflow and fire at once (config/duration.ts)
    const ms = Math.min(Math.ceil(usec / 1000), MAX_DURATION_MS);
    if (ms > 0) p.watchdog = ms;
    else delete p.watchdog;
    if (p.ready) this.arm(p);
  }
}
