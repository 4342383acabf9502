/**
 * `accepting` readiness, observed from outside through /proc with no cooperation from
 * the worker: it is ready once one of its epoll sets holds one of its inherited
 * listeners, or one of its threads is blocked in accept/accept4 on one. A worker that
 * bound some other address never passes this check.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** accept and accept4 syscall numbers per architecture */
const ACCEPT_SYSCALLS: Record<string, number[]> = {
  x64: [43, 288],
  arm64: [202, 242],
};

function readdir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readlink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Lines of an epoll fdinfo look like `tfd:        3 events:       19 data: ... ino:3039 sdev:8`; ino is hex. */
export function epollWatchesInode(fdinfo: string, inodes: ReadonlySet<string>): boolean {
  for (const m of fdinfo.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) {
    if (inodes.has(BigInt(`0x${m[1]}`).toString())) return true;
  }
  return false;
}

/** `/proc/PID/task/TID/syscall` is `NR arg0 arg1 ...` while blocked in a syscall. */
export function blockedAcceptFd(syscallLine: string, arch: string): number | undefined {
  const [nr, arg0] = syscallLine.trim().split(/\s+/);
  if (nr === undefined || arg0 === undefined) return undefined;
  if (!(ACCEPT_SYSCALLS[arch] ?? []).includes(Number(nr))) return undefined;
  return Number(BigInt(arg0));
}

export function isAccepting(pid: number, listenerInodes: ReadonlySet<string>, arch: string): boolean {
  const fdDir = `/proc/${pid}/fd`;
  const listenerFds = new Set<number>();
  const epollFds: string[] = [];
  for (const fd of readdir(fdDir)) {
    const target = readlink(`${fdDir}/${fd}`);
    if (!target) continue;
    if (target === "anon_inode:[eventpoll]") epollFds.push(fd);
    else {
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && listenerInodes.has(m[1]!)) listenerFds.add(Number(fd));
    }
  }
  if (listenerFds.size === 0) return false;
  for (const fd of epollFds) {
    if (epollWatchesInode(read(`/proc/${pid}/fdinfo/${fd}`), listenerInodes)) return true;
  }
  for (const tid of readdir(`/proc/${pid}/task`)) {
    const fd = blockedAcceptFd(read(`/proc/${pid}/task/${tid}/syscall`), arch);
    if (fd !== undefined && listenerFds.has(fd)) return true;
  }
  return false;
}
