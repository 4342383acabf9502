/**
 * The supervisor's public types: the ports it runs on, the hooks it calls, how workers and
 * programs are planned and what a load returns. In a file of their own so that the
 * supervisor's parts (supervisor-core.ts, load.ts, exits.ts, reload.ts, stop.ts,
 * notified.ts) and the master's wiring can name them without importing the supervisor:
 * no import cycle. supervisor.ts re-exports them, so importers keep one module path.
 */
import type { ProgramConfig } from "../config/types.ts";
import type { WaitStatus } from "../sys/posix.ts";
import type { ChildSpec } from "../workers/plan.ts";
import type { ProcessEntry } from "./state.ts";
import type { HealthPlanner } from "./health.ts";

export interface Timer {
  cancel(): void;
}

export interface SupervisorPorts {
  now(): number;
  /** the master's own CPU time (user + system) in ms; the readiness poll's duty cycle counts it (wall time without it) */
  cpuTime?(): number;
  after(ms: number, fn: () => void): Timer;
  /** starts a child; throws with a one-line reason when it cannot */
  spawn(child: ChildSpec): number;
  /** kill(2) on a PID (or -PGID); false when it is already gone */
  kill(pid: number, signal: number): boolean;
  /** `accepting` readiness of a worker on the master's listeners */
  isAccepting(pid: number): boolean;
  /** a round of isAccepting calls ended; `again`: another follows (what it kept open for the next may stay) */
  acceptingPolled?(again: boolean): void;
  /** a more precise reason than the generic one when an `accepting` worker is not ready (reuse-port listeners) */
  notReadyReason?(pid: number): string | undefined;
  /** the parent of a process, to attribute notify messages sent by a worker's children */
  parentOf(pid: number): number | undefined;
  /** reads the sd_notify datagrams already waiting (before a watchdog deadline is judged) */
  drainNotify?(): void;
  /** bytes resident in a worker's process tree (workers/rss.ts); without it max-rss and old-rss-budget see nothing */
  rssOf?(pid: number): number | undefined;
  /** the nice value of the scheduler group of a worker's session (workers/session-nice.ts; `start-nice`); throws with a one-line reason */
  sessionNice?(pid: number, nice: number): void;
  /** releases what the master holds (listeners, sockets, files) and ends the process */
  exit(code: number): void;
  /** the processes below the master that it did not start (descendants.ts); none without */
  strays?: StrayPort;
  /** before `old` workers get their stop signal: steer reuse-port addresses to `current` (listeners/steer.ts); returns the ms to wait, 0 for none */
  releaseListeners?(old: number[], current: number[]): number;
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
