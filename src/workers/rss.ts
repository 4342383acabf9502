/**
 * Resident memory of a worker's process tree, for `max-rss` and `old-rss-budget`
 * (REFERENCE §3). A pre-fork server's master (gunicorn, nginx) is small and its children
 * hold the memory, so a worker's size is the sum over the worker and its descendants.
 * Pages shared between them (fork's copy-on-write) are counted once per process, as
 * VmRSS counts them: an over-estimate for pre-fork servers, never an under-estimate.
 *
 * Cost: one read of /proc/PID/status per process of the tree, plus the children lookups
 * of proctree.ts; no process is spawned.
 */
import { processTree, procfs, type ProcSource, type ProcTree } from "./proctree.ts";

/** VmRSS in bytes from /proc/PID/status text; undefined for a process without memory (zombie, gone). */
export function parseVmRss(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Bytes resident in `pid` and its descendants; undefined when `pid` itself is gone. */
export function treeRss(pid: number, tree: ProcTree = processTree, src: ProcSource = procfs): number | undefined {
  const own = parseVmRss(src.read(`/proc/${pid}/status`));
  if (own === undefined) return undefined;
  let total = own;
  for (const child of tree.descendantsOf(pid)) total += parseVmRss(src.read(`/proc/${child}/status`)) ?? 0;
  return total;
}
