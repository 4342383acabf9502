/**
 * The master's one reaper: on SIGCHLD every child that ended is collected and its status
 * goes to whoever waits for it — the reload for its preflight (`waitFor`), the supervisor
 * for everything else (a child nobody waits for is one the supervisor knows, or a stray).
 */
import type { WaitStatus } from "../sys/posix.ts";
import type { MasterOs } from "./os.ts";

export interface ReapTarget {
  childExited(ws: WaitStatus): void;
  /** a child it did not start (a preflight) was collected: a stopping master may be done */
  otherChildGone(): void;
}

export class Reaper {
  private readonly waiters = new Map<number, (ws: WaitStatus) => void>();

  constructor(
    private readonly os: Pick<MasterOs, "reapOne">,
    private readonly supervisor: () => ReapTarget,
  ) {}

  /** Resolves with the exit status of a child that is not a worker (preflight). */
  waitFor(pid: number): Promise<WaitStatus> {
    return new Promise((resolve) => this.waiters.set(pid, resolve));
  }

  reapAll(): void {
    for (let ws = this.os.reapOne(); ws; ws = this.os.reapOne()) {
      const waiter = this.waiters.get(ws.pid);
      if (waiter) {
        this.waiters.delete(ws.pid);
        waiter(ws);
        this.supervisor().otherChildGone();
      } else {
        this.supervisor().childExited(ws);
      }
    }
  }
}
