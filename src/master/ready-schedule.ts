/**
 * When to look for `accepting` between the rounds of the poll (load.ts): the master
 * remembers how long the last worker of a command took from its spawn to being found
 * accepting — after the last check that found it not accepting (`low`), at the latest when
 * the check that found it ran (`high`), in ms after `startedAt` — and checks each new
 * worker of that command alone at 1 ms steps from `low` on, so a worker as fast as the last
 * one is seen within about a millisecond instead of up to a round (5 ms) later.
 *
 * Invariants:
 * - at most WINDOW_CHECKS such checks per worker start, however often what was learned
 *   changes while it waits: a worker is checked at most that many times more than the
 *   rounds it waited through, and the rounds keep their cadence (load.ts);
 * - a worker slower than expected, or a time learned from another command, costs at most
 *   those checks: the window misses and the rounds find it as they would have;
 * - pure: times are plain numbers (ms), nothing here reads a clock (readyKey caches its
 *   answer per configuration object, which is never changed once loaded).
 */
import type { ReadyTime } from "../state.ts";

/** The extra checks one worker start may get (at 1 ms steps from the learned `low`). */
export const WINDOW_CHECKS = 4;
/** How many commands' times are remembered (a reload between two commands keeps both). */
export const KEPT_TIMES = 4;

type Command = { command: readonly string[]; cwd?: string | undefined };
/** computed once per configuration: the poll asks for each waiting worker at each check */
const keys = new WeakMap<Command, string>();

/** The command a time is learned for: a worker's time says little about another command's. */
export function readyKey(worker: Command): string {
  let key = keys.get(worker);
  if (key === undefined) keys.set(worker, (key = JSON.stringify([worker.command, worker.cwd ?? ""])));
  return key;
}

/** What one worker showed: not accepting `low` ms after its spawn, accepting `high` ms after. */
export function sampleOf(key: string, startedAt: number, lastMissAt: number | undefined, foundAt: number): ReadyTime {
  const low = Math.max(0, (lastMissAt ?? startedAt) - startedAt);
  return { key, low, high: Math.max(low, foundAt - startedAt) };
}

/**
 * The times remembered once `sample` is learned, most recent first. A sample that overlaps
 * what was known of its command narrows it (the same start time, seen more closely: a
 * worker adopted after an exec is first checked long after it was ready); one that does not
 * replaces it (the start time changed).
 */
export function learn(times: readonly ReadyTime[] | undefined, sample: ReadyTime): ReadyTime[] {
  const known = times?.find((t) => t.key === sample.key);
  let next = sample;
  if (known) {
    const low = Math.max(known.low, sample.low);
    const high = Math.min(known.high, sample.high);
    if (low < high) next = { key: sample.key, low, high };
  }
  return [next, ...(times ?? []).filter((t) => t.key !== sample.key)].slice(0, KEPT_TIMES);
}

export function learnedFor(times: readonly ReadyTime[] | undefined, key: string): ReadyTime | undefined {
  return times?.find((t) => t.key === key);
}

/** A worker waiting to be found accepting, as the window sees it. */
export interface WaitingWorker {
  startedAt: number;
  /** when the last check that found it not accepting ran */
  lastMissAt?: number | undefined;
  /** window checks it had so far */
  windowChecks: number;
}

/**
 * When worker `w`'s next window check is due (absolute ms), or undefined: nothing learned,
 * its checks spent, or every step of the window already covered by a check that missed
 * (a round or a window check; a late one covers the steps it passed).
 */
export function nextWindowCheck(w: WaitingWorker, learned: ReadyTime | undefined): number | undefined {
  if (!learned || w.windowChecks >= WINDOW_CHECKS) return undefined;
  for (let i = 0; i < WINDOW_CHECKS; i++) {
    const at = w.startedAt + learned.low + i;
    if (w.lastMissAt === undefined || at > w.lastMissAt) return at;
  }
  return undefined;
}

/**
 * When the poll's timer fires: the round when it is due, or the earliest window check
 * before it; never before `capUntil` (the end of the last checks plus three times their
 * cost: polls take at most a quarter of the master's time).
 */
export function nextPollAt(roundDue: number, windows: Iterable<number | undefined>, capUntil: number): number {
  let at = roundDue;
  for (const w of windows) if (w !== undefined && w < at) at = w;
  return Math.max(at, capUntil);
}
