/**
 * The load: a generation being started (the first one, or a reload's), watched until
 * every worker is ready (`ready` = spawn, delay, accepting or notify), failed on the
 * ready timeout or on the first worker that exits; and the readiness of restarted and
 * replacement workers, which shares the polling.
 *
 * Invariants:
 * - at most one load at a time (`core.load`), and it ends exactly once: `done` is called
 *   by checkLoadDone (every worker ready) or failLoad (its workers killed), never both;
 * - a load's workers are `loading` until it ends: `current` when it succeeds, `failed`
 *   (SIGKILLed, or drained when a batch rollout's ready ones have served) when it fails;
 * - `accepting` polls take at most a quarter of the master's CPU time;
 * - between the rounds, a worker is checked alone when the last one of its command became
 *   ready (ready-schedule.ts): at most WINDOW_CHECKS more checks per worker start than the
 *   rounds it waits through, which keep their cadence.
 */
import type { Config } from "../config/types.ts";
import { formatDuration } from "../config/duration.ts";
import { signalName } from "../config/signals.ts";
import { SIGTERM } from "../sys/constants.ts";
import { killGroupThenPid } from "../sys/kill.ts";
import { batchSize } from "../config/rollout.ts";
import { BatchRollout } from "./rollout.ts";
import { workers, type ProcessEntry } from "./state.ts";
import { configOf, endStartNice, hardKill, softStop, spawnWorker, type Load, type SupervisorCore } from "./supervisor-core.ts";
import { learn, learnedFor, nextPollAt, nextWindowCheck, readyKey, sampleOf } from "./ready-schedule.ts";
import type { LoadResult, WorkerPlanner } from "./supervisor-types.ts";

/**
 * `accepting` readiness is polled quickly while workers are young (interpreted servers
 * take seconds to boot), then more slowly; and never for more than a quarter of the
 * master's time: the next poll waits at least three times as long as the last one took.
 * "Took" is the master's CPU time: while 64 workers start, the master is one of 65
 * runnable processes in its session's scheduler group (kernel.sched_autogroup_enabled), and
 * a round of 15 ms of CPU took 300 ms of wall time, which held the next round back by
 * almost a second after the workers were ready (bench/startup-64.mjs).
 */
const ACCEPT_POLL_FAST_MS = 5;
const ACCEPT_POLL_FAST_FOR_MS = 5_000;
const ACCEPT_POLL_MS = 25;
const ACCEPT_POLL_DUTY_FACTOR = 3;

/** Starts generation `generation` from `config` (with `adopt`, gates the workers spawnEarly started instead). */
export function runLoad(core: SupervisorCore, generation: number, config: Config, plan: WorkerPlanner, done: (r: LoadResult) => void, adopt = false): void {
  const g = config.global;
  const early = adopt ? loadingOf(core, generation) : [];
  // workers started before the exec have been waiting since they started
  const since = Math.min(core.ports.now(), ...early.map((p) => p.startedAt));
  const load: Load = {
    generation,
    config,
    pending: new Set(),
    deadline: core.ports.after(Math.max(0, g.readyTimeout - (core.ports.now() - since)), () => loadTimedOut(core, load)),
    extended: new Map(),
    done,
  };
  core.load = load;
  if (generation > 0) load.batch = batchFor(core, load, plan);
  if (adopt) {
    const exited = core.earlyExit;
    core.earlyExit = undefined;
    for (const p of early) load.pending.add(p.pid);
    if (exited) {
      failLoad(core, exited.reason, exited.status);
      return;
    }
    const expected = load.batch ? load.batch.take().length : g.workers;
    if (early.length !== expected) {
      failLoad(core, `${early.length} of ${expected} workers were started before the exec`, 1);
      return;
    }
    for (const p of early) {
      core.health.attach(p.pid, plan.health);
      if (p.ready) {
        load.pending.delete(p.pid);
        monitor(core, p);
      } else watchReady(core, p.pid, config);
    }
    checkLoadDone(core);
    return;
  }
  const ids = load.batch ? load.batch.take() : Array.from({ length: g.workers }, (_, i) => i + 1);
  startLoading(core, load, ids, plan);
}

