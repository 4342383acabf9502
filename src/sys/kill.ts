import { SIGKILL } from "./constants.ts";

/**
 * SIGKILL a child's whole process group, then the child itself. steward starts every
 * worker, program and preflight child as the leader of its own session and group, so the
 * group holds whatever it forked; the PID is signalled as well because the group may not
 * exist yet (a child between spawn and setsid) or any more (its leader left it).
 */
export function killGroupThenPid(kill: (target: number, signal: number) => unknown, pid: number): void {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}
