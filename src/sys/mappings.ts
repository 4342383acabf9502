/**
 * Giving back the pages of the master's executable that start-up touched and idle never
 * needs again (README, "Memory").
 *
 * A compiled master maps its ~110 MB executable; start-up (the runtime, FFI, the CLI, the
 * configuration parser) reads some 30 MiB of it, and those pages stay mapped, so VmRSS
 * counts them although the idle master never runs that code again. For a private mapping
 * that is not writable and holds no anonymous (copied-on-write) page, every resident page
 * is a clean copy of the file: MADV_DONTNEED only unmaps it from this process (it stays in
 * the page cache) and a later access maps it again from there, with the same contents.
 * Writable mappings, and any mapping with an anonymous page, are never touched: there,
 * MADV_DONTNEED would throw away written data.
 */
import type { LibcFunctions } from "./symbols.ts";

export interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rssKiB: number;
  anonymousKiB: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/;

/** The mappings of a /proc/PID/smaps text, with their Rss and Anonymous sizes. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split("\n")) {
    const h = HEADER.exec(line);
    if (h) {
      cur = { start: BigInt(`0x${h[1]}`), end: BigInt(`0x${h[2]}`), perms: h[3]!, path: h[5]!.trim(), rssKiB: 0, anonymousKiB: 0 };
      if (h[4] === "0") cur.path = ""; // no inode: anonymous, [heap], [stack], [vdso]
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith("Rss:")) cur.rssKiB = Number.parseInt(line.slice(4), 10);
    else if (line.startsWith("Anonymous:")) cur.anonymousKiB = Number.parseInt(line.slice(10), 10);
  }
  return out;
}

/** The mappings whose resident pages are all clean file pages: safe to drop, and worth it. */
export function droppable(mappings: readonly Mapping[]): Mapping[] {
  return mappings.filter(
    (m) => m.path.startsWith("/") && m.perms[1] !== "w" && m.perms[3] === "p" && m.anonymousKiB === 0 && m.rssKiB > 0,
  );
}

const MADV_DONTNEED = 4;

/**
 * Unmaps the clean file pages of `smaps` (this process's own) from this process; returns
 * the KiB given back. Failures (a locked mapping) are skipped: this is only an economy.
 */
export function dropCleanFilePages(fn: LibcFunctions, smaps: string): number {
  let kib = 0;
  for (const m of droppable(parseSmaps(smaps))) {
    if (fn.madvise(m.start, m.end - m.start, MADV_DONTNEED) === 0) kib += m.rssKiB;
  }
  return kib;
}
