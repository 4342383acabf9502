/**
 * Writing all of a line (or any text) to a descriptor that may be a non-blocking pipe or
 * socket, the one loop every writer of log lines and replies shares. `write` writes from
 * `offset` and returns the bytes written, or null for "full, try again" (Posix.writeSome);
 * a thrown EAGAIN (node:fs writeSync) means the same. Any other error (EPIPE: the reader went
 * away) ends the write quietly: there is nobody left to tell. At most `tries` writes are
 * tried, so a reader that never drains cannot hang the writer.
 */
import { writeSync } from "node:fs";

export function writeWhole(
  write: (data: Uint8Array, offset: number) => number | null,
  text: string | Uint8Array,
  tries = 1000,
): boolean {
  const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
  let off = 0;
  for (let n = 0; off < data.length && n < tries; n++) {
    try {
      off += write(data, off) ?? 0;
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN") return false;
    }
  }
  return off >= data.length;
}

/** One log line to a descriptor (stderr), written whole. */
export function writeLine(fd: number, line: string): void {
  writeWhole((data, off) => writeSync(fd, data, off), line + "\n", 100);
}
