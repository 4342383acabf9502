/**
 * Exits and failures: what an exit status collected by the reaper means for the process
 * it belonged to (by its kind and role), `on-failure` (REFERENCE §5.6: ignore, restart
 * with back-off, exit) for current workers and programs, and a worker failed while it
 * runs (missed watchdog, failed health check).
 *
 * Invariants:
 * - a process leaves `state.processes` only here, when its exit status was reaped;
 * - a loading worker's exit fails its load (or, before the load began, the early
 *   generation's), never the current generation;
 * - a worker on probation is judged by the probation (probation.ts), not by on-failure;
 * - no restart timer fires into a stopping master.
 */
import type { OnFailure } from "../config/types.ts";
import type { LogFields } from "../log-format.ts";
import { signalName } from "../config/signals.ts";
import { formatDuration } from "../config/duration.ts";
import { SIGTERM } from "../sys/constants.ts";
import type { WaitStatus } from "../sys/posix.ts";
import { decideRestart, describeExit, exitStatusOf, isNormalExit } from "./policy.ts";
import { workers, type ProcessEntry } from "./state.ts";
import { configOf, hardKill, spawnProgram, spawnWorker, type SupervisorCore } from "./supervisor-core.ts";
import { failLoad, watchReady } from "./load.ts";
import { checkAllGone, maybeFinish, stop } from "./stop.ts";

/** An exit status collected by the reaper. */
export function childExited(core: SupervisorCore, ws: WaitStatus): void {
  if (core.health.reaped(ws)) {
    maybeFinish(core);
    return;
  }
  const p = core.state.processes.get(ws.pid);
  if (!p) {
    core.log.debug(`Reaped orphaned process ${ws.pid} (${describeExit(ws)})`);
    maybeFinish(core);
    return;
  }
  core.senders.forget(ws.pid);
  core.state.processes.delete(ws.pid);
  core.waitingReady.delete(ws.pid);
  core.watchdog.forget(ws.pid);
  core.health.forget(ws.pid);
  core.hooks.exited?.(p, ws);
  if (p.kind === "program") {
    programExited(core, p, ws);
    maybeFinish(core);
    return;
  }
  const label = `worker ${p.id} (${p.pid})`;
  const exited = { event: "worker-exited", worker: p.id, workerPid: p.pid, generation: p.generation, role: p.role, exit: describeExit(ws) };
  if (core.state.phase === "stopping") {
    const role = p.role === "old" ? "Old" : p.role === "current" ? "Current" : "New";
    core.log.notice(`${role} ${label} ${describeExit(ws)}`, exited);
  } else if (p.role === "loading") {
    // a ready worker is still loading while later batches of its rollout start
    const when = p.ready ? "before its generation's rollout was over" : "before it was ready";
    core.log.alert(`New ${label} ${describeExit(ws)} ${when}`, exited);
    const status = exitStatusOf(ws);
    const reason = `${label} ${describeExit(ws)} ${when}`;
    if (core.load) failLoad(core, reason, status === 0 ? 1 : status);
    else core.earlyExit ??= { reason, status: status === 0 ? 1 : status };
  } else if (p.role === "failed") {
    core.log.debug(`Failed ${label} ${describeExit(ws)}`, exited);
  } else if (p.role === "old") {
    core.log.notice(`Old ${label} ${describeExit(ws)}`, exited);
    if (workers(core.state, "old").length === 0) core.hooks.oldGone?.();
  } else if (p.role === "probation") {
    core.probation.exited(p, ws, describeExit(ws), exited);
  } else if (core.memory.exited(p)) {
    core.log.notice(`Current ${label} ${describeExit(ws)}`, exited);
  } else {
    currentWorkerDied(core, p, ws);
  }
  if (p.role !== "current") core.memory.exited(p);
  core.rollout?.exited(p.pid);
  checkAllGone(core, ws);
  maybeFinish(core);
}

