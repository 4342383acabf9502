/**
 * When to look for `accepting` between the rounds of the poll (load.ts): the master
 * remembers, per worker command, how long its recent workers took from their spawn to
 * being found accepting — each after the last check that found it not accepting (`low`),
 * at the latest when the check that found it ran (`high`), in ms after `startedAt` — and
 * checks each new worker of that command alone every 1 ms (at most WINDOW_CHECKS times:
 * further apart when there are more steps) where those recent starts were found, so a
 * worker as fast as one of them is seen within about a millisecond instead of up to a
 * round (5 ms) later. A server's start-up time varies from one start to the next, in
 * clusters (HAProxy's on 2 vCPUs: 26-32 ms or 43-52 ms idle, 43-72 ms under wrk), so the
 * window covers the last KEPT_SAMPLES starts, not the last one, and only where they were:
 * gaps between them narrower than a round are filled, wider ones left to the rounds (one
 * span from the earliest to the latest start had its checks 2 ms apart). A check costs the
 * master 40-150 µs of CPU (bench/readiness-poll.ts), which under load the new worker's
 * start competes with: hence a bound on the checks, not on the span.
 *
 * Invariants:
 * - at most WINDOW_CHECKS such checks per worker start, however often what was learned
 *   changes while it waits: a worker is checked at most that many times more than the
 *   rounds it waited through, and the rounds keep their cadence (load.ts);
 * - a worker slower than expected, or a time learned from another command, costs at most
 *   those checks: the window misses, its spare checks follow it 1 ms apart, and the rounds
 *   find it as they would have;
 * - a sample wider than WINDOW_CHECKS ms (a worker adopted after an exec is first checked
 *   long after it was ready; a slow server found by the 25 ms rounds) is not learned;
 * - pure: times are plain numbers (ms), nothing here reads a clock (readyKey caches its
 *   answer per configuration object, which is never changed once loaded).
 */
import type { ReadyTime } from "../state.ts";

/** The extra checks one worker start may get (across its command's recent starts). */
export const WINDOW_CHECKS = 20;
/** Recent starts less than a round (load.ts's 5 ms) apart are covered as one span. */
const FILLED_GAP = 4;
/** How many commands' times are remembered (a reload between two commands keeps both). */
export const KEPT_TIMES = 4;
/** How many recent starts of a command the window covers. */
export const KEPT_SAMPLES = 8;

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

/** The recent starts `t` describes, most recent first (what an earlier version handed over has no samples: its low-high is one). */
function samplesOf(t: ReadyTime): Array<[number, number]> {
  return t.samples ?? [[t.low, t.high]];
}

/**
 * The times remembered once `sample` is learned, most recent command first: the sample
 * joins the last KEPT_SAMPLES starts of its command, and `low`-`high` spans them. A sample
 * wider than WINDOW_CHECKS ms says too little and is not learned.
 */
export function learn(times: readonly ReadyTime[] | undefined, sample: ReadyTime): ReadyTime[] {
  if (sample.high - sample.low > WINDOW_CHECKS) return [...(times ?? [])];
  const known = times?.find((t) => t.key === sample.key);
  const samples: Array<[number, number]> = [[sample.low, sample.high] as [number, number], ...(known ? samplesOf(known) : [])].slice(0, KEPT_SAMPLES);
  const next = { key: sample.key, low: Math.min(...samples.map((s) => s[0])), high: Math.max(...samples.map((s) => s[1])), samples };
  return [next, ...(times ?? []).filter((t) => t.key !== sample.key)].slice(0, KEPT_TIMES);
}

export function learnedFor(times: readonly ReadyTime[] | undefined, key: string): ReadyTime | undefined {
  return times?.find((t) => t.key === key);
}

/**
 * The window's steps (ms after the spawn, ascending): every whole ms in which one of the
 * recent starts became accepting (after its `low`, up to its `high`), with the gaps of at
 * most FILLED_GAP ms between them; where that makes more than WINDOW_CHECKS steps, that
 * many chosen evenly among them, so the checks still cover every span.
 */
export function windowSteps(learned: ReadyTime): number[] {
  const spans = samplesOf(learned)
    .map(([low, high]): [number, number] => [Math.floor(low) + 1, Math.max(Math.floor(low) + 1, Math.ceil(high))])
    .sort((a, b) => a[0] - b[0]);
  const steps: number[] = [];
  let last = -Infinity;
  for (const [from, to] of spans) {
    const start = from - last - 1 <= FILLED_GAP ? last + 1 : from;
    for (let s = start; s <= to; s++) steps.push(s);
    last = Math.max(last, to);
  }
  if (steps.length <= WINDOW_CHECKS) return steps;
  return Array.from({ length: WINDOW_CHECKS }, (_, i) => steps[Math.floor((i * steps.length) / WINDOW_CHECKS)]!);
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
 * or its checks spent. The window's steps first, each once (a check that missed covers the
 * steps it passed: a round's, or a late one); once they are all behind, a worker slower
 * than its recent starts has the checks it has left every 1 ms after the last step or the
 * last miss, rather than waiting for the next round (HAProxy idle, before: a third of the
 * starts were found by a round, 2-6 ms after they accepted).
 */
export function nextWindowCheck(w: WaitingWorker, learned: ReadyTime | undefined): number | undefined {
  if (!learned || w.windowChecks >= WINDOW_CHECKS) return undefined;
  const steps = windowSteps(learned);
  for (const step of steps) {
    const at = w.startedAt + step;
    if (w.lastMissAt === undefined || at > w.lastMissAt) return at;
  }
  return w.startedAt + Math.max(steps.at(-1)!, Math.floor(w.lastMissAt! - w.startedAt)) + 1;
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
