/**
 * A load (the first, or a reload, good or failed) is over: once the master has been quiet
 * for a second, it gives back what start-up left behind: the runtime's garbage and the
 * executable's pages it read (sys/mappings.ts).
 */
import type { Logger } from "../log.ts";
import { dropCleanFilePages } from "../sys/mappings.ts";
import type { Posix } from "../sys/posix.ts";
import type { MasterOs, Timer } from "./os.ts";

export class Settler {
  private timer: Timer | undefined;

  constructor(
    private readonly os: MasterOs,
    private readonly px: Posix,
    private readonly log: Logger,
    /** Runtime.compact: frees the runtime's garbage and once-run compiled code */
    private readonly compact: (() => void) | undefined,
    /** nothing is loading or reloading, and the master is not stopping */
    private readonly quiet: () => boolean,
  ) {}

  soon(): void {
    this.timer?.cancel();
    this.timer = this.os.after(1000, () => {
      this.timer = undefined;
      if (!this.quiet()) return;
      this.compact?.();
      try {
        const smaps = this.os.readProc("/proc/self/smaps");
        if (smaps === undefined) throw new Error("cannot read /proc/self/smaps");
        const kib = dropCleanFilePages(this.px.fn, smaps);
        this.log.debug(`Gave back ${(kib / 1024).toFixed(1)} MiB of start-up pages of the executable`);
      } catch (e) {
        this.log.debug(`Could not give back start-up pages: ${(e as Error).message}`);
      }
    });
  }
}
