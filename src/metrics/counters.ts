/**
 * The master's counters: plain data that only grows, carried across re-exec in the
 * handover (a Prometheus counter that restarted at every reload would look like a reset
 * each time). Gauges are not kept here: they are read from the state and /proc on scrape.
 */
import type { ProcessEntry } from "../state.ts";

/** Upper bounds (seconds) of the reload-duration histogram; +Inf is implied. */
export const RELOAD_BUCKETS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type ExitReason = "exited" | "failed" | "killed";

export interface Histogram {
  /** per bucket of RELOAD_BUCKETS, not cumulative; the last entry counts what no bound holds */
  buckets: number[];
  sum: number;
  count: number;
}

export interface ExitCount {
  role: ProcessEntry["role"];
  reason: ExitReason;
  /** the signal's name, for `killed` */
  signal?: string;
  count: number;
}

export interface MetricsCounters {
  reloads: number;
  reloadFailures: number;
  /** reloads whose generation failed its probation (also counted in reloadFailures) */
  rollbacks: number;
  workerStarts: number;
  workerExits: ExitCount[];
  /** by process kind (`worker`, `program`) */
  restarts: Record<string, number>;
  /** every reload with an outcome, successful or failed */
  reloadDuration: Histogram;
  /** when the reload in progress was asked for (ms since the epoch), if one is */
  reloadStartedAt?: number;
}

function emptyHistogram(): Histogram {
  return { buckets: new Array<number>(RELOAD_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
}

export function emptyCounters(reloads = 0): MetricsCounters {
  return {
    reloads,
    reloadFailures: 0,
    rollbacks: 0,
    workerStarts: 0,
    workerExits: [],
    restarts: {},
    reloadDuration: emptyHistogram(),
  };
}

/**
 * Counters handed over by the previous image, or fresh ones (continuing the reload count
 * of the state) when it wrote none or a shape this image does not know.
 */
export function restoreCounters(handed: unknown, stateReloads: number): MetricsCounters {
  const fresh = emptyCounters(stateReloads);
  if (typeof handed !== "object" || handed === null) return fresh;
  const h = handed as Partial<MetricsCounters>;
  const number = (v: unknown, fallback: number) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : fallback);
  const histogram = (v: unknown): Histogram => {
    const x = v as Partial<Histogram> | undefined;
    if (!x || !Array.isArray(x.buckets) || x.buckets.length !== RELOAD_BUCKETS.length + 1) return emptyHistogram();
    return { buckets: x.buckets.map((b) => number(b, 0)), sum: number(x.sum, 0), count: number(x.count, 0) };
  };
  return {
    reloads: number(h.reloads, stateReloads),
    reloadFailures: number(h.reloadFailures, 0),
    rollbacks: number(h.rollbacks, 0),
    workerStarts: number(h.workerStarts, 0),
    workerExits: Array.isArray(h.workerExits) ? h.workerExits.filter((e) => typeof e?.count === "number") : [],
    restarts: typeof h.restarts === "object" && h.restarts !== null ? { ...h.restarts } : {},
    reloadDuration: histogram(h.reloadDuration),
    ...(typeof h.reloadStartedAt === "number" ? { reloadStartedAt: h.reloadStartedAt } : {}),
  };
}

export function countWorkerStart(c: MetricsCounters): void {
  c.workerStarts++;
}

/** An exit status as a reason: a clean exit, a non-zero code, or death by a signal. */
export function exitReason(ws: { exited: boolean; code?: number }): ExitReason {
  return ws.exited ? (ws.code === 0 ? "exited" : "failed") : "killed";
}

export function countWorkerExit(c: MetricsCounters, role: ProcessEntry["role"], reason: ExitReason, signal?: string): void {
  const found = c.workerExits.find((e) => e.role === role && e.reason === reason && e.signal === signal);
  if (found) found.count++;
  else c.workerExits.push({ role, reason, ...(signal !== undefined ? { signal } : {}), count: 1 });
}

export function countRestart(c: MetricsCounters, kind: string): void {
  c.restarts[kind] = (c.restarts[kind] ?? 0) + 1;
}

export function reloadBegan(c: MetricsCounters, now: number): void {
  c.reloadStartedAt = now;
}

/** A reload's outcome; its duration runs from when it was asked for (possibly in a previous image). */
export function reloadEnded(c: MetricsCounters, ok: boolean, now: number): void {
  if (ok) c.reloads++;
  else c.reloadFailures++;
  if (c.reloadStartedAt === undefined) return;
  const seconds = Math.max(0, now - c.reloadStartedAt) / 1000;
  delete c.reloadStartedAt;
  const h = c.reloadDuration;
  const i = RELOAD_BUCKETS.findIndex((bound) => seconds <= bound);
  h.buckets[i < 0 ? RELOAD_BUCKETS.length : i]!++;
  h.sum += seconds;
  h.count++;
}
