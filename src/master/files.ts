/**
 * The master's small dealings with files and descriptors: log lines, the -D launcher's
 * pipe, /proc lookups (the run directory: rundir.ts; the pidfile: pidfile.ts).
 */
import { readFileSync, writeSync } from "node:fs";
import type { Posix } from "../sys/posix.ts";
import { writeWhole } from "../sys/write-whole.ts";
import { LAUNCHER_FD_VAR } from "./daemon.ts";

export function writeLine(fd: number, line: string): void {
  writeWhole((data, off) => writeSync(fd, data, off), line + "\n", 100);
}

/** With -D: the pipe to the launcher, taken from the environment so that no child inherits it. */
export function takeLauncherFd(px: Posix, env: Record<string, string | undefined>): number | undefined {
  const raw = env[LAUNCHER_FD_VAR];
  if (raw === undefined) return undefined;
  delete env[LAUNCHER_FD_VAR];
  const fd = Number(raw);
  try {
    px.setCloexec(fd, true);
  } catch {
    return undefined;
  }
  px.fn.setsid(); // detached already made a new session where the runtime could; EPERM otherwise
  return fd;
}

export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isFinite(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

