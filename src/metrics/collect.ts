/**
 * A snapshot of the master for `formatMetrics`, taken when a scrape asks for it: the
 * state and counters as they are, plus what /proc says of each worker and of the master.
 * Nothing is sampled in between, so an idle master does no work for its metrics.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { MasterState, ProcessEntry } from "../state.ts";
import type { MetricsCounters } from "./counters.ts";
import type { MetricsSnapshot, WorkerSample } from "./format.ts";

/**
 * /proc gives CPU times in USER_HZ ticks, which the kernel fixes at 100 for user space on
 * every architecture steward builds for (x86-64, arm64), whatever CONFIG_HZ is.
 */
const USER_HZ = 100;

export interface ProcSample {
  rssBytes?: number;
  cpuSeconds?: number;
}

/** VmRSS of /proc/PID/status, in bytes. */
export function rssFromStatus(text: string): number | undefined {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** utime + stime of /proc/PID/stat, in seconds. The command name may hold spaces and parentheses: fields are counted after its last ')'. */
export function cpuFromStat(text: string): number | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : undefined;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // the process is gone (reaped between the state and the read)
  }
}

export function procSample(pid: number | "self"): ProcSample {
  const status = readOr(`/proc/${pid}/status`);
  const stat = readOr(`/proc/${pid}/stat`);
  const rssBytes = status === undefined ? undefined : rssFromStatus(status);
  const cpuSeconds = stat === undefined ? undefined : cpuFromStat(stat);
  return { ...(rssBytes !== undefined ? { rssBytes } : {}), ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) };
}

/** Open descriptors of this process, less the one reading the directory. */
export function openFds(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return undefined;
  }
}

/** A worker's state in the words of `steward_workers`. */
export function workerState(p: ProcessEntry): string {
  if (p.role === "old") return "stopping";
  if (p.role === "failed") return "failed";
  return p.ready ? "ready" : "starting";
}

export interface CollectPorts {
  proc(pid: number | "self"): ProcSample;
  openFds(): number | undefined;
  /** whether a current worker holds one of the master's listeners (workers/holding.ts); undefined: cannot tell */
  listening?(pid: number): boolean | undefined;
}

export const PROC: CollectPorts = { proc: procSample, openFds };

export function collect(state: MasterState, counters: MetricsCounters, version: string, ports: CollectPorts = PROC): MetricsSnapshot {
  const workers: WorkerSample[] = [];
  for (const p of state.processes.values()) {
    if (p.kind !== "worker") continue;
    const listening = p.role === "current" ? ports.listening?.(p.pid) : undefined;
    workers.push({
      id: p.id,
      generation: p.generation,
      pid: p.pid,
      state: workerState(p),
      ...ports.proc(p.pid),
      ...(listening !== undefined ? { listening } : {}),
    });
  }
  const fds = ports.openFds();
  return {
    version,
    startedAt: state.startedAt,
    generation: state.reloads,
    consecutiveFailures: state.failedReloads,
    counters,
    workers,
    master: { ...ports.proc("self"), ...(fds !== undefined ? { openFds: fds } : {}) },
  };
}
