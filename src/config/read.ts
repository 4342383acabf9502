/**
 * Reading a configuration file within limits: at most CONFIG_MAX_BYTES, and never a wait
 * without end. The file is opened non-blocking (opening a FIFO that no one writes to would
 * otherwise wait forever) and must be a regular file or a FIFO. A FIFO is read as its
 * writers write, polled without blocking, until they close it; no data, or no end, within
 * CONFIG_READ_TIMEOUT_MS is an error.
 */

import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

/** 1 MiB: far above any real configuration, low enough that parsing it stays fast. */
export const CONFIG_MAX_BYTES = 1 << 20;
/** Half of a reload's 10 s preflight, so that a stalled FIFO is reported as what it is. */
export const CONFIG_READ_TIMEOUT_MS = 5_000;
const POLL_MS = 10;

export interface ReadLimits {
  maxBytes: number;
  timeoutMs: number;
}

/** `problem` follows the file name in the one line that reports it */
export type ReadResult = { ok: true; text: string } | { ok: false; problem: string };

const DEFAULT_LIMITS: ReadLimits = { maxBytes: CONFIG_MAX_BYTES, timeoutMs: CONFIG_READ_TIMEOUT_MS };

/** `path` must be absolute or relative to the process's working directory. */
export async function readConfigText(path: string, limits: ReadLimits = DEFAULT_LIMITS): Promise<ReadResult> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return cannotRead(readFailure(error));
  }
  try {
    const st = fstatSync(fd);
    if (st.isFile()) return readRegular(fd, st, limits);
    if (st.isFIFO()) return await readFifo(fd, limits);
    return cannotRead(st.isDirectory() ? "is a directory" : `not a regular file (${kindOf(st)})`);
  } catch (error) {
    return cannotRead(readFailure(error));
  } finally {
    closeSync(fd);
  }
}

function cannotRead(why: string): ReadResult {
  return { ok: false, problem: `cannot read the file: ${why}` };
}

function tooLarge(limits: ReadLimits, size?: number): ReadResult {
  const what = size === undefined ? "more than" : `${mib(size)},`;
  return { ok: false, problem: `the file is too large: ${what} a configuration may be ${mib(limits.maxBytes)} at most` };
}

/** A regular file never makes a read wait; its size is checked before and while reading (it may grow). */
function readRegular(fd: number, st: Stats, limits: ReadLimits): ReadResult {
  if (st.size > limits.maxBytes) return tooLarge(limits, st.size);
  const buffer = new Uint8Array(limits.maxBytes + 1);
  let length = 0;
  for (;;) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
    if (length > limits.maxBytes) return tooLarge(limits);
  }
  return { ok: true, text: new TextDecoder().decode(buffer.subarray(0, length)) };
}

/**
 * A non-blocking read of a FIFO returns 0 both before any writer came and after the last
 * one left, and EAGAIN while a writer holds it open with nothing new: so data followed by
 * a 0 is the end, and a 0 before any data means "not yet".
 */
async function readFifo(fd: number, limits: ReadLimits): Promise<ReadResult> {
  const deadline = Date.now() + limits.timeoutMs;
  const buffer = new Uint8Array(limits.maxBytes + 1);
  let length = 0;
  for (;;) {
    let n: number | undefined;
    try {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    } catch (error) {
      if (errorCode(error) !== "EAGAIN") throw error;
    }
    if (n !== undefined && n > 0) {
      length += n;
      if (length > limits.maxBytes) return tooLarge(limits);
      continue;
    }
    if (n === 0 && length > 0) return { ok: true, text: new TextDecoder().decode(buffer.subarray(0, length)) };
    if (Date.now() >= deadline) {
      const seconds = `${limits.timeoutMs / 1000}s`;
      return cannotRead(length === 0 ? `a FIFO with nothing written to it within ${seconds}` : `a FIFO whose writer did not close it within ${seconds}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function kindOf(st: Stats): string {
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(bytes % (1 << 20) === 0 ? 0 : 1)} MiB` : `${bytes} bytes`;
}

const READ_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOTDIR: "a parent of the path is not a directory",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
  ENXIO: "a socket or a device with nothing behind it",
};

/** Why a file could not be read, in words for the usual errno codes. */
export function readFailure(error: unknown): string {
  const code = errorCode(error);
  const message = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  if (code === undefined) return message;
  return READ_REASONS[code] ?? (message.startsWith(code) ? message : `${code}: ${message}`);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}
