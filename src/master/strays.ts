/**
 * The master's side of descendants.ts: signals and kills the processes it adopted, and
 * tells the supervisor whether any child is left. Used only once the master stops.
 */
import type { StrayPort } from "./supervisor.ts";
import { adoptedToSignal, descendantsOf, isWorkerDescendant, readChildren, readProcesses, type ProcRecord } from "../host/descendants.ts";
import { SIGKILL, SIGTERM } from "../sys/constants.ts";


export interface StrayPorts {
  /** the master's PID */
  self: number;
  /** true for a process the supervisor started (it signals those itself) */
  known(pid: number): boolean;
  kill(pid: number, signal: number): void;
  /** true while the master has any child, exited or not (waitid) */
  hasChildren(): boolean;
  /** the master's children; every process (for the tree below it) */
  children?(pid: number): ProcRecord[];
  processes?(): ProcRecord[];
}

export class Strays implements StrayPort {
  private readonly signalled = new Set<number>();
  private killing = false;

  constructor(private readonly ports: StrayPorts) {}

  stop(workerSignal: number): number[] {
    if (this.killing) return this.kill();
    const children = (this.ports.children ?? readChildren)(this.ports.self);
    const pids = adoptedToSignal(children, this.ports.known, this.signalled);
    for (const pid of pids) {
      this.signalled.add(pid);
      // a worker's descendant gets what the worker gets (its environment says whose it is)
      this.ports.kill(pid, isWorkerDescendant(pid) ? workerSignal : SIGTERM);
    }
    return pids;
  }

  kill(): number[] {
    this.killing = true;
    const all = descendantsOf(this.ports.self, (this.ports.processes ?? readProcesses)()).filter((r) => r.state !== "Z");
    for (const r of all) this.ports.kill(r.pid, SIGKILL);
    return all.map((r) => r.pid);
  }

  left(): boolean {
    return this.ports.hasChildren();
  }
}
