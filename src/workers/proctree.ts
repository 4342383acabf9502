/**
 * A worker's process tree, read from /proc. Pre-fork servers (gunicorn, HAProxy -W,
 * nginx) accept in children of the process steward started, so readiness and `show proc`
 * attribute every descendant to its worker.
 *
 * Children come from /proc/PID/task/TID/children where the kernel has it
 * (CONFIG_PROC_CHILDREN); otherwise from one scan of /proc/[0-9]*\/stat, shared by every
 * lookup made in the same turn of the event loop (a readiness poll checks all waiting
 * workers from one snapshot).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";

/** What is read under /proc; tests give a snapshot instead. */
export interface ProcSource {
  readdir(path: string): string[];
  readlink(path: string): string | undefined;
  read(path: string): string;
  /** `len` bytes of process `pid`'s memory at `addr`, or undefined when not permitted */
  readMem(pid: number, addr: number, len: number): Uint8Array | undefined;
  /** whether /proc/PID/task/TID/children exists on this kernel */
  hasChildrenFiles(): boolean;
}

let childrenFiles: boolean | undefined;

export const procfs: ProcSource = {
  readdir(path) {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
  readlink(path) {
    try {
      return readlinkSync(path);
    } catch {
      return undefined;
    }
  },
  read(path) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  },
  readMem(pid, addr, len) {
    // /proc/PID/mem needs ptrace access: the master is an ancestor of (or root over) every
    // process it asks about. Addresses are below 2^48, exact as numbers.
    let fd: number | undefined;
    try {
      fd = openSync(`/proc/${pid}/mem`, "r");
      const buf = new Uint8Array(len);
      const n = readSync(fd, buf, 0, len, addr);
      return n === len ? buf : undefined;
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  },
  hasChildrenFiles() {
    childrenFiles ??= existsSync("/proc/thread-self/children");
    return childrenFiles;
  },
};

/** `PID (comm) S PPID PGRP ...`: comm may hold spaces and parentheses, so split after the last `)`. */
export function parseStatPpid(stat: string): number | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const ppid = Number(stat.slice(close + 2).split(" ")[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** PPID → child PIDs, from every process's stat. */
export function scanParents(src: ProcSource): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const name of src.readdir("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const ppid = parseStatPpid(src.read(`/proc/${pid}/stat`));
    if (ppid === undefined) continue;
    const list = byParent.get(ppid);
    if (list) list.push(pid);
    else byParent.set(ppid, [pid]);
  }
  return byParent;
}

export class ProcTree {
  private snapshot?: Map<number, number[]>;

  constructor(private readonly src: ProcSource = procfs) {}

  /** Direct children of `pid` (every thread's children). */
  childrenOf(pid: number): number[] {
    if (this.src.hasChildrenFiles()) {
      const out: number[] = [];
      for (const tid of this.src.readdir(`/proc/${pid}/task`)) {
        for (const word of this.src.read(`/proc/${pid}/task/${tid}/children`).split(" ")) {
          if (word.trim()) out.push(Number(word));
        }
      }
      return out;
    }
    if (!this.snapshot) {
      this.snapshot = scanParents(this.src);
      // one scan per turn of the event loop: every lookup made by the same poll shares it
      queueMicrotask(() => (this.snapshot = undefined));
    }
    return this.snapshot.get(pid) ?? [];
  }

  /** Every descendant of `pid`, breadth first, without `pid` itself. */
  descendantsOf(pid: number, limit = 4096): number[] {
    const out: number[] = [];
    const seen = new Set([pid]);
    for (let queue = [pid]; queue.length > 0 && out.length < limit; ) {
      const next: number[] = [];
      for (const p of queue) {
        for (const c of this.childrenOf(p)) {
          if (seen.has(c)) continue;
          seen.add(c);
          out.push(c);
          next.push(c);
        }
      }
      queue = next;
    }
    return out;
  }
}

/** The master's tree reader for `show proc` and the RSS limits (the accepting poll has its own over kept files: procfiles.ts). */
export const processTree = new ProcTree();