function currentWorkerDied(core: SupervisorCore, p: ProcessEntry, ws: WaitStatus): void {
  const failed = p.failure === undefined ? "" : ` after it ${p.failure}`;
  applyPolicy(core, `worker:${p.id}`, `Current worker ${p.id} (${p.pid}) ${describeExit(ws)}${failed}`, p, ws, core.config.global.onFailure, () => {
    const pid = spawnWorker(core, p.id, p.generation, "current", core.plan);
    if (pid !== undefined) watchReady(core, pid, core.config);
    checkAllGone(core);
  });
}

function programExited(core: SupervisorCore, p: ProcessEntry, ws: WaitStatus): void {
  const label = `Program '${p.name}' (${p.pid}) ${describeExit(ws)}`;
  if (core.state.phase === "stopping" || p.role === "old") {
    core.log.notice(label);
    return;
  }
  const program = core.config.program.find((c) => c.name === p.name);
  if (!program) {
    core.log.notice(label);
    return;
  }
  applyPolicy(core, `program:${p.name}`, label, p, ws, program.onFailure, () => spawnProgram(core, program, core.programPlan));
}

/** REFERENCE §5.6 for one process: log, restart with back-off, or stop the master. */
function applyPolicy(core: SupervisorCore, key: string, label: string, p: ProcessEntry, ws: WaitStatus, policy: OnFailure, respawn: () => void): void {
  if (policy === "ignore") {
    core.log.warn(`${label} (on-failure = ignore)`);
    return;
  }
  if (policy === "restart") {
    const r = core.restarts.get(key) ?? { history: { failures: [], lastDelay: 0 } };
    const decision = decideRestart(r.history, core.ports.now(), core.ports.now() - p.startedAt);
    r.history = decision.history;
    core.restarts.set(key, r);
    if (decision.action === "restart") {
      core.log.warn(`${label}; restarting it in ${formatDuration(decision.delay)} (on-failure = restart)`);
      r.timer = core.ports.after(decision.delay, () => {
        r.timer = undefined;
        if (core.state.phase === "stopping") return;
        core.hooks.restarting?.(p);
        respawn();
      });
      return;
    }
    core.log.alert(`${label}; it failed ${decision.failures} times within 60s: giving up (on-failure = restart)`);
  }
  // a worker steward failed (failWorker) failed, whatever status its stop signal left
  if (isNormalExit(ws) && p.failure === undefined) {
    core.log.notice(label);
    return;
  }
  const status = isNormalExit(ws) ? 1 : exitStatusOf(ws);
  core.log.alert(`${label}: exiting (on-failure = exit) with code ${status}`);
  stop(core, status, SIGTERM);
}

/**
 * A ready worker judged failed while it runs (missed watchdog, failed health check):
 * logged as `event`, sent its stop signal, SIGKILL after hard-stop-after; its exit then
 * goes through on-failure (§5.6) as a failure, whatever its status. False when there is
 * nothing to fail (gone, already told to stop, an old generation's, the master stopping).
 */
export function failWorker(core: SupervisorCore, pid: number, reason: string, event: LogFields = {}): boolean {
  const p = core.state.processes.get(pid);
  if (!p || p.kind !== "worker" || p.stopSentAt !== undefined || p.role === "old" || p.role === "failed") return false;
  if (core.state.phase === "stopping") return false;
  core.watchdog.forget(pid);
  core.health.forget(pid);
  const global = configOf(core, p).global;
  const fields = { worker: p.id, workerPid: pid, ...event };
  if (p.role === "probation") {
    // the probation counts it and may roll the reload back (the rollback then stops it);
    // tolerated, it is stopped here and its exit starts it again (probation.ts)
    core.log.alert(`Worker ${p.id} (${pid}) ${reason} during probation`, fields);
    if (core.probation.failure(p, `worker ${p.id} (${pid}) ${reason}`)) return true;
    core.log.notice(`Worker ${p.id} (${pid}) sent ${signalName(global.stopSignal)}`);
  } else {
    core.log.alert(`Worker ${p.id} (${pid}) ${reason}: sending ${signalName(global.stopSignal)}`, fields);
  }
  p.failure = reason;
  p.stopSentAt = core.ports.now();
  core.ports.kill(pid, global.stopSignal);
  if (global.hardStopAfter > 0) core.ports.after(global.hardStopAfter, () => hardKill(core, [pid]));
  return true;
}