/** Starts workers `ids` of the load, gated by it; false when one could not be started (the load failed). */
function startLoading(core: SupervisorCore, load: Load, ids: number[], plan: WorkerPlanner): boolean {
  for (const id of ids) {
    const pid = spawnWorker(core, id, load.generation, "loading", plan);
    if (pid === undefined) {
      failLoad(core, `worker ${id} could not be started`, 1);
      return false;
    }
    load.pending.add(pid);
  }
  // Watch only once all are pending, so an immediately ready worker cannot end the load early.
  for (const pid of [...load.pending]) watchReady(core, pid, load.config);
  checkLoadDone(core);
  return true;
}

/** A batch rollout for the reload `load`, when its configuration asks for one (rollout.ts). */
function batchFor(core: SupervisorCore, load: Load, plan: WorkerPlanner): BatchRollout | undefined {
  const g = load.config.global;
  const size = batchSize(g.rollout, g.workers);
  if (g.rollout.kind === "all" || size >= g.workers) return undefined;
  core.rollout?.restoreNow();
  core.rollout = new BatchRollout(load.generation, g.workers, size, {
    start: (ids) => {
      if (core.load !== load) return false;
      load.deadline.cancel();
      load.deadline = core.ports.after(g.readyTimeout, () => loadTimedOut(core, load));
      return startLoading(core, load, ids, plan);
    },
    serving: () => workers(core.state, "current"),
    // the new configuration's stop-signal and hard-stop-after, as retireOldGeneration uses
    retire: (p) => softStop(core, p, core.hardReload ? SIGTERM : g.stopSignal, g.hardStopAfter),
    pauseDeadline: () => load.deadline.cancel(),
    alive: (pid) => core.state.processes.has(pid),
    restore: (id, generation) => {
      if (core.state.phase === "stopping") return;
      const pid = spawnWorker(core, id, generation, "current", core.plan);
      if (pid !== undefined) watchReady(core, pid, core.config);
    },
    log: core.log,
  });
  return core.rollout;
}

/** The workers of `generation` still loading (started, not yet gated). */
export function loadingOf(core: SupervisorCore, generation: number): ProcessEntry[] {
  return workers(core.state, "loading").filter((p) => p.generation === generation);
}

// ---- readiness ----------------------------------------------------------------------

/** Waits for worker `pid` to be ready as `config`'s `ready` says. */
export function watchReady(core: SupervisorCore, pid: number, config: Config): void {
  const ready = config.global.ready;
  const noListeners = config.listen.length === 0;
  if (ready.kind === "spawn" || (ready.kind === "accepting" && noListeners)) {
    becomeReady(core, pid);
    return;
  }
  core.waitingReady.add(pid);
  if (ready.kind === "delay") core.ports.after(ready.ms, () => markReady(core, pid));
  if (ready.kind === "accepting") schedulePoll(core);
}

/** What a poll's cost is counted in: the master's CPU time, or wall time where the ports have none. */
function pollClock(core: SupervisorCore): number {
  return core.ports.cpuTime?.() ?? core.ports.now();
}

/** The round's cadence: fast while a waiting worker is young. */
function cadence(core: SupervisorCore, now: number): number {
  const young = [...core.waitingReady].some((pid) => now - (core.state.processes.get(pid)?.startedAt ?? 0) < ACCEPT_POLL_FAST_FOR_MS);
  return young ? ACCEPT_POLL_FAST_MS : ACCEPT_POLL_MS;
}

/** A worker started waiting: a round is due after the cadence if none is, and its window may come first. */
function schedulePoll(core: SupervisorCore): void {
  const now = core.ports.now();
  if (!core.pollTimer) core.roundDue = now + Math.max(cadence(core, now), core.pollCost * ACCEPT_POLL_DUTY_FACTOR);
  armPoll(core, now);
}

/** The `accepting` worker `pid`'s next check between rounds (ready-schedule.ts), if one is due. */
function windowOf(core: SupervisorCore, pid: number): number | undefined {
  const p = core.state.processes.get(pid);
  if (!p) return undefined;
  const config = configOf(core, p);
  if (config.global.ready.kind !== "accepting") return undefined;
  const w = { startedAt: p.startedAt, lastMissAt: p.readyMissAt, windowChecks: p.windowChecks ?? 0 };
  return nextWindowCheck(w, learnedFor(core.state.readyTimes, readyKey(config.worker)));
}

