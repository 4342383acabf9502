/**
 * sd_notify messages on the master's NOTIFY_SOCKET, attributed to the worker or program
 * that sent them (or whose descendant, or MAINPID= named PID, did): STATUS=, WATCHDOG=1
 * (watchdog.ts), EXTEND_TIMEOUT_USEC= and READY=1 (load.ts).
 *
 * Invariants:
 * - a message from a process that is none of these changes nothing (logged once per sender);
 * - READY=1 counts only under `ready = "notify"` of the configuration the worker runs under
 *   (its load's, its probation's or the current one).
 */
import type { NotifyFields } from "../notify/receiver.ts";
import { configOf, type SupervisorCore } from "./supervisor-core.ts";
import { extendReadyTimeout, markReady } from "./load.ts";

/**
 * A message on NOTIFY_SOCKET from `pid`: a worker or program, one of its descendants, or
 * a PID one of them named with MAINPID= (systemd's NotifyAccess=all). Others are ignored.
 */
export function notified(core: SupervisorCore, pid: number, fields: NotifyFields): void {
  const owner = core.senders.resolve(pid, (q) => core.state.processes.has(q));
  const p = owner === undefined ? undefined : core.state.processes.get(owner);
  if (!p) {
    if (core.senders.firstFromStranger(pid)) core.log.debug(`sd_notify message from process ${pid} ignored: not a worker, a program or one of their descendants`);
    return;
  }
  if (fields.MAINPID !== undefined && !core.senders.name(fields.MAINPID, p.pid)) {
    core.log.debug(`sd_notify MAINPID=${fields.MAINPID} from process ${pid} ignored: not a PID`);
  }
  if (fields.STATUS !== undefined) p.status = fields.STATUS;
  if (p.kind === "worker") core.watchdog.notified(p, fields);
  if (fields.EXTEND_TIMEOUT_USEC !== undefined) extendReadyTimeout(core, p, fields.EXTEND_TIMEOUT_USEC);
  const readyKind = configOf(core, p).global.ready.kind;
  if (fields.READY === "1" && readyKind === "notify") markReady(core, p.pid);
}
