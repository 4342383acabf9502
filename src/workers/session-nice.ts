/**
 * `start-nice` (REFERENCE §4): a worker leads a session of its own, and a kernel that shares
 * the CPU by session (autogroup, sched(7)) gives each session one scheduler group, whose nice
 * value `/proc/PID/autogroup` sets for every process of the session at once: the threads and
 * children the worker starts meanwhile included, nothing outside it, and a new session's
 * group starts at 0, so 0 restores it. Hand-written: one write to a procfs file, which no
 * library wraps.
 */
import { writeFileSync } from "node:fs";

/** Sets the nice value of the scheduler group of `pid`'s session; throws with a one-line reason. */
export function setSessionNice(pid: number, nice: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch (e) {
    throw new Error(sessionNiceProblem((e as { code?: string }).code, (e as Error).message, nice));
  }
}

/** Why the nice value of a session's group could not be set, in one line. */
export function sessionNiceProblem(code: string | undefined, message: string, nice: number): string {
  if (code === "EPERM" || code === "EACCES") return `not permitted (a nice value below 0 needs CAP_SYS_NICE or RLIMIT_NICE of at least ${20 - nice})`;
  if (code === "ENOENT") return "no /proc/PID/autogroup (the process is gone, or the kernel was built without autogroup)";
  return message;
}
