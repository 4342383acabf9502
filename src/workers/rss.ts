/**
 * Resident memory of a worker's process tree, for `max-rss` and `old-rss-budget`
 * (REFERENCE §5.9). A pre-fork server's master (gunicorn, nginx) is small and its children
 * hold the memory, so a worker's size is the sum over the worker and its descendants.
 * Pages shared between them (fork's copy-on-write) are counted once per process, as
 * VmRSS counts them: an over-estimate for pre-fork servers, never an under-estimate.
 *
 * Cost (bench/rss-sampling.mjs): one read of /proc/PID/statm per process of the tree. The
 * tree itself (a read of every thread's children list, most of the cost) is looked up
 * again only every `TREE_REFRESH_MS`, or at once when one of its members is gone: a child
 * started since is counted from the next lookup on. No process is spawned.
 */
import { readFileSync } from "node:fs";
import { processTree, procfs, type ProcSource, type ProcTree } from "./proctree.ts";

const TREE_REFRESH_MS = 10_000;

/** VmRSS in bytes from /proc/PID/status text; undefined for a process without memory (zombie, gone). */
export function parseVmRss(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Resident pages (the 2nd field) of /proc/PID/statm; undefined when unreadable or 0 (zombie, kernel thread). */
export function parseStatmResident(statm: string): number | undefined {
  const pages = Number(statm.split(" ")[1]);
  return Number.isInteger(pages) && pages > 0 ? pages : undefined;
}

/** AT_PAGESZ from /proc/self/auxv (pairs of 64-bit little-endian words: x64 and arm64); 4096 if unreadable. */
export function pageSizeFrom(auxv: Uint8Array): number {
  const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
  for (let at = 0; at + 16 <= auxv.byteLength; at += 16) {
    const type = Number(view.getBigUint64(at, true));
    if (type === 0) break;
    if (type === 6) return Number(view.getBigUint64(at + 8, true));
  }
  return 4096;
}

let pageSize: number | undefined;
function systemPageSize(): number {
  if (pageSize === undefined) {
    try {
      pageSize = pageSizeFrom(readFileSync("/proc/self/auxv"));
    } catch {
      pageSize = 4096;
    }
  }
  return pageSize;
}

export class TreeRss {
  /** worker PID → its descendants when last looked up */
  private readonly trees = new Map<number, { members: number[]; at: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly tree: ProcTree = processTree,
    private readonly src: ProcSource = procfs,
    private readonly pageBytes: () => number = systemPageSize,
  ) {}

  private resident(pid: number): number | undefined {
    const pages = parseStatmResident(this.src.read(`/proc/${pid}/statm`));
    return pages === undefined ? undefined : pages * this.pageBytes();
  }

  /** Bytes resident in `pid` and its descendants; undefined when `pid` itself is gone. */
  of(pid: number): number | undefined {
    const own = this.resident(pid);
    if (own === undefined) {
      this.trees.delete(pid);
      return undefined;
    }
    const now = this.now();
    let known = this.trees.get(pid);
    if (!known || now - known.at >= TREE_REFRESH_MS) {
      known = { members: this.tree.descendantsOf(pid), at: now };
      this.trees.set(pid, known);
    }
    let total = own;
    let gone = false;
    for (const child of known.members) {
      const rss = this.resident(child);
      if (rss === undefined) gone = true;
      else total += rss;
    }
    if (gone) known.at = -Infinity; // look the tree up again next time
    return total;
  }

  /** A worker exited: its tree is forgotten. */
  forget(pid: number): void {
    this.trees.delete(pid);
  }
}
