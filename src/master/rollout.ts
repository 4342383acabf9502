/**
 * `rollout = "batch:N"` (REFERENCE §5.3.1): a reload that replaces the workers N at a time.
 * Each step starts the next N new workers, waits until they are ready (the load's gate and
 * its ready-timeout, counted per batch), soft-stops N old workers (the same ids first),
 * and waits until those have exited before the next batch starts. After the last batch
 * the load succeeds and the remaining old workers are retired as in an all-at-once reload.
 *
 * Invariant: the workers this reload knows of (old ones serving, old ones it stopped and
 * that are still draining, new ones) never exceed max(old, new) + N. Old workers already
 * draining from an earlier reload are not counted, nor waited for.
 *
 * A failure at any step (a new worker exits, a batch not ready within ready-timeout) is
 * the load's failure: the supervisor stops every new worker (SIGKILL, but the stop signal
 * for those that were ready and served: their requests in flight finish); once they are
 * gone, the old workers this rollout stopped are started again (same id and generation)
 * from the plan the supervisor still holds, which only changes when a reload succeeds.
 */
import type { Logger } from "../log.ts";
import type { ProcessEntry } from "./state.ts";

export interface BatchPorts {
  /** starts new workers `ids`, gated by the load (its deadline restarts); false when one could not be started (the load has failed) */
  start(ids: number[]): boolean;
  /** the old generation's workers still serving (role current) */
  serving(): ProcessEntry[];
  /** soft stop: the stop signal (SIGTERM for a hard reload), SIGKILL after hard-stop-after */
  retire(p: ProcessEntry): void;
  /** no load deadline while old workers drain (their own bound is hard-stop-after) */
  pauseDeadline(): void;
  /** whether the master still has this process */
  alive(pid: number): boolean;
  /** starts old worker `id` of `generation` again, from the supervisor's current plan */
  restore(id: number, generation: number): void;
  log: Logger;
}

export class BatchRollout {
  /** the next new worker id to start */
  private nextId = 1;
  /** how many new workers the batch in flight started */
  private inFlight = 0;
  private step = 0;
  /** old workers this rollout stopped that have not exited yet */
  private readonly draining = new Set<number>();
  /** old workers this rollout stopped, to start again if it fails */
  private readonly stopped: { id: number; generation: number }[] = [];
  /** after a failure: the new workers killed, which must be gone before the restore */
  private restoreAfter?: Set<number>;
  private over = false;

  constructor(
    readonly generation: number,
    private readonly workers: number,
    readonly size: number,
    private readonly ports: BatchPorts,
  ) {}

  /** The ids of the next batch (used by the first batch and by workers started before an exec). */
  take(): number[] {
    const ids: number[] = [];
    while (ids.length < this.size && this.nextId <= this.workers) ids.push(this.nextId++);
    this.inFlight = ids.length;
    return ids;
  }

  /**
   * Every new worker started so far is ready. Returns true while the rollout goes on (the
   * load is not over), false after the last batch (the load succeeds; the supervisor
   * retires the remaining old workers).
   */
  batchReady(): boolean {
    if (this.over) return false;
    this.step++;
    const started = this.inFlight;
    if (this.nextId > this.workers) {
      this.over = true;
      const left = this.ports.serving().length;
      this.ports.log.notice(`Batch ${this.step} of generation ${this.generation} ready (${started} worker(s)); the last ${left} old worker(s) are retired with the reload`, {
        event: "batch-step", generation: this.generation, started, stopped: left,
      });
      return false;
    }
    const firstId = this.nextId - started;
    const victims = pickVictims(this.ports.serving(), started, (id) => id >= firstId && id < this.nextId);
    for (const p of victims) {
      this.ports.retire(p);
      this.draining.add(p.pid);
      this.stopped.push({ id: p.id, generation: p.generation });
    }
    this.ports.log.notice(
      `Batch ${this.step} of generation ${this.generation} ready (${started} worker(s)); stopping old worker(s) ${victims.map((p) => `${p.id} (${p.pid})`).join(", ") || "none"}`,
      { event: "batch-step", generation: this.generation, started, stopped: victims.length },
    );
    this.ports.pauseDeadline();
    for (const pid of [...this.draining]) if (!this.ports.alive(pid)) this.draining.delete(pid);
    if (this.draining.size === 0) this.nextBatch();
    return true;
  }

  /** A worker exited: a stopped old one may free the room the next batch waits for. */
  exited(pid: number): void {
    if (this.restoreAfter) {
      this.restoreAfter.delete(pid);
      if (this.restoreAfter.size === 0) this.restore();
      return;
    }
    if (this.over || !this.draining.delete(pid)) return;
    if (this.draining.size === 0) this.nextBatch();
  }

  /**
   * The load failed and the supervisor stopped the new workers `killed`. The old workers
   * stopped so far are started again once those are gone (so the bound holds).
   */
  failed(killed: number[]): void {
    if (this.over) return;
    this.over = true;
    this.restoreAfter = new Set(killed.filter((pid) => this.ports.alive(pid)));
    if (this.restoreAfter.size === 0) this.restore();
  }

  /** Starts now what a failure left to restore (the master goes on with another load). */
  restoreNow(): void {
    if (this.restoreAfter) this.restore();
  }

  /** true while old workers stopped by a failed rollout wait to be started again */
  get restoring(): boolean {
    return this.restoreAfter !== undefined;
  }

  private restore(): void {
    this.restoreAfter = undefined;
    const todo = this.stopped.splice(0);
    if (todo.length === 0) return;
    this.ports.log.notice(`Batch rollout of generation ${this.generation} failed: starting ${todo.length} old worker(s) again: ${todo.map((w) => w.id).join(", ")}`);
    for (const w of todo) this.ports.restore(w.id, w.generation);
  }

  private nextBatch(): void {
    this.ports.start(this.take());
  }
}

/** `count` old workers to stop: those with the ids just started first, then the oldest. */
export function pickVictims(serving: ProcessEntry[], count: number, preferred: (id: number) => boolean): ProcessEntry[] {
  const order = [...serving].sort(
    (a, b) => Number(preferred(b.id)) - Number(preferred(a.id)) || a.generation - b.generation || a.startedAt - b.startedAt || a.id - b.id,
  );
  return order.slice(0, count);
}
