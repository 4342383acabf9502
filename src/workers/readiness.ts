/**
 * `accepting` readiness, observed from outside through /proc with no cooperation from
 * the worker (REFERENCE §5.2): a worker is ready once it or one of its descendants waits to
 * accept on one of the master's listeners:
 * - one of its epoll sets holds the listener (`/proc/PID/fdinfo/FD`, `tfd: ... ino:`), or
 * - one of its threads is blocked (`/proc/PID/task/TID/syscall`) in accept/accept4 on a
 *   descriptor that is the listener, or in select/pselect6 (the read set, read from
 *   `/proc/PID/mem`) or poll/ppoll (the pollfd array, from `/proc/PID/mem`, POLLIN) with
 *   the listener among its descriptors.
 * Descriptors are matched by socket inode (`/proc/PID/fd/N` → `socket:[INODE]`), so a
 * descendant that dup()ed the listener (uvicorn --fd) counts, and one that bound some
 * other address never does.
 */
import { processTree, type ProcTree, procfs, type ProcSource } from "./proctree.ts";

interface SyscallTable {
  accept: number[];
  /** (nfds, readfds*, ...) */
  select: number[];
  /** (pollfd*, nfds, ...) */
  poll: number[];
}

/** Syscall numbers per architecture (arm64 has only the p* variants of select and poll). */
const SYSCALLS: Record<string, SyscallTable> = {
  x64: { accept: [43, 288], select: [23, 270], poll: [7, 271] },
  arm64: { accept: [202, 242], select: [72], poll: [73] },
};

/** FD_SETSIZE; a larger nfds is still read only this far */
const MAX_SELECT_FDS = 1024;
/** pollfd arrays longer than this are read only this far */
const MAX_POLL_FDS = 4096;
const POLLIN = 1;

/** Lines of an epoll fdinfo look like `tfd:        3 events:       19 data: ... ino:3039 sdev:8`; ino is hex. */
export function epollWatchesInode(fdinfo: string, inodes: ReadonlySet<string>): boolean {
  for (const m of fdinfo.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) {
    if (inodes.has(BigInt(`0x${m[1]}`).toString())) return true;
  }
  return false;
}

export type BlockedWait =
  | { kind: "accept"; fd: number }
  | { kind: "select"; nfds: number; readfds: number }
  | { kind: "poll"; fds: number; nfds: number };

/** `/proc/PID/task/TID/syscall` is `NR arg0 arg1 ...` while blocked in a syscall, `running` otherwise. */
export function blockedWait(syscallLine: string, arch: string): BlockedWait | undefined {
  const [nr, a0, a1] = syscallLine.trim().split(/\s+/);
  const table = SYSCALLS[arch];
  if (!table || nr === undefined || a0 === undefined || a1 === undefined || !/^\d+$/.test(nr)) return undefined;
  const n = Number(nr);
  const arg = (x: string) => Number(BigInt(x));
  if (table.accept.includes(n)) return { kind: "accept", fd: arg(a0) };
  if (table.select.includes(n)) return { kind: "select", nfds: arg(a0), readfds: arg(a1) };
  if (table.poll.includes(n)) return { kind: "poll", fds: arg(a0), nfds: arg(a1) };
  return undefined;
}

/** The blocked accept's descriptor (kept for callers of the first edition). */
export function blockedAcceptFd(syscallLine: string, arch: string): number | undefined {
  const w = blockedWait(syscallLine, arch);
  return w?.kind === "accept" ? w.fd : undefined;
}

/** Whether an fd_set (a little-endian bitmap, as Linux lays it out) has one of `fds` below nfds. */
export function fdSetHas(set: Uint8Array, nfds: number, fds: ReadonlySet<number>): boolean {
  for (const fd of fds) {
    if (fd < nfds && fd >> 3 < set.length && (set[fd >> 3]! >> (fd & 7)) & 1) return true;
  }
  return false;
}

/** Whether a `struct pollfd[]` (int fd; short events; short revents) asks POLLIN of one of `fds`. */
export function pollfdsHave(array: Uint8Array, fds: ReadonlySet<number>): boolean {
  const view = new DataView(array.buffer, array.byteOffset, array.byteLength);
  for (let off = 0; off + 8 <= array.length; off += 8) {
    if (fds.has(view.getInt32(off, true)) && view.getInt16(off + 4, true) & POLLIN) return true;
  }
  return false;
}

function waitsOnListener(src: ProcSource, pid: number, w: BlockedWait, listenerFds: ReadonlySet<number>): boolean {
  switch (w.kind) {
    case "accept":
      return listenerFds.has(w.fd);
    case "select": {
      const nfds = Math.min(w.nfds, MAX_SELECT_FDS);
      if (w.readfds === 0 || ![...listenerFds].some((fd) => fd < nfds)) return false;
      const set = src.readMem(pid, w.readfds, Math.ceil(nfds / 64) * 8);
      return set !== undefined && fdSetHas(set, nfds, listenerFds);
    }
    case "poll": {
      const nfds = Math.min(w.nfds, MAX_POLL_FDS);
      if (w.fds === 0 || nfds === 0) return false;
      const array = src.readMem(pid, w.fds, nfds * 8);
      return array !== undefined && pollfdsHave(array, listenerFds);
    }
  }
}

/**
 * One process (not its descendants): is it waiting to accept on one of the listeners?
 * It stops at the first proof: an epoll set is read as soon as it and a descriptor of a
 * listener are both found, so the scan ends at the set that holds the listener (a Node
 * worker: the listener at 3, its loop's set at 14 of ~19 descriptors) and no thread's
 * syscall is read; the answer is the same as after the whole scan.
 */
export function processAccepting(src: ProcSource, pid: number, listenerInodes: ReadonlySet<string>, arch: string): boolean {
  const fdDir = `/proc/${pid}/fd`;
  const listenerFds = new Set<number>();
  /** epoll descriptors seen before any listener's, read once one is found */
  const epollFds: string[] = [];
  const epollHolds = (fd: string) => epollWatchesInode(src.read(`/proc/${pid}/fdinfo/${fd}`), listenerInodes);
  for (const fd of src.readdir(fdDir)) {
    const target = src.readlink(`${fdDir}/${fd}`);
    if (!target) continue;
    if (target === "anon_inode:[eventpoll]") {
      // An epoll set may hold a listener whose descriptor was since closed, but a process
      // that holds none of the listeners is not accepting on them.
      if (listenerFds.size === 0) epollFds.push(fd);
      else if (epollHolds(fd)) return true;
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (!m || !listenerInodes.has(m[1]!)) continue;
    listenerFds.add(Number(fd));
    if (listenerFds.size === 1 && epollFds.some(epollHolds)) return true;
  }
  if (listenerFds.size === 0) return false;
  for (const tid of src.readdir(`/proc/${pid}/task`)) {
    const w = blockedWait(src.read(`/proc/${pid}/task/${tid}/syscall`), arch);
    if (w && waitsOnListener(src, pid, w, listenerFds)) return true;
  }
  return false;
}

/** The worker `pid` or one of its descendants is accepting on one of the listeners. */
export function isAccepting(
  pid: number,
  listenerInodes: ReadonlySet<string>,
  arch: string,
  tree: ProcTree = processTree,
  src: ProcSource = procfs,
): boolean {
  if (processAccepting(src, pid, listenerInodes, arch)) return true;
  return tree.descendantsOf(pid).some((d) => processAccepting(src, d, listenerInodes, arch));
}
