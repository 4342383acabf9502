/**
 * The supervisor's half of a reload: the next generation is loaded (or adopted, when it
 * was started before the exec), then promoted — the previous workers retired, programs
 * restarted as `start-on-reload` says — or put on probation (probation.ts); and the
 * resumption of supervision in a new image after the exec.
 *
 * Invariants:
 * - a failed reload leaves the current generation, configuration and plans untouched:
 *   only promote() replaces them;
 * - one reload at a time: refused while another load runs or the master is not running;
 * - timers never cross the exec: resume() arms again what the new image must watch.
 */
import type { Config } from "../config/types.ts";
import { signalName } from "../config/signals.ts";
import { SIGKILL, SIGTERM } from "../sys/constants.ts";
import { killGroupThenPid } from "../sys/kill.ts";
import { batchSize } from "../config/rollout.ts";
import { nextGeneration, workers, type ProcessEntry } from "./state.ts";
import { hardKill, softStop, spawnProgram, spawnWorker, type SupervisorCore } from "./supervisor-core.ts";
import { loadingOf, monitor, runLoad, watchReady } from "./load.ts";
import { checkAllGone } from "./stop.ts";
import type { LoadResult, ProgramPlanner, WorkerPlanner } from "./supervisor-types.ts";

/**
 * Starts the next generation from `config` (with `adopt`, gates the workers spawnEarly
 * started instead). On success the previous workers become old and get their stop
 * signal (SIGTERM when `hard`); on failure they stay current and untouched, and the new
 * workers are killed.
 */
export function reload(
  core: SupervisorCore,
  config: Config,
  plan: WorkerPlanner,
  hard: boolean,
  done: (r: LoadResult) => void,
  programPlan?: ProgramPlanner,
  adopt = false,
): void {
  if (core.state.phase !== "running" || core.load) {
    done({ ok: false, reason: "Another reload is still in progress.", exitCode: 1 });
    return;
  }
  core.state.phase = "reloading";
  core.hardReload = hard;
  const generation = nextGeneration(core.state);
  runLoad(core, generation, config, plan, (result) => {
    if (core.state.phase === "stopping") {
      done({ ok: false, reason: "the master is stopping", exitCode: 1 });
      return;
    }
    core.state.phase = "running";
    if (!result.ok) {
      core.state.failedReloads++;
      core.state.lastFailure = result.reason;
      core.log.alert(`Reload failed: ${result.reason}`, { event: "reload-failed", generation, reason: result.reason });
      done(result);
      checkAllGone(core);
      return;
    }
    // with probation the verdict comes later; the reload is in progress until then
    if (config.global.probation > 0) {
      core.probation.begin({ generation, config, plan, ...(programPlan ? { programPlan } : {}), hard, done });
      return;
    }
    promote(core, generation, config, plan, programPlan, hard);
    done(result);
  }, adopt);
}

/** The reload succeeded: `generation` becomes current, the others get their stop signal. */
export function promote(core: SupervisorCore, generation: number, config: Config, plan: WorkerPlanner, programPlan: ProgramPlanner | undefined, hard: boolean): void {
  core.state.reloads = generation;
  core.state.failedReloads = 0;
  delete core.state.lastFailure;
  core.config = config;
  core.plan = plan;
  if (programPlan) core.programPlan = programPlan;
  retireOldGeneration(core, generation, hard);
  reloadPrograms(core);
  core.memory.start();
  core.log.notice("Loading success.", { event: "loaded", generation });
  core.hooks.loaded?.(generation);
}

/** Everything but `generation` is told to stop; survivors of too many reloads get SIGTERM. */
function retireOldGeneration(core: SupervisorCore, generation: number, hard: boolean): void {
  const g = core.config.global;
  const now = core.ports.now();
  const signalled: number[] = [];
  for (const [key, r] of core.restarts) {
    if (!key.startsWith("worker:")) continue;
    r.timer?.cancel();
    core.restarts.delete(key);
  }
  const retiring = workers(core.state, "current").filter((p) => p.generation !== generation);
  const fresh = workers(core.state).filter((p) => p.generation === generation);
  // the steering needs the group's slots in join order: an old worker's socket leaving after
  // the new ones joined moves them (the previous reload's workers still stopping)
  const steerable = retiring.length > 0 && !fresh.some((p) => p.besideOld);
  if (retiring.length > 0 && !steerable && core.ports.releaseListeners) core.log.debug(`Old workers not steered away before their stop: generation ${generation} started while an earlier reload's old workers were still there`);
  const settle = steerable ? (core.ports.releaseListeners?.(retiring.map((p) => p.pid), fresh.map((p) => p.pid)) ?? 0) : 0;
  for (const p of core.state.processes.values()) {
    if (p.kind !== "worker" || p.generation === generation) continue;
    if (p.role === "current") {
      p.role = "old";
      const sig = hard ? SIGTERM : g.stopSignal;
      // stopSentAt is set when the signal goes: an old worker without one is still to be
      // told (resume() tells it when a re-exec came first); gone or stopped meanwhile: nothing
      const send = () => {
        if (core.state.processes.get(p.pid) !== p || p.stopSentAt !== undefined) return;
        core.ports.kill(p.pid, sig);
        p.stopSentAt = core.ports.now();
        core.log.notice(`Old worker ${p.id} (${p.pid}) of generation ${p.generation} sent ${signalName(sig)}`);
      };
      if (settle > 0) {
        p.stopDueAt = now + settle;
        core.ports.after(settle, send);
      } else send();
      signalled.push(p.pid);
    } else if (p.role === "old" && p.termSentAt === undefined && generation - p.generation > g.maxReloads) {
      core.ports.kill(p.pid, SIGTERM);
      p.termSentAt = now;
      core.log.warn(`Old worker ${p.id} (${p.pid}) survived ${generation - p.generation} reloads (max-reloads = ${g.maxReloads}): sent SIGTERM`);
    }
  }
  if (signalled.length > 0 && g.hardStopAfter > 0) core.ports.after(g.hardStopAfter, () => hardKill(core, signalled));
  if (workers(core.state, "old").length === 0) core.hooks.oldGone?.();
}

