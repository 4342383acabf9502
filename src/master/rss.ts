/**
 * Memory budgets (REFERENCE §5.9): `max-rss` recycles a current worker that stayed above
 * the limit for `max-rss-for`; `old-rss-budget` stops the oldest old (draining) workers
 * while together they exceed it.
 *
 * One timer samples every worker's tree RSS (workers/rss.ts: /proc reads, no spawn) every
 * max(1s, max-rss-for / 10), or every second with only `old-rss-budget`; with both off
 * there is no timer. A recycle starts the replacement (same id and generation, current
 * plan), waits until it is ready, then soft-stops the old worker, which drains like any old
 * one: requests in flight are never cut. One recycle at a time, none during a reload.
 */
import type { GlobalConfig } from "../config/types.ts";
import { formatDuration } from "../config/duration.ts";
import type { Logger } from "../log.ts";
import type { ProcessEntry, ProcessRole } from "./state.ts";

/** supervisor.ts's Timer (named here so that this file does not import the supervisor) */
export interface Timer {
  cancel(): void;
}

export interface MemoryPorts {
  now(): number;
  after(ms: number, fn: () => void): Timer;
  /** bytes resident in the worker's process tree; undefined when it is gone or cannot be read */
  rssOf(pid: number): number | undefined;
  /** the configuration of the current generation */
  global(): GlobalConfig;
  workers(role: ProcessRole): ProcessEntry[];
  /** a load (start or reload) is in progress, or the master is not running */
  busy(): boolean;
  /** starts worker `p.id` of `p.generation` from the current plan, watched for readiness; its PID */
  startReplacement(p: ProcessEntry): number | undefined;
  /** soft stop: role old, stop signal, SIGKILL after hard-stop-after */
  retire(p: ProcessEntry): void;
  /** SIGKILL to the worker's process group (a replacement that failed is marked failed) */
  killNow(p: ProcessEntry, failed: boolean): void;
  log: Logger;
}

/** Sampling period: a tenth of max-rss-for (so the limit is seen within 10 %), at least a second. */
export function samplePeriod(g: GlobalConfig): number | undefined {
  if (g.maxRss > 0) return Math.max(1000, Math.floor(g.maxRssFor / 10));
  return g.oldRssBudget > 0 ? 1000 : undefined;
}

