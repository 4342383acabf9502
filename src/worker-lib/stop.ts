/**
 * The stop signal, once for the whole worker: every drain registered with `onStop` runs,
 * and the process exits 0 when all have finished. A second stop signal changes nothing
 * (the drain is under way); steward's `hard-stop-after` bounds it from outside.
 */
import process from "node:process";

export type Drain = () => void | Promise<void>;

const drains = new Set<Drain>();
let hooked = false;
let stopping: Promise<void> | undefined;

/** The signals that mean "stop": steward's default stop-signal, and a terminal's Ctrl-C. */
export const STOP_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

/** Runs every registered drain, then exits 0 (1 if a drain threw). */
export function stopNow(): Promise<void> {
  stopping ??= (async () => {
    const results = await Promise.allSettled([...drains].map(async (d) => d()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) process.stderr.write(`steward/worker: a drain failed: ${(failed as PromiseRejectedResult).reason}\n`);
    process.exit(failed ? 1 : 0);
  })();
  return stopping;
}

/**
 * Calls `drain` on the stop signal (SIGTERM or SIGINT); once every registered drain has
 * resolved the worker exits 0. Returns a function that unregisters it.
 */
export function onStop(drain: Drain): () => void {
  drains.add(drain);
  if (!hooked) {
    hooked = true;
    for (const signal of STOP_SIGNALS) process.on(signal, () => void stopNow());
  }
  return () => drains.delete(drain);
}