/**
 * Programs after a successful reload: `start-on-reload = true` ones are stopped (SIGTERM)
 * and started again from the new configuration; `false` ones keep running untouched;
 * removed ones are stopped; new ones are started.
 */
function reloadPrograms(core: SupervisorCore): void {
  const running = [...core.state.processes.values()].filter((p) => p.kind === "program" && p.role === "current");
  const now = core.ports.now();
  const stop = (p: ProcessEntry, why: string) => {
    p.role = "old";
    p.stopSentAt = now;
    core.ports.kill(p.pid, SIGTERM);
    core.log.notice(`Program '${p.name}' (${p.pid}) sent SIGTERM (${why})`);
  };
  for (const p of running) if (!core.config.program.some((c) => c.name === p.name)) stop(p, "no longer configured");
  for (const program of core.config.program) {
    const current = running.filter((p) => p.name === program.name);
    if (current.length > 0 && !program.startOnReload) continue;
    for (const p of current) stop(p, "start-on-reload");
    const r = core.restarts.get(`program:${program.name}`);
    r?.timer?.cancel();
    core.restarts.delete(`program:${program.name}`);
    spawnProgram(core, program, core.programPlan);
  }
}

/**
 * Starts the workers of the next generation (nextGeneration) without gating them: the image that calls
 * this execs at once, and the next one gates them (`reload` with `adopt`). Returns the
 * generation, or undefined (and nothing left running) when a worker could not be started.
 */
export function spawnEarly(core: SupervisorCore, config: Config, plan: WorkerPlanner): number | undefined {
  if (core.state.phase !== "running" || core.load) return undefined;
  const generation = nextGeneration(core.state);
  // a batch rollout starts only its first batch early, so the +N bound holds across the exec
  for (let id = 1; id <= batchSize(config.global.rollout, config.global.workers); id++) {
    if (spawnWorker(core, id, generation, "loading", plan) === undefined) {
      abandonEarly(core, generation);
      return undefined;
    }
  }
  return generation;
}

/** Workers started by spawnEarly that will not be gated: killed, as a failed load's are. */
export function abandonEarly(core: SupervisorCore, generation: number): void {
  core.earlyExit = undefined;
  for (const p of loadingOf(core, generation)) {
    p.role = "failed";
    killGroupThenPid(core.kill, p.pid);
  }
}

/**
 * Continues supervision in a new image: the restored processes keep their roles; old
 * workers already told to stop keep their hard-stop deadline.
 */
export function resume(core: SupervisorCore): void {
  core.state.phase = "running";
  core.memory.start();
  const hard = core.config.global.hardStopAfter;
  for (const p of core.state.processes.values()) {
    if (p.role === "failed") {
      core.ports.kill(p.pid, SIGKILL);
    } else if (p.role === "old" && p.kind === "worker" && p.stopSentAt === undefined) {
      // retired just before the exec, its stop signal waiting for the listeners to settle
      core.ports.after(Math.max(0, (p.stopDueAt ?? 0) - core.ports.now()), () => {
        if (core.state.processes.get(p.pid) === p && p.stopSentAt === undefined) softStop(core, p, core.config.global.stopSignal, hard);
      });
    } else if ((p.role === "old" || p.failure !== undefined) && p.stopSentAt !== undefined && hard > 0) {
      // old workers, and current ones failWorker stopped
      core.ports.after(Math.max(0, p.stopSentAt + hard - core.ports.now()), () => hardKill(core, [p.pid]));
    } else if (p.role === "current" && p.kind === "worker" && p.ready) {
      // this image's watchdog and health checks start afresh (timers do not cross the exec)
      core.health.attach(p.pid, core.plan.health);
      monitor(core, p);
    } else if (p.role === "current" && p.kind === "worker" && !p.ready) {
      watchReady(core, p.pid, core.config); // restarted or replaced just before the exec
    }
  }
  core.memory.resumeRecycle();
}