/** (Re)arms the poll's one timer for the round due or an earlier window check, within the duty cycle. */
function armPoll(core: SupervisorCore, now: number): void {
  const windows = [...core.waitingReady].map((pid) => windowOf(core, pid));
  const at = nextPollAt(core.roundDue ?? now, windows, (core.pollEnded ?? -Infinity) + core.pollCost * ACCEPT_POLL_DUTY_FACTOR);
  if (core.pollTimer && core.pollAt === at) return;
  core.pollTimer?.cancel();
  core.pollAt = at;
  core.pollTimer = core.ports.after(Math.max(0, at - now), () => poll(core, at));
}

/**
 * The timer armed for `at` fired: a round checks every waiting worker, a window check only
 * those whose window is due. What a check sees is remembered on the worker (a miss) or
 * learned for its command (found: ready-schedule.ts).
 */
function poll(core: SupervisorCore, at: number): void {
  // the timer that fired stays in pollTimer until the end, so a worker that starts waiting
  // meanwhile (markReady may end a load and start the next batch) keeps this round's due time
  core.pollAt = undefined;
  const round = at >= (core.roundDue ?? at);
  const began = pollClock(core);
  const checked = round ? [...core.waitingReady] : [...core.waitingReady].filter((pid) => (windowOf(core, pid) ?? Infinity) <= at);
  const found: number[] = [];
  for (const pid of checked) {
    const p = core.state.processes.get(pid);
    const checkedAt = core.ports.now();
    if (core.ports.isAccepting(pid)) {
      found.push(pid);
      if (p) learnReadyTime(core, p, checkedAt, round);
    } else if (p) p.readyMissAt = checkedAt;
    if (p && !round) p.windowChecks = (p.windowChecks ?? 0) + 1;
  }
  const again = core.waitingReady.size > found.length && core.state.phase !== "stopping";
  // What the checks kept open for the next round is released before the workers found
  // are ready, so a ready generation ('Loading success.') holds none of it. A timer is
  // pending whenever a worker waits, so a round also follows the last one's leaving. A
  // window check reads only some workers' files: the next round decides what stays open.
  if (round || !again) core.ports.acceptingPolled?.(again);
  for (const pid of found) markReady(core, pid);
  core.pollCost = pollClock(core) - began;
  const now = core.ports.now();
  core.pollEnded = now;
  if (core.waitingReady.size === 0 || core.state.phase === "stopping") {
    core.pollTimer?.cancel();
    core.pollTimer = undefined;
    core.roundDue = undefined;
    return;
  }
  if (round) core.roundDue = now + Math.max(cadence(core, now), core.pollCost * ACCEPT_POLL_DUTY_FACTOR);
  armPoll(core, now);
}

/** Worker `p` was found accepting at `foundAt` (by a round or its window): its command's time is learned (`accepting` workers only). */
function learnReadyTime(core: SupervisorCore, p: ProcessEntry, foundAt: number, round: boolean): void {
  const config = configOf(core, p);
  if (config.global.ready.kind !== "accepting") return;
  const sample = sampleOf(readyKey(config.worker), p.startedAt, p.readyMissAt, foundAt);
  core.log.debug(`Worker ${p.id} (${p.pid}) accepting ${sample.low}-${sample.high} ms after its spawn (found by ${round ? "a round" : "a check between rounds"})`);
  core.state.readyTimes = learn(core.state.readyTimes, sample);
}

/** Worker `pid` showed it is ready (READY=1, accepting, its delay passed), if it was waited for. */
export function markReady(core: SupervisorCore, pid: number): void {
  if (core.waitingReady.delete(pid)) becomeReady(core, pid);
}

function becomeReady(core: SupervisorCore, pid: number): void {
  const p = core.state.processes.get(pid);
  if (!p || p.ready) return;
  p.ready = true;
  endStartNice(core, p);
  // what the poll kept about it is of no use once it is ready (nor to the next image)
  delete p.readyMissAt;
  delete p.windowChecks;
  core.log.notice(`Worker ${p.id} (${pid}) is ready`, { event: "worker-ready", worker: p.id, workerPid: pid, generation: p.generation });
  monitor(core, p);
  core.memory.ready(pid);
  if (core.load?.pending.delete(pid)) checkLoadDone(core);
}

