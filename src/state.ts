/**
 * The master's state as plain data: what a reload hands across exec and what
 * `show proc` prints. Only the supervisor (master/supervisor.ts) changes it; it sits
 * below the master so that the master CLI and the metrics can read it (layers.test.ts).
 */

export type ProcessKind = "worker" | "program";

/**
 * loading: started by a load that is not finished; current: serving generation;
 * probation: ready, serving beside the current generation until promoted or rolled back
 * (master/probation.ts); old: asked to stop after a newer generation became ready (or
 * rolled back); failed: from a failed load.
 */
export type ProcessRole = "loading" | "current" | "probation" | "old" | "failed";

export interface ProcessEntry {
  pid: number;
  kind: ProcessKind;
  /** `worker` or the program's name */
  name: string;
  /** 1..N within its generation (workers) */
  id: number;
  /** the master's reload counter when it was started */
  generation: number;
  /** ms since the epoch */
  startedAt: number;
  /** the steward version that started it */
  version: string;
  role: ProcessRole;
  ready: boolean;
  /** when it was sent its stop signal (ms), if it was */
  stopSentAt?: number;
  /** a retired worker whose stop signal waits for its reuse-port listeners to settle: when it is due (ms) */
  stopDueAt?: number;
  /** started while old workers (of an earlier reload) were still there: no reuse-port steering for its generation (listeners/steer.ts) */
  besideOld?: boolean;
  /** when it was sent SIGTERM for outliving max-reloads (ms), if it was */
  termSentAt?: number;
  /** what it runs on when steward knows (`bun 1.4.5` for `@bun` commands) */
  runtime?: string;
  /** last STATUS= it sent over NOTIFY_SOCKET */
  status?: string;
  /** its watchdog interval in ms (WATCHDOG_USEC it was given, or set since with WATCHDOG_USEC=) */
  watchdog?: number;
  /** why steward failed it while it ran (watchdog, health check: Supervisor.failWorker) */
  failure?: string;
  /** `start-nice`: the nice value its session was given at its spawn, until it is ready (then 0) */
  startNice?: number;
  /** `accepting`: when a check last found it not accepting yet (ms; master/ready-schedule.ts) */
  readyMissAt?: number;
  /** `accepting`: the checks it had between rounds so far (master/ready-schedule.ts) */
  windowChecks?: number;
}

/** How long workers of a command took to be found accepting (ms after spawn, master/ready-schedule.ts). */
export interface ReadyTime {
  /** the command (readyKey) */
  key: string;
  /** it was not accepting yet this long after its spawn */
  low: number;
  /** it was accepting this long after its spawn */
  high: number;
  /**
   * the recent workers' own (low, high), most recent first: `low`-`high` spans them
   * (absent in what an earlier version handed over: then low-high is the one sample)
   */
  samples?: Array<[number, number]>;
}

export type MasterPhase = "starting" | "running" | "reloading" | "stopping";

export interface MasterState {
  pid: number;
  /** ms since the epoch, kept across re-execs */
  startedAt: number;
  /** successful reloads so far */
  reloads: number;
  /** consecutive failed reloads, reset by a success */
  failedReloads: number;
  version: string;
  phase: MasterPhase;
  processes: Map<number, ProcessEntry>;
  /** the reason of the last failed load, if the last load failed */
  lastFailure?: string;
  /** the generation on probation, while one is (master/probation.ts) */
  probation?: { generation: number; until: number; failures: number; allowed: number };
  /** the highest generation rolled back: generation numbers are never reused */
  rolledBack?: number;
  /** what the `accepting` poll learned, most recent command first (master/ready-schedule.ts) */
  readyTimes?: ReadyTime[];
}

/** The number of the next generation to start. */
export function nextGeneration(state: MasterState): number {
  return Math.max(state.reloads, state.rolledBack ?? 0) + 1;
}

export function workers(state: MasterState, role?: ProcessRole): ProcessEntry[] {
  return [...state.processes.values()].filter((p) => p.kind === "worker" && (role === undefined || p.role === role));
}
