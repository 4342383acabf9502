/**
 * The Prometheus text exposition format (version 0.0.4) of a snapshot of the master: a
 * pure function, so every line can be checked without a master. Conventions: names
 * `steward_*`, counters end in `_total`, units in the name (`_seconds`, `_bytes`), one
 * HELP and one TYPE line per family, label values escaped (\\, \", \n).
 */
import { RELOAD_BUCKETS, type Histogram, type MetricsCounters } from "./counters.ts";

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A worker as the scrape found it; /proc values are absent when it was already gone. */
export interface WorkerSample {
  id: number;
  generation: number;
  pid: number;
  /** starting | ready | stopping | failed */
  state: string;
  rssBytes?: number;
  cpuSeconds?: number;
  /** current workers: whether it (or a descendant) holds one of the master's listeners */
  listening?: boolean;
}

export interface MetricsSnapshot {
  version: string;
  /** the master's start (ms since the epoch), kept across re-execs */
  startedAt: number;
  /** the current generation (successful reloads so far) */
  generation: number;
  /** failed reloads since the last good one */
  consecutiveFailures: number;
  counters: MetricsCounters;
  workers: WorkerSample[];
  master: { rssBytes?: number; cpuSeconds?: number; openFds?: number };
}

type Labels = Record<string, string | number>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`;
}

class Exposition {
  readonly lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string, samples: string[]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  }

  histogram(name: string, help: string, byLabel: Array<[Labels, Histogram]>): void {
    const samples: string[] = [];
    for (const [labels, h] of byLabel) {
      let cumulative = 0;
      RELOAD_BUCKETS.forEach((bound, i) => {
        cumulative += h.buckets[i] ?? 0;
        samples.push(sample(`${name}_bucket`, { ...labels, le: formatValue(bound) }, cumulative));
      });
      samples.push(sample(`${name}_bucket`, { ...labels, le: "+Inf" }, h.count));
      samples.push(sample(`${name}_sum`, labels, h.sum), sample(`${name}_count`, labels, h.count));
    }
    this.family(name, "histogram", help, samples);
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

const WORKER_STATES = ["starting", "ready", "stopping", "failed"];

export function formatMetrics(s: MetricsSnapshot): string {
  const c = s.counters;
  const out = new Exposition();
  const present = <T>(v: T | undefined, f: (v: T) => string): string[] => (v === undefined ? [] : [f(v)]);

  out.family("steward_build_info", "gauge", "The running steward's version (always 1).", [sample("steward_build_info", { version: s.version }, 1)]);
  out.family("steward_master_start_time_seconds", "gauge", "When the master started (Unix time; kept across re-exec).", [
    sample("steward_master_start_time_seconds", {}, s.startedAt / 1000),
  ]);
  out.family("steward_generation", "gauge", "The current generation of workers (successful reloads since start, plus generations rolled back: numbers are not reused).", [
    sample("steward_generation", {}, s.generation),
  ]);
  out.family("steward_reloads_total", "counter", "Reloads that succeeded.", [sample("steward_reloads_total", {}, c.reloads)]);
  out.family("steward_reload_failures_total", "counter", "Reloads that failed (the previous generation kept serving).", [
    sample("steward_reload_failures_total", {}, c.reloadFailures),
  ]);
  out.family("steward_rollbacks_total", "counter", "Reloads rolled back: the new generation failed its probation (also in steward_reload_failures_total).", [
    sample("steward_rollbacks_total", {}, c.rollbacks),
  ]);
  out.family("steward_reload_consecutive_failures", "gauge", "Failed reloads since the last successful one.", [
    sample("steward_reload_consecutive_failures", {}, s.consecutiveFailures),
  ]);
  out.histogram("steward_reload_duration_seconds", "From a reload request to its outcome, success or failure (across the re-exec).", [[{}, c.reloadDuration]]);
  out.family("steward_worker_starts_total", "counter", "Workers started (first generation, reloads, restarts).", [
    sample("steward_worker_starts_total", {}, c.workerStarts),
  ]);
  out.family(
    "steward_worker_exits_total",
    "counter",
    "Workers that exited, by role when they exited and reason (exited: code 0, failed: other code, killed: by signal).",
    c.workerExits.map((e) => sample("steward_worker_exits_total", { role: e.role, reason: e.reason, ...(e.signal !== undefined ? { signal: e.signal } : {}) }, e.count)),
  );
  out.family(
    "steward_restarts_total",
    "counter",
    "Processes started again by on-failure = restart, by kind.",
    Object.entries(c.restarts).sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => sample("steward_restarts_total", { kind }, n)),
  );
  const byStateGeneration = new Map<string, { state: string; generation: number; n: number }>();
  for (const w of s.workers) {
    const key = `${w.state}\t${w.generation}`;
    const entry = byStateGeneration.get(key) ?? { state: w.state, generation: w.generation, n: 0 };
    entry.n++;
    byStateGeneration.set(key, entry);
  }
  const groups = [...byStateGeneration.values()].sort(
    (a, b) => a.generation - b.generation || WORKER_STATES.indexOf(a.state) - WORKER_STATES.indexOf(b.state),
  );
  out.family("steward_workers", "gauge", "Workers alive, by state and generation.", groups.map((g) => sample("steward_workers", { state: g.state, generation: g.generation }, g.n)));
  const workers = [...s.workers].sort((a, b) => a.generation - b.generation || a.id - b.id || a.pid - b.pid);
  const ids = (w: WorkerSample): Labels => ({ id: w.id, generation: w.generation, pid: w.pid });
  out.family(
    "steward_worker_resident_memory_bytes",
    "gauge",
    "Resident set size of each worker process (VmRSS).",
    workers.flatMap((w) => present(w.rssBytes, (v) => sample("steward_worker_resident_memory_bytes", ids(w), v))),
  );
  out.family(
    "steward_worker_cpu_seconds_total",
    "counter",
    "User and system CPU time of each worker process.",
    workers.flatMap((w) => present(w.cpuSeconds, (v) => sample("steward_worker_cpu_seconds_total", ids(w), v))),
  );
  out.family(
    "steward_worker_listening",
    "gauge",
    "1 when the current worker (or a descendant) holds one of the master's listening sockets, 0 when it holds none.",
    workers.flatMap((w) => present(w.listening, (v) => sample("steward_worker_listening", ids(w), v ? 1 : 0))),
  );
  out.family("steward_master_resident_memory_bytes", "gauge", "Resident set size of the master (VmRSS).", present(s.master.rssBytes, (v) => sample("steward_master_resident_memory_bytes", {}, v)));
  out.family("steward_master_cpu_seconds_total", "counter", "User and system CPU time of the master.", present(s.master.cpuSeconds, (v) => sample("steward_master_cpu_seconds_total", {}, v)));
  out.family("steward_master_open_fds", "gauge", "Descriptors the master holds open.", present(s.master.openFds, (v) => sample("steward_master_open_fds", {}, v)));
  return out.text();
}
