/**
 * A fake system for unit tests of the supervisor: a manual clock, timers that fire when
 * the test advances time, and processes that exist only as records. No process, socket
 * or signal is real here.
 */
import type { SupervisorPorts, Timer } from "../../src/master/supervisor.ts";
import type { WaitStatus } from "../../src/sys/posix.ts";
import type { ChildSpec } from "../../src/workers/plan.ts";

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export interface FakeProcess {
  pid: number;
  spec: ChildSpec;
  alive: boolean;
  accepting: boolean;
  signals: number[];
}

export class FakeSystem implements SupervisorPorts {
  clock = 1_000_000;
  private seq = 0;
  private nextPid = 1000;
  private timers: FakeTimer[] = [];
  readonly processes = new Map<number, FakeProcess>();
  exitCode: number | undefined;
  /** make the next spawns fail with this message */
  failSpawn: string | undefined;
  /** processes that die on these signals (default: all but 0) */
  ignoring = new Set<number>();
  /** called when a fake process is signalled to death; the test feeds it to the supervisor */
  onDeath: (ws: WaitStatus) => void = () => {};
  /** resident bytes of each fake process's tree (the RSS port); absent: 0 */
  readonly rss = new Map<number, number>();
  /** the most fake processes alive at once (counted at each spawn) */
  peakAlive = 0;
  /** how many times the RSS port was read */
  rssReads = 0;

  now(): number {
    return this.clock;
  }

  after(ms: number, fn: () => void): Timer {
    const t: FakeTimer = { at: this.clock + ms, seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => (t.cancelled = true) };
  }

  spawn(spec: ChildSpec): number {
    if (this.failSpawn) throw new Error(this.failSpawn);
    const pid = this.nextPid++;
    this.processes.set(pid, { pid, spec, alive: true, accepting: false, signals: [] });
    this.peakAlive = Math.max(this.peakAlive, this.alive().length);
    return pid;
  }

  rssOf(pid: number): number | undefined {
    this.rssReads++;
    return this.processes.get(pid)?.alive ? (this.rss.get(pid) ?? 0) : undefined;
  }

  /** The process exits by itself with `code`; the exit goes to onDeath in a microtask, as a reaped status would. */
  exitProcess(pid: number, code = 0): void {
    const p = this.processes.get(pid);
    if (!p || !p.alive) return;
    p.alive = false;
    queueMicrotask(() => this.onDeath({ pid, exited: true, code }));
  }

  kill(target: number, signal: number): boolean {
    const p = this.processes.get(Math.abs(target));
    if (!p || !p.alive) return false;
    if (target < 0) return true; // group signals are recorded on the leader only once
    p.signals.push(signal);
    if (signal !== 0 && !this.ignoring.has(signal)) {
      p.alive = false;
      queueMicrotask(() => this.onDeath({ pid: p.pid, exited: false, signal }));
    }
    return true;
  }

  isAccepting(pid: number): boolean {
    return this.processes.get(pid)?.accepting ?? false;
  }

  /** PID → parent PID of processes below the fake children (set by tests) */
  readonly parents = new Map<number, number>();

  parentOf(pid: number): number | undefined {
    return this.parents.get(pid);
  }

  exit(code: number): void {
    this.exitCode = code;
  }

  alive(): FakeProcess[] {
    return [...this.processes.values()].filter((p) => p.alive);
  }

  /** An exec: the old image's timers are gone with it. */
  dropTimers(): void {
    this.timers = [];
  }

  /** Advances the clock, firing due timers in order. */
  advance(ms: number): void {
    const end = this.clock + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.clock = Math.max(this.clock, due.at);
      due.cancelled = true;
      due.fn();
    }
    this.clock = end;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }
}
