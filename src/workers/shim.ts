/**
 * The exec shim: steward re-invoked as `steward __exec` in a new child. Neither runtime
 * runs code between fork and exec, so what a child needs just before exec happens here:
 * identity drop, parent-death signal, LISTEN_PID (and WATCHDOG_PID) = its own PID, default signal actions and
 * an empty signal mask, and a descriptor table of
 * exactly 0, 1, 2 and the listeners (the runtime this shim runs on marks inherited
 * descriptors close-on-exec at start-up and opens its own, so both are fixed here).
 * A compiled executable that carries the native exec helper (exec-helper.c, native-shim.ts)
 * starts children through that instead: the two take the same steps and print the same lines.
 */
import type { Posix } from "../sys/posix.ts";
import { SysError } from "../sys/errors.ts";
import { EXEC_PLAN_VAR, watchdogPidFor, type ExecPlan } from "./plan.ts";
import { USAGE_EXIT_CODE } from "../exit-codes.ts";

export function runExecShim(px: Posix, env: Record<string, string | undefined>, writeErr: (line: string) => void): number {
  const raw = env[EXEC_PLAN_VAR];
  if (!raw) {
    writeErr(`steward: ${EXEC_PLAN_VAR} is missing: '__exec' is internal to steward`);
    return USAGE_EXIT_CODE;
  }
  const plan = JSON.parse(raw) as ExecPlan;
  try {
    // Identity first: changing credentials clears the parent-death signal.
    if (plan.uid !== undefined || plan.gid !== undefined) px.setIdentity(plan.uid, plan.gid);
    px.setParentDeathSignal(plan.deathSignal);
    // The master may have died before the line above: then nobody would signal us.
    if (px.ppid() !== plan.parent) return 1;
    for (let i = 0; i < plan.listenFds; i++) px.setCloexec(3 + i, false);
    px.cloexecFrom(3 + plan.listenFds);
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== EXEC_PLAN_VAR) childEnv[k] = v;
    Object.assign(childEnv, plan.execEnv);
    childEnv.LISTEN_PID = String(px.pid());
    Object.assign(childEnv, watchdogPidFor(childEnv, px.pid()));
    // what this shim's runtime ignored or blocked for itself is not the program's
    px.defaultSignals();
    px.execve(plan.path, plan.argv, childEnv);
  } catch (e) {
    const reason = e instanceof SysError ? `${e.reason} (${e.code})` : (e as Error).message;
    const what = e instanceof SysError && e.syscall === "execve" ? `cannot execute '${plan.path}'` : `cannot prepare '${plan.path}'`;
    writeErr(`steward: ${plan.label}: ${what}: ${reason}`);
    // the shells' convention: 127 not found, 126 found but not executable
    return e instanceof SysError && e.code === "ENOENT" ? 127 : 126;
  }
}
