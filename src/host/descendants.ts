/**
 * The processes below the master that it did not start. The master is a child subreaper
 * (or PID 1), so what its workers and programs leave behind — a daemon's grandchild after
 * a double fork, the children of a worker that exited — becomes its child. When the
 * master stops, these are stopped too: signalled when it starts to stop (and as more are
 * adopted), SIGKILLed with everything below the master when hard-stop-after expires; the
 * master exits only once it has no child left (supervisor.ts, `StrayPort`).
 *
 * Nothing here runs while the master serves: only a stopping master looks.
 */
import { readdirSync, readFileSync } from "node:fs";

/** One line of /proc/PID/stat, as far as the process tree needs it. */
export interface ProcRecord {
  pid: number;
  ppid: number;
  /** R, S, D, Z, ... (Z: exited, waiting for its parent) */
  state: string;
}

/** Parses /proc/PID/stat (the command name may hold spaces and parentheses). */
export function parseStat(text: string): ProcRecord | undefined {
  const close = text.lastIndexOf(")");
  const open = text.indexOf("(");
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(" ");
  const pid = Number(text.slice(0, open).trim());
  const ppid = Number(fields[1]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid)) return undefined;
  return { pid, ppid, state: fields[0] ?? "" };
}

/** Every descendant of `root` in `records`, parents before children; exited ones (Z) included. */
export function descendantsOf(root: number, records: readonly ProcRecord[]): ProcRecord[] {
  const byParent = new Map<number, ProcRecord[]>();
  for (const r of records) {
    if (r.pid === root) continue;
    const list = byParent.get(r.ppid);
    if (list) list.push(r);
    else byParent.set(r.ppid, [r]);
  }
  const out: ProcRecord[] = [];
  const seen = new Set<number>([root]);
  for (let queue = [root], i = 0; i < queue.length; i++) {
    for (const child of byParent.get(queue[i]!) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/**
 * The children of the master to signal now: alive, not started by it (`known`), and not
 * signalled before (`signalled`).
 */
export function adoptedToSignal(children: readonly ProcRecord[], known: (pid: number) => boolean, signalled: ReadonlySet<number>): number[] {
  return children.filter((c) => c.state !== "Z" && !known(c.pid) && !signalled.has(c.pid)).map((c) => c.pid);
}

// ---- /proc ------------------------------------------------------------------------

function readRecord(pid: number): ProcRecord | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Every process of /proc. */
export function readProcesses(): ProcRecord[] {
  const out: ProcRecord[] = [];
  for (const entry of readdirSync("/proc")) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    const r = readRecord(Number(entry));
    if (r) out.push(r);
  }
  return out;
}

/**
 * The children of `pid`: from each thread's children list (a child is listed under the
 * thread that forked it or adopted it), or from a scan of /proc where the kernel has no
 * such lists (CONFIG_PROC_CHILDREN).
 */
export function readChildren(pid: number): ProcRecord[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const pids = new Set<number>();
  for (const task of tasks) {
    let list: string;
    try {
      list = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8");
    } catch {
      // the leader lives as long as the process: no list there means no lists at all
      if (task === String(pid)) return readProcesses().filter((r) => r.ppid === pid);
      continue; // that thread ended meanwhile
    }
    for (const word of list.split(" ")) if (word.trim() !== "") pids.add(Number(word));
  }
  return [...pids].map(readRecord).filter((r): r is ProcRecord => r !== undefined && r.ppid === pid);
}

/** true when the environment `pid` started with names a steward worker (its descendants keep it). */
export function isWorkerDescendant(pid: number): boolean {
  try {
    return `\0${readFileSync(`/proc/${pid}/environ`, "latin1")}`.includes("\0STEWARD_WORKER_ID=");
  } catch {
    return false;
  }
}

/** The parent of `pid`, from /proc (to attribute notify messages sent by a worker's children); undefined once it is gone. */
export function parentOf(pid: number): number | undefined {
  return readRecord(pid)?.ppid || undefined;
}