export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value.toFixed(1)}${units[unit]}`;
}

interface Recycle {
  old: ProcessEntry;
  pid: number;
  deadline: Timer;
}

export class MemoryGuard {
  private timer?: Timer;
  /** current worker PID → since when it has been above max-rss */
  private readonly overSince = new Map<number, number>();
  private recycling?: Recycle;
  /** old workers the budget already acted on */
  private readonly budgetHit = new Set<number>();

  constructor(private readonly ports: MemoryPorts) {}

  /** (Re)arms the sampler for the current configuration; nothing runs when both limits are off. */
  start(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const period = samplePeriod(this.ports.global());
    if (period !== undefined) this.timer = this.ports.after(period, () => this.tick());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.recycling?.deadline.cancel();
    this.recycling = undefined;
  }

  /** A worker became ready: a replacement's readiness lets the worker it replaces go. */
  ready(pid: number): void {
    const r = this.recycling;
    if (!r || r.pid !== pid) return;
    r.deadline.cancel();
    this.recycling = undefined;
    if (r.old.role !== "current") return; // gone meanwhile, or retired by a reload
    this.ports.retire(r.old);
    this.ports.log.notice(`Worker ${r.old.id} (${r.old.pid}) replaced by ${pid} (max-rss)`);
  }

  /**
   * A worker exited. Returns true when the guard accounts for it, so `on-failure` must not
   * also act: a replacement that died before it was ready (the old worker keeps serving and
   * is tried again after another max-rss-for), or a worker that died while its replacement
   * was starting (the replacement stands in for it).
   */
  exited(p: ProcessEntry): boolean {
    this.overSince.delete(p.pid);
    this.budgetHit.delete(p.pid);
    const r = this.recycling;
    if (!r) return false;
    if (p.pid === r.pid) {
      r.deadline.cancel();
      this.recycling = undefined;
      if (r.old.role !== "current" || !this.ports.workers("current").includes(r.old)) return false;
      this.ports.log.warn(`Replacement ${p.pid} of worker ${p.id} exited before it was ready: worker ${r.old.pid} keeps serving`);
      this.overSince.set(r.old.pid, this.ports.now());
      return true;
    }
    if (p.pid === r.old.pid && p.role === "current") {
      this.ports.log.notice(`Worker ${p.id} (${p.pid}) exited while its replacement ${r.pid} starts: the replacement stands in for it`);
      return true;
    }
    return false;
  }

  private tick(): void {
    this.timer = undefined;
    const g = this.ports.global();
    const period = samplePeriod(g);
    if (period === undefined) return;
    if (g.maxRss > 0) this.checkLimit(g);
    if (g.oldRssBudget > 0) this.checkBudget(g);
    this.timer = this.ports.after(period, () => this.tick());
  }

  private checkLimit(g: GlobalConfig): void {
    const now = this.ports.now();
    const current = this.ports.workers("current").filter((p) => p.ready && p.pid !== this.recycling?.pid);
    const seen = new Set<number>();
    let due: { p: ProcessEntry; rss: number } | undefined;
    for (const p of current) {
      seen.add(p.pid);
      const rss = this.ports.rssOf(p.pid);
      if (rss === undefined || rss <= g.maxRss) {
        this.overSince.delete(p.pid);
        continue;
      }
      const since = this.overSince.get(p.pid) ?? now;
      this.overSince.set(p.pid, since);
      if (now - since >= g.maxRssFor && !due) due = { p, rss };
    }
    for (const pid of [...this.overSince.keys()]) if (!seen.has(pid)) this.overSince.delete(pid);
    if (due && !this.recycling && !this.ports.busy()) this.recycle(due.p, due.rss, g);
  }

  private recycle(p: ProcessEntry, rss: number, g: GlobalConfig): void {
    this.overSince.delete(p.pid);
    this.ports.log.notice(
      `Worker ${p.id} (${p.pid}) above max-rss (${formatSize(rss)} > ${formatSize(g.maxRss)}) for ${formatDuration(g.maxRssFor) || "0s"}: starting its replacement`,
      { event: "recycle", worker: p.id, workerPid: p.pid, rss, limit: g.maxRss },
    );
    const pid = this.ports.startReplacement(p);
    if (pid === undefined) {
      this.overSince.set(p.pid, this.ports.now());
      return;
    }
    this.track(p, pid, g.readyTimeout);
  }

  /** Waits up to `ms` for replacement `pid` of `old` to be ready. */
  private track(old: ProcessEntry, pid: number, ms: number): void {
    const recycle: Recycle = {
      old,
      pid,
      deadline: this.ports.after(Math.max(0, ms), () => {
        if (this.recycling !== recycle) return;
        this.recycling = undefined;
        const replacement = this.ports.workers("current").find((w) => w.pid === pid);
        this.ports.log.warn(`Replacement ${pid} of worker ${old.id} not ready within ${formatDuration(this.ports.global().readyTimeout)}: killed; worker ${old.pid} keeps serving`);
        if (replacement) this.ports.killNow(replacement, true);
        this.overSince.set(old.pid, this.ports.now());
      }),
    };
    this.recycling = recycle;
  }

  /**
   * In a new image after a re-exec: a recycle the previous image had in flight shows as two
   * current workers with one id; the newer is the replacement, and the recycle goes on.
   */
  resumeRecycle(): void {
    const byId = new Map<number, ProcessEntry[]>();
    for (const p of this.ports.workers("current")) byId.set(p.id, [...(byId.get(p.id) ?? []), p]);
    for (const same of byId.values()) {
      if (same.length < 2) continue;
      same.sort((a, b) => a.startedAt - b.startedAt);
      const old = same[0]!;
      const replacement = same[same.length - 1]!;
      if (replacement.ready) {
        this.ports.retire(old);
        this.ports.log.notice(`Worker ${old.id} (${old.pid}) replaced by ${replacement.pid} (max-rss, before the re-exec)`);
        continue;
      }
      if (this.recycling) continue;
      this.track(old, replacement.pid, this.ports.global().readyTimeout - (this.ports.now() - replacement.startedAt));
    }
  }

  /** Old workers above the budget together: the oldest first, until the rest fit. */
  private checkBudget(g: GlobalConfig): void {
    const old = this.ports.workers("old").sort((a, b) => a.generation - b.generation || a.startedAt - b.startedAt || a.id - b.id);
    const sizes = new Map<number, number>();
    let total = 0;
    for (const p of old) {
      if (this.budgetHit.has(p.pid)) continue;
      const rss = this.ports.rssOf(p.pid) ?? 0;
      sizes.set(p.pid, rss);
      total += rss;
    }
    for (const p of old) {
      if (total <= g.oldRssBudget) break;
      const rss = sizes.get(p.pid);
      if (rss === undefined) continue;
      this.budgetHit.add(p.pid);
      const signalled = p.stopSentAt !== undefined;
      this.ports.log.warn(
        `Old workers use ${formatSize(total)}, above old-rss-budget (${formatSize(g.oldRssBudget)}): ${signalled ? "killing" : "stopping"} the oldest, worker ${p.id} (${p.pid}) of generation ${p.generation}, ${formatSize(rss)}`,
        { event: "budget-kill", worker: p.id, workerPid: p.pid, rss, budget: g.oldRssBudget },
      );
      // one step along stop signal → SIGKILL: the budget does not wait out hard-stop-after
      if (signalled) this.ports.killNow(p, false);
      else this.ports.retire(p);
      total -= rss;
    }
  }
}