/** A worker is ready: its watchdog arms and its health checks begin (as its planner says). */
export function monitor(core: SupervisorCore, p: ProcessEntry): void {
  core.watchdog.ready(p);
  core.health.ready(p);
}

// ---- the end of a load --------------------------------------------------------------

function checkLoadDone(core: SupervisorCore): void {
  const load = core.load;
  if (!load || load.pending.size > 0) return;
  if (load.batch?.batchReady()) return;
  load.deadline.cancel();
  core.load = undefined;
  for (const p of core.state.processes.values()) {
    if (p.role === "loading" && p.generation === load.generation) p.role = "current";
  }
  load.done({ ok: true });
}

/** EXTEND_TIMEOUT_USEC=N: a loading worker gets until now + N before the load fails on it. */
export function extendReadyTimeout(core: SupervisorCore, p: ProcessEntry, value: string): void {
  const load = core.load;
  if (!load || !load.pending.has(p.pid)) return;
  const usec = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(usec)) {
    core.log.debug(`sd_notify EXTEND_TIMEOUT_USEC=${value} from worker ${p.id} (${p.pid}) ignored: not a number of microseconds`);
    return;
  }
  const until = core.ports.now() + Math.ceil(usec / 1000);
  if (until <= (load.extended.get(p.pid) ?? 0)) return;
  load.extended.set(p.pid, until);
  core.log.notice(`Worker ${p.id} (${p.pid}) extended its ready-timeout by ${formatDuration(Math.ceil(usec / 1000))}`);
}

function loadTimedOut(core: SupervisorCore, load: Load): void {
  if (core.load !== load) return;
  const now = core.ports.now();
  const late = [...load.pending].filter((pid) => (load.extended.get(pid) ?? 0) <= now);
  if (late.length === 0) {
    // every worker still pending asked for more time: look again when the first runs out
    const next = Math.min(...[...load.pending].map((pid) => load.extended.get(pid)!));
    load.deadline = core.ports.after(next - now, () => loadTimedOut(core, load));
    return;
  }
  const pid = late[0]!;
  const p = core.state.processes.get(pid);
  const why =
    load.config.global.ready.kind === "notify"
      ? "it sent no READY=1 on NOTIFY_SOCKET"
      : (core.ports.notReadyReason?.(pid) ?? "not accepting on any of its listeners");
  failLoad(core, `worker ${p?.id ?? "?"} (${pid}) not ready within ${formatDuration(load.config.global.readyTimeout)}: ${why}`, 1);
}

/** The load in progress failed: its workers are killed (or drained) and `done` hears why. */
export function failLoad(core: SupervisorCore, reason: string, exitCode: number): void {
  const load = core.load;
  if (!load) return;
  load.deadline.cancel();
  core.load = undefined;
  const killed: number[] = [];
  // workers of a batch rollout that were ready have served: they drain as old ones do
  const drained: number[] = [];
  const g = load.config.global;
  for (const p of core.state.processes.values()) {
    if (p.role === "loading" && p.generation === load.generation) {
      p.role = "failed";
      core.waitingReady.delete(p.pid);
      if (load.batch && p.ready) {
        core.ports.kill(p.pid, g.stopSignal);
        drained.push(p.pid);
      } else {
        killGroupThenPid(core.kill, p.pid);
        killed.push(p.pid);
      }
      // the stop that may follow (a failed start) must neither signal it again nor say it did
      p.stopSentAt = core.ports.now();
    }
  }
  load.done({ ok: false, reason, exitCode });
  load.batch?.failed([...killed, ...drained]);
  if (drained.length > 0) {
    core.log.notice(`Sent ${signalName(g.stopSignal)} to the ${drained.length} ready worker(s) of failed generation ${load.generation}: ${drained.join(", ")}`);
    if (g.hardStopAfter > 0) core.ports.after(g.hardStopAfter, () => hardKill(core, drained));
  }
  if (killed.length > 0) core.log.notice(`Sent SIGKILL to the ${killed.length} worker(s) of failed generation ${load.generation}: ${killed.join(", ")}`);
}
