/**
 * The stop: every child gets its stop signal (workers the configured one, programs
 * SIGTERM), adopted processes too as they turn up (strays), SIGKILL to what is left after
 * hard-stop-after, and the master exits once nothing it knows of is alive. Also the stop
 * signals of REFERENCE §5.7 and the end of the service when no worker is left.
 *
 * Invariants:
 * - once stopping, nothing new is started (the load, readiness polls, restart timers,
 *   watchdog and health checks are cancelled here) and the exit code no longer changes;
 * - the master exits (ports.exit) exactly once, and only when no process it started, no
 *   health check and no adopted process is left.
 */
import { signalName } from "../config/signals.ts";
import { SIGTERM } from "../sys/constants.ts";
import type { WaitStatus } from "../sys/posix.ts";
import { exitStatusOf, isNormalExit } from "./policy.ts";
import { workers } from "./state.ts";
import { hardKill, type SupervisorCore } from "./supervisor-core.ts";

/** Stops every child (workers get `workerSignal`, programs SIGTERM) and exits with `code` once all are gone. */
export function stop(core: SupervisorCore, code: number, workerSignal: number): void {
  if (core.state.phase === "stopping") return;
  core.state.phase = "stopping";
  core.exitCode = code;
  core.stopSignal = workerSignal;
  core.hooks.stopping?.();
  core.memory.stop();
  core.probation.masterStopping();
  if (core.load) {
    core.load.deadline.cancel();
    core.load = undefined;
  }
  core.pollTimer?.cancel();
  core.pollTimer = undefined;
  // no round follows: what the poll kept open for the next (workers/procfiles.ts) is closed
  core.ports.acceptingPolled?.(false);
  core.watchdog.stopAll();
  core.health.stopAll();
  for (const r of core.restarts.values()) r.timer?.cancel();
  const now = core.ports.now();
  let count = 0;
  for (const p of core.state.processes.values()) {
    if (p.stopSentAt !== undefined) continue;
    const sig = p.kind === "worker" ? workerSignal : SIGTERM;
    core.ports.kill(p.pid, sig);
    p.stopSentAt = now;
    count++;
  }
  if (count > 0) core.log.notice(`Stopping: sending ${signalName(workerSignal)} to ${count} process(es)`);
  stopStrays(core);
  const hard = core.config.global.hardStopAfter;
  if (hard > 0 && (core.state.processes.size > 0 || core.ports.strays?.left())) {
    core.hardStopTimer = core.ports.after(hard, () => hardStop(core));
  }
  maybeFinish(core);
}

/** The signals of REFERENCE §5.7 (reload signals are handled by the reload controller). */
export function signal(core: SupervisorCore, name: string): void {
  switch (name) {
    case "SIGTERM":
      core.log.notice("SIGTERM received: stopping");
      stop(core, 0, core.config.global.stopSignal);
      break;
    case "SIGINT":
      core.log.notice("SIGINT received: stopping");
      stop(core, 130, core.config.global.stopSignal);
      break;
    case "SIGUSR1":
      core.log.notice("SIGUSR1 received: stopping gracefully");
      stop(core, 0, core.config.global.stopSignal);
      break;
    case "SIGTTIN":
    case "SIGTTOU":
      for (const w of workers(core.state)) core.ports.kill(w.pid, name === "SIGTTIN" ? 21 : 22);
      break;
    default:
      break; // SIGQUIT and others: ignored
  }
}

/** When no worker is left and none is coming, the service is over (HAProxy's master does the same). */
export function checkAllGone(core: SupervisorCore, last?: WaitStatus): void {
  if (core.state.phase !== "running" || core.load) return;
  if (workers(core.state).length > 0) return;
  if ([...core.restarts].some(([key, r]) => key.startsWith("worker:") && r.timer)) return;
  const code = last && !isNormalExit(last) ? exitStatusOf(last) : 0;
  core.log.notice(`All workers exited.`);
  stop(core, code, SIGTERM);
}

/** Adopted processes get a stop signal too (a worker's the worker's own), as they turn up. */
function stopStrays(core: SupervisorCore): void {
  const pids = core.ports.strays?.stop(core.stopSignal) ?? [];
  if (pids.length > 0) core.log.notice(`Stopping ${pids.length} adopted process(es): ${pids.slice(0, 10).join(", ")}${pids.length > 10 ? ", ..." : ""}`);
}

function hardStop(core: SupervisorCore): void {
  hardKill(core, [...core.state.processes.keys()]);
  const pids = core.ports.strays?.kill() ?? [];
  if (pids.length > 0) core.log.warn(`hard-stop-after expired: killed ${pids.length} process(es) below the master`);
}

/** A stopping master exits once the last process it knows of is gone. */
export function maybeFinish(core: SupervisorCore): void {
  if (core.state.phase !== "stopping" || core.finished || core.state.processes.size > 0 || core.health.running > 0) return;
  // the master leaves nothing behind: it waits for the last process it adopted
  if (core.ports.strays?.left()) {
    stopStrays(core);
    return;
  }
  core.finished = true;
  core.hardStopTimer?.cancel();
  core.log.notice(`Exiting master with code ${core.exitCode}.`);
  core.ports.exit(core.exitCode);
}
