/**
 * Whether a worker still holds one of the master's listening sockets (issue 9, finding 9):
 * a worker that closed its listener keeps running, but connections wait in the backlog
 * with nobody to take them. Read from /proc when asked (`show proc`), never polled: the
 * worker or one of its descendants has a descriptor whose `socket:[INODE]` is a listener's.
 * Holding is not accepting (readiness.ts tells that apart); it is the cheap check that has
 * no false alarm for a healthy worker, whatever its event loop (epoll, io_uring, threads).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { BoundListener } from "../listeners/registry.ts";
import { isReusePort, reusePortHolds } from "./reuseport.ts";

/** processes looked at per worker at most (a worker with a huge process tree is not walked whole) */
const MAX_PROCESSES = 256;

function entries(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** Children of `pid`, from every thread's `/proc/PID/task/TID/children` (CONFIG_PROC_CHILDREN). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const tid of entries(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8");
    } catch {
      continue;
    }
    for (const word of text.split(" ")) if (word.trim() !== "") found.push(Number(word));
  }
  return found;
}

/** Whether process `pid` has a descriptor on a socket whose inode is in `inodes`; undefined if its table cannot be read. */
function holds(pid: number, inodes: ReadonlySet<string>): boolean | undefined {
  const dir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? false : undefined;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`${dir}/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}

/**
 * True when `pid` or a descendant holds one of the sockets `inodes`; false when none does
 * (or the process is gone); undefined when the worker's own descriptors cannot be read
 * (no false alarm then). The process tree is walked breadth first, bounded.
 */
export function holdsListener(pid: number, inodes: ReadonlySet<string>): boolean | undefined {
  const own = holds(pid, inodes);
  if (own !== false) return own;
  const queue = childrenOf(pid);
  const seen = new Set<number>([pid]);
  while (queue.length > 0 && seen.size < MAX_PROCESSES) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    if (holds(p, inodes) === true) return true;
    queue.push(...childrenOf(p));
  }
  return false;
}

/**
 * Whether `pid` (or a descendant) holds one of `listeners`, read from /proc now; undefined:
 * no listener, or cannot tell. A reuse-port listener counts as held when the worker has
 * its own socket on its address (reuseport.ts).
 */
export function holdsAnyListener(listeners: BoundListener[], pid: number): boolean | undefined {
  const inodes = new Set(listeners.filter((l) => !isReusePort(l)).map((l) => l.inode).filter((inode) => inode !== ""));
  const held = inodes.size === 0 ? undefined : holdsListener(pid, inodes);
  return held === true ? true : (reusePortHolds(listeners, pid) ?? held);
}
