/**
 * The master's signals across a reload's execve. Like HAProxy, which blocks its signals
 * before execvp and unblocks them once the new worker is ready or failed, the old image
 * holds them from just before the state is written: what arrives from then on waits,
 * pending, on the JS thread through execve (sys/signal-park.ts), and the new image takes
 * it once its handlers exist (signal-router.ts, MasterHost.installSignals).
 *
 * A signal the runtime's native handler caught before the hold has not necessarily
 * reached JavaScript yet (both runtimes queue it for the event loop; a reload's in-process
 * preflight may never have let the loop turn), and execve would discard it. hold()
 * therefore returns only once the runtime has delivered all of it: it sends itself a
 * marker signal that takes the same path and waits for it (Bun queues signals in order),
 * then one more turn of the loop. The reload goes on only if no stop signal was delivered
 * meanwhile and none is waiting.
 */
import type { Runtime } from "../runtime/types.ts";
import type { MasterOs } from "./os.ts";
import type { Posix } from "../sys/posix.ts";
import { SignalPark } from "../sys/signal-park.ts";
import { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH } from "../sys/constants.ts";

/** blocked across execve, unblocked by the new image once its handlers exist (MasterHost.installSignals) */
export const HELD_SIGNALS = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGTTIN, SIGTTOU];
/**
 * ignored across execve: their default action would end or stop the master, and the new
 * image does not hook them on its first line (main.ts hooks the stop and reload signals,
 * which therefore wait, pending, for it)
 */
export const IGNORED_DURING_EXEC = [SIGQUIT, SIGTTIN, SIGTTOU];
/** a reload gives way to these when one waits at the exec */
export const STOP_SIGNALS = [SIGTERM, SIGINT, SIGUSR1];

/** how long the marker may take (the loop is busy with nothing else at this point) */
const MARKER_WAIT_MS = 250;

export class ExecSignals {
  private readonly park: SignalPark;
  private markerSeen?: () => void;
  private listening = false;

  constructor(
    private readonly runtime: Pick<Runtime, "onSignal">,
    px: Posix,
    private readonly os: Pick<MasterOs, "pid" | "arch" | "after" | "kill">,
  ) {
    this.park = new SignalPark(px, os.arch);
  }

  /** Holds `signals` for the next image; resolves once what the runtime caught before has reached its handlers. */
  async hold(signals: readonly number[]): Promise<void> {
    this.park.park(signals);
    await this.drain();
  }

  /** Those of `stops` waiting since hold(): the reload must give way to them. */
  waiting(stops: readonly number[]): number[] {
    return this.park.pending(stops);
  }

  /** The exec will not happen: the signals flow again (what waits is delivered now). */
  release(signals: readonly number[]): void {
    this.park.release(signals);
  }

  private async drain(): Promise<void> {
    if (!this.listening) {
      // SIGWINCH: ignored by default, so a stray one (a terminal resized) is harmless
      this.runtime.onSignal("SIGWINCH", () => this.markerSeen?.());
      this.listening = true;
    }
    await new Promise<void>((resolve) => {
      const timer = this.os.after(MARKER_WAIT_MS, done);
      function done() {
        timer.cancel();
        resolve();
      }
      this.markerSeen = done;
      this.os.kill(this.os.pid, SIGWINCH);
    });
    this.markerSeen = undefined;
    await new Promise<void>((resolve) => this.os.after(0, resolve));
  }
}
