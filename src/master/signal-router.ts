/**
 * One owner for the master's stop and reload signal handlers, able to hook stop signals
 * before the master exists. A new image after a reload's execve starts with them blocked
 * on its JS thread and has no handler until its master is built; Bun's event loop waits
 * with an empty signal mask, so a stop or reload signal pending since the execve would take
 * its default action the first time the loop idled. main.ts hooks them on its first line in
 * a new image; what arrives before open() waits, in order.
 */
import type { Runtime, SignalName } from "../runtime/types.ts";

/** the signals that stop the master (REFERENCE §5.7) */
export const STOP_SIGNALS: readonly SignalName[] = ["SIGTERM", "SIGINT", "SIGUSR1"];

/**
 * What a new image hooks on its first line: the stop signals and the reload signals, all
 * held, pending, through the execve (master/exec-signals.ts). A reload signal that waited
 * there is one more reload (merged into the one in progress, if one is).
 */
export const FIRST_LINE_SIGNALS: readonly SignalName[] = [...STOP_SIGNALS, "SIGHUP", "SIGUSR2"];

/** Signals main.ts hooked before anything loaded (a new image after a reload's execve). */
export interface EarlyHold {
  readonly hooked: readonly SignalName[];
  /** What arrived so far, in order; from now on each arrival goes to `to`. */
  handOver(to: (signal: SignalName) => void): SignalName[];
}

export class SignalRouter {
  private readonly handlers = new Map<SignalName, () => void>();
  private readonly hooked = new Set<SignalName>();
  /** signals delivered before open(), in order; undefined once open */
  private waiting: SignalName[] | undefined = [];

  constructor(
    private readonly runtime: Pick<Runtime, "onSignal">,
    early?: EarlyHold,
  ) {
    if (!early) return;
    for (const s of early.hooked) this.hooked.add(s);
    this.waiting = early.handOver((s) => this.arrived(s));
  }

  /** Hooks `signals` now; those that arrive before open() are kept for it. */
  hold(signals: readonly SignalName[]): void {
    for (const s of signals) this.hook(s);
  }

  /** `handler` takes `signal` from now on (from open(), for what was held). */
  on(signal: SignalName, handler: () => void): void {
    this.handlers.set(signal, handler);
    this.hook(signal);
  }

  /** Delivers what was held, then every signal as it comes. */
  open(): void {
    const held = this.waiting ?? [];
    this.waiting = undefined;
    for (const s of held) this.handlers.get(s)?.();
  }

  private hook(signal: SignalName): void {
    if (this.hooked.has(signal)) return;
    this.hooked.add(signal);
    this.runtime.onSignal(signal, () => this.arrived(signal));
  }

  private arrived(signal: SignalName): void {
    if (this.waiting) this.waiting.push(signal);
    else this.handlers.get(signal)?.();
  }
}
