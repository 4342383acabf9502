/**
 * The master's operating system behind one small interface (as cloudflare/tableflip's
 * `env`): the clock and timers, starting, signalling and reaping children, execve, the
 * state file, /proc, the environment and the working directory. `realOs` builds it once
 * from the runtime and libc layers; this is the only file of src/master that names
 * `process` or `node:fs` (test/unit/layers.test.ts). Unit tests use the fake of
 * test/unit/_fake-os.ts.
 */
import { accessSync, closeSync, constants, fstatSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import process from "node:process";
import type { Runtime } from "../runtime/types.ts";
import { readPrivateFile, writePrivateFile } from "../host/rundir.ts";
import { killGroupThenPid } from "../sys/kill.ts";
import type { Posix, WaitStatus } from "../sys/posix.ts";
import type { SpawnRequest } from "../sys/spawn.ts";

export interface Timer {
  cancel(): void;
}

/** What identifies an executable file's content and permissions without reading it. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return !!a && !!b && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

export interface MasterOs {
  readonly pid: number;
  /** the CPU architecture (system call numbers of sys/, /proc socket formats) */
  readonly arch: string;
  /** the master's environment, live (Runtime.env): what is deleted from it no later child inherits */
  readonly env: Record<string, string | undefined>;
  cwd(): string;
  /** ms since the epoch */
  now(): number;
  /** this process's CPU time (user + system, every thread) in ms */
  cpuTime(): number;
  after(ms: number, fn: () => void): Timer;
  /** keeps the event loop alive while only signal handlers are waiting */
  keepAlive(): void;
  /** posix_spawn (sys/spawn.ts); throws with a one-line reason */
  spawn(req: SpawnRequest): number;
  /** kill(2) on a PID (or -PGID); false when it is already gone */
  kill(target: number, signal: number): boolean;
  /** SIGKILL to the process group of `pid`, then to `pid` (sys/kill.ts) */
  killGroup(pid: number): void;
  /** the exit status of one child that has ended, without waiting; null when none has */
  reapOne(): WaitStatus | null;
  /** replaces the process image; returns only by throwing, when it could not */
  execve(path: string, argv: string[], env: Record<string, string>): void;
  /** a file only the master's user may read (host/rundir.ts), created whole */
  writePrivate(path: string, text: string): void;
  readPrivate(path: string): string;
  /** removes a file or directory tree; nothing if it is not there */
  remove(path: string): void;
  /** a /proc file, or undefined when it cannot be read (the process is gone) */
  readProc(path: string): string | undefined;
  fileIdentity(path: string): FileIdentity | undefined;
  /** why `path` cannot be executed by this master, or undefined */
  executableProblem(path: string): string | undefined;
  /** the non-empty lines of the last `maxBytes` of a file written by a child (never through a link) */
  tailLines(path: string, maxBytes: number): string[];
  exit(code: number): never;
}

/** What an execve carries beside its own arguments: variables for the new image, and how to take them back if it fails. */
export interface ExecCarry {
  env: Record<string, string>;
  undo(): void;
}

/** `carry`: asked just before each execve of `path` (the helper's memfd, workers/native-shim.ts). */
export function realOs(runtime: Runtime, px: Posix, carry?: (path: string) => ExecCarry | undefined): MasterOs {
  return {
    pid: px.pid(),
    arch: process.arch,
    env: runtime.env,
    cwd: () => runtime.cwd(),
    now: () => Date.now(),
    cpuTime() {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    },
    after(ms, fn) {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    },
    keepAlive: () => void setInterval(() => {}, 2 ** 30),
    spawn: (req) => px.spawn(req),
    kill: (target, sig) => px.kill(target, sig),
    killGroup: (pid) => killGroupThenPid((t, s) => px.kill(t, s), pid),
    reapOne: () => px.reapOne(),
    execve(path, argv, env) {
      const kept = carry?.(path);
      try {
        px.execve(path, argv, kept ? { ...env, ...kept.env } : env);
      } catch (e) {
        kept?.undo();
        throw e;
      }
    },
    writePrivate: (path, text) => writePrivateFile(path, text),
    readPrivate: readPrivateFile,
    remove: (path) => rmSync(path, { recursive: true, force: true }),
    readProc(path) {
      try {
        return readFileSync(path, "utf8");
      } catch {
        return undefined;
      }
    },
    fileIdentity(path) {
      try {
        const st = statSync(path);
        return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
      } catch {
        return undefined;
      }
    },
    executableProblem,
    tailLines,
    exit: (code) => runtime.exit(code),
  };
}

function executableProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return `${path} is not a regular file`;
    accessSync(path, constants.X_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `${path} does not exist`;
    if (code === "EACCES") return `${path} is not executable`;
    return `${path}: ${(e as Error).message}`;
  }
}

function tailLines(path: string, maxBytes: number): string[] {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW); // never through a link planted in the run directory
  } catch {
    return []; // no output file: nothing to quote
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buffer, got, length - got, size - length + got);
      if (n === 0) break;
      got += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, got)).split("\n").filter((l) => l.trim() !== "");
  } catch {
    return [];
  } finally {
    closeSync(fd);
  }
}
