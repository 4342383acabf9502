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

/** quiet before a settle after a load (the first, or a reload) */
const AFTER_LOAD_MS = 1000;
/**
 * quiet before a settle after master CLI use: a client asking more often than this (a
 * health check polling `steward status`) keeps the pages its commands need, rather than
 * paying for a garbage collection and for mapping them again at every command.
 */
const AFTER_USE_MS = 5000;

export class Settler {
  private timer: Timer | undefined;
  /** the pending settle was asked for by master CLI use, not by a load */
  private forUse = false;

  constructor(
    private readonly os: MasterOs,
    private readonly px: Posix,
    private readonly log: Logger,
    /** Runtime.compact: frees the runtime's garbage and once-run compiled code */
    private readonly compact: (() => void) | undefined,
    /** nothing is loading or reloading, and the master is not stopping */
    private readonly quiet: () => boolean,
  ) {}

  /** A load is over: settle once the master has been quiet for a second. */
  soon(): void {
    this.arm(AFTER_LOAD_MS, false);
  }

  /**
   * The master CLI ran a command (its code and heap grow back with use): settle once the
   * CLI has been quiet for a while. A load's settle already pending is not postponed.
   */
  used(): void {
    if (this.timer && !this.forUse) return;
    this.arm(AFTER_USE_MS, true);
  }

  private arm(ms: number, forUse: boolean): void {
    this.timer?.cancel();
    this.forUse = forUse;
    this.timer = this.os.after(ms, () => {
      this.timer = undefined;
      if (!this.quiet()) return;
      this.settle();
    });
  }

  private settle(): void {
    const t0 = performance.now();
    this.compact?.();
    try {
      const smaps = this.os.readProc("/proc/self/smaps");
      if (smaps === undefined) throw new Error("cannot read /proc/self/smaps");
      // the module graph first: what runs after the code's pages are gone maps them back
      let graphKiB = 0;
      try {
        graphKiB = dropModuleGraphPages(this.px.fn, smaps);
      } catch (e) {
        this.log.debug(`Could not give back the module graph's pages: ${(e as Error).message}`);
      }
      const kib = graphKiB + dropCleanFilePages(this.px.fn, smaps);
      const ms = performance.now() - t0;
      const mib = (k: number) => (k / 1024).toFixed(1);
      this.log.debug(`Gave back ${mib(kib)} MiB of start-up pages of the executable (${mib(graphKiB)} MiB of its module graph) in ${ms.toFixed(1)} ms`);
    } catch (e) {
      this.log.debug(`Could not give back start-up pages: ${(e as Error).message}`);
    }
  }
}
