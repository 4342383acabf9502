/**
 * /proc files the `accepting` poll reads again every round while workers load
 * (/proc/PID/task/TID/syscall and .../children, /proc/PID/fdinfo/N of epoll sets), kept
 * open between rounds and re-read with pread at offset 0: one system call instead of
 * open, read and close (measured: ~2 µs instead of ~9 µs each; a loading Node worker has
 * 7 threads and 3 epoll sets). They are seq_files, which a read at offset 0 generates
 * afresh (fs/seq_file.c, seq_read_iter), so the answer is the one a new open would give:
 * an fdinfo file shows whatever descriptor N is now, and a kept file of a process or
 * thread that is gone fails (ESRCH; its `children` reads empty, as a fresh read of it
 * does), is closed and read again by path, as a reused PID would be.
 *
 * Directory listings and readlinks are not kept (node:fs has no way to list an open
 * directory again), nor is /proc/PID/mem (read at varying addresses).
 * The poll closes what a round did not read (`sweep`), and everything when no worker is
 * waiting any more, so nothing stays open once a generation is ready.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { procfs, type ProcSource } from "./proctree.ts";

/** kept descriptors at most, and never more than a quarter of the open-files limit; past it, files are read as before */
const MAX_KEPT = 1024;

/** The soft RLIMIT_NOFILE from /proc/self/limits (both runtimes raise it to the hard limit at start); 1024 when unreadable. */
export function openFilesLimit(limits = procfs.read("/proc/self/limits")): number {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!m) return 1024;
  return m[1] === "unlimited" ? Infinity : Number(m[1]);
}
/** larger contents (an epoll set of hundreds of descriptors) are read whole, the usual way */
const BUFFER_BYTES = 4096;
const KEPT = /^\/proc\/\d+\/(?:task\/\d+\/(?:syscall|children)|fdinfo\/\d+)$/;

export class KeptProcFiles implements ProcSource {
  private readonly fds = new Map<string, number>();
  /** paths read since the last sweep */
  private readonly used = new Set<string>();
  private readonly buf = new Uint8Array(BUFFER_BYTES);
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly src: ProcSource = procfs,
    private readonly max = Math.min(MAX_KEPT, Math.floor(openFilesLimit() / 4)),
  ) {}

  readdir(path: string): string[] {
    return this.src.readdir(path);
  }
  readlink(path: string): string | undefined {
    return this.src.readlink(path);
  }
  readMem(pid: number, addr: number, len: number): Uint8Array | undefined {
    return this.src.readMem(pid, addr, len);
  }
  hasChildrenFiles(): boolean {
    return this.src.hasChildrenFiles();
  }

  read(path: string): string {
    if (!KEPT.test(path)) return this.src.read(path);
    let fd = this.fds.get(path);
    if (fd === undefined) {
      if (this.fds.size >= this.max) return this.src.read(path);
      try {
        fd = openSync(path, "r");
      } catch {
        // gone, or no descriptor left (EMFILE): as before
        return this.src.read(path);
      }
      this.fds.set(path, fd);
    }
    this.used.add(path);
    let n: number;
    try {
      n = readSync(fd, this.buf, 0, BUFFER_BYTES, 0);
    } catch {
      // the process or thread is gone (ESRCH), or descriptor N is closed (ENOENT): by
      // path, as before (a PID used again since answers for the new process)
      this.close(path);
      return this.src.read(path);
    }
    return n < BUFFER_BYTES ? this.decoder.decode(this.buf.subarray(0, n)) : this.src.read(path);
  }

  /** how many files are kept open now */
  get size(): number {
    return this.fds.size;
  }

  /** Closes the files not read since the last sweep; with `all`, every file. */
  sweep(all = false): void {
    for (const path of [...this.fds.keys()]) if (all || !this.used.has(path)) this.close(path);
    this.used.clear();
  }

  private close(path: string): void {
    const fd = this.fds.get(path);
    this.fds.delete(path);
    this.used.delete(path);
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing is left to release
    }
  }
}
