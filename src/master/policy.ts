/**
 * Pure decisions of the supervisor: what an exit status means and when to restart.
 */
import { signalName } from "../config/signals.ts";
import type { WaitStatus } from "../sys/posix.ts";

/** 128+N for death by signal N, as shells and tini report it. */
export function exitStatusOf(ws: WaitStatus): number {
  return ws.exited ? ws.code : 128 + ws.signal;
}

/** "exited with code N" or "killed by signal N (NAME)", as the log says it. */
export function describeExit(ws: WaitStatus): string {
  return ws.exited ? `exited with code ${ws.code}` : `killed by signal ${ws.signal} (${signalName(ws.signal)})`;
}

/** HAProxy's exit-on-failure treats 0, 130 (SIGINT) and 143 (SIGTERM) as a normal stop. */
export function isNormalExit(ws: WaitStatus): boolean {
  const s = exitStatusOf(ws);
  return s === 0 || s === 130 || s === 143;
}

export const RESTART_BACKOFF_FIRST = 1_000;
export const RESTART_BACKOFF_MAX = 30_000;
/** a worker that ran this long resets its back-off */
export const RESTART_STABLE_AFTER = 60_000;
/** this many failures within RESTART_WINDOW make `restart` give up and act as `exit` */
export const RESTART_GIVE_UP_COUNT = 5;
export const RESTART_WINDOW = 60_000;

export interface RestartHistory {
  /** times of recent failures (ms) */
  failures: number[];
  /** the delay used last time, 0 if none yet */
  lastDelay: number;
}

export type RestartDecision =
  | { action: "restart"; delay: number; history: RestartHistory }
  | { action: "give-up"; failures: number; history: RestartHistory };

/** REFERENCE §5.6 `restart`: 1 s doubling to 30 s, reset after 60 s of uptime; 5 failures within 60 s → give up. */
export function decideRestart(history: RestartHistory, now: number, uptime: number): RestartDecision {
  const failures = [...history.failures.filter((t) => now - t < RESTART_WINDOW), now];
  if (failures.length >= RESTART_GIVE_UP_COUNT) {
    return { action: "give-up", failures: failures.length, history: { failures, lastDelay: history.lastDelay } };
  }
  const delay =
    uptime >= RESTART_STABLE_AFTER || history.lastDelay === 0
      ? RESTART_BACKOFF_FIRST
      : Math.min(history.lastDelay * 2, RESTART_BACKOFF_MAX);
  return { action: "restart", delay, history: { failures, lastDelay: delay } };
}
