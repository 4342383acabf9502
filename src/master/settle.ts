/**
 * A load (the first, or a reload, good or failed) is over: once the master has been quiet
 * for a second, it gives back what start-up left behind: the runtime's garbage and the
 * executable's pages it read (sys/mappings.ts: code and constants; sys/module-graph-pages.ts:
 * the embedded module graph).
 */
import type { Logger } from "../log.ts";
import { dropCleanFilePages } from "../sys/mappings.ts";
import { dropModuleGraphPages } from "../sys/module-graph-pages.ts";
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
      const t0 = performance.now();
      this.compact?.();
      try {
        const smaps = this.os.readProc("/proc/self/smaps");
        if (smaps === undefined) throw new Error("cannot read /proc/self/smaps");
        // the module graph first: what runs after the code's pages are gone maps them back
        const graphKiB = dropModuleGraphPages(this.px.fn, smaps);
        const kib = graphKiB + dropCleanFilePages(this.px.fn, smaps);
        const ms = performance.now() - t0;
        const mib = (k: number) => (k / 1024).toFixed(1);
        this.log.debug(`Gave back ${mib(kib)} MiB of start-up pages of the executable (${mib(graphKiB)} MiB of its module graph) in ${ms.toFixed(1)} ms`);
      } catch (e) {
        this.log.debug(`Could not give back start-up pages: ${(e as Error).message}`);
      }
    });
  }
}
