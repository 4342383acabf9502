/**
 * Preflight of a reload (SPEC §5.3 step 2), before anything is touched: the executable
 * must be a regular file this master can execute, and running it as
 * `EXE __preflight FORMAT run --check ARGS...` must exit 0 within 10 s. That one run
 * proves the new binary starts, reads this master's state format, and accepts the
 * configuration the re-exec will load.
 */
import { accessSync, constants, statSync } from "node:fs";
import { readPrivateFile } from "./rundir.ts";
import type { WaitStatus } from "../sys/posix.ts";
import type { RunOptions } from "./options.ts";
import { describeExit } from "./supervisor.ts";

export const PREFLIGHT_MODE = "__preflight";
export const PREFLIGHT_TIMEOUT_MS = 10_000;

export interface PreflightPorts {
  /** starts the check; its stdout and stderr go to `outputPath` */
  spawn(path: string, argv: string[], outputPath: string): number;
  /** resolves with the exit status of `pid` (collected by the master's reaper) */
  waitFor(pid: number): Promise<WaitStatus>;
  kill(pid: number, signal: number): void;
  after(ms: number, fn: () => void): { cancel(): void };
}

/** `options`: what the new image will load, when the check ran in this process (same binary) */
export type PreflightResult = { ok: true; options?: RunOptions } | { ok: false; reason: string; output: string[] };

/** What identifies an executable file's content and permissions without reading it. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  } catch {
    return undefined;
  }
}

export function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return !!a && !!b && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/**
 * The check of the configuration by the running image itself: used instead of running
 * the executable again when that file is, unchanged (same inode, size, mtime and ctime),
 * the one this image was started from, so the run could show nothing this image cannot.
 */
export type InProcessCheck = (runArgs: readonly string[]) => Promise<{ code: number; lines: string[]; options?: RunOptions }>;

export async function preflightSameBinary(self: { path: string }, runArgs: readonly string[], check: InProcessCheck): Promise<PreflightResult> {
  const problem = executableProblem(self.path);
  if (problem) return { ok: false, reason: `new binary: ${problem}`, output: [] };
  const r = await check(runArgs);
  if (r.code === 0) return r.options ? { ok: true, options: r.options } : { ok: true };
  return { ok: false, reason: `configuration check failed: ${r.lines[r.lines.length - 1] ?? `exit ${r.code}`}`, output: r.lines };
}

/** `run --check` inserted before the user's options (and so before any `--`). */
export function checkArgs(runArgs: readonly string[], format: number): string[] {
  const rest = runArgs[0] === "run" ? runArgs.slice(1) : runArgs;
  return [PREFLIGHT_MODE, String(format), "run", "--check", ...rest];
}

export function executableProblem(path: string): string | undefined {
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

export async function preflight(
  ports: PreflightPorts,
  self: { path: string; prefix: string[] },
  runArgs: readonly string[],
  format: number,
  outputPath: string,
): Promise<PreflightResult> {
  const problem = executableProblem(self.path);
  if (problem) return { ok: false, reason: `new binary: ${problem}`, output: [] };
  let pid: number;
  try {
    pid = ports.spawn(self.path, [self.path, ...self.prefix, ...checkArgs(runArgs, format)], outputPath);
  } catch (e) {
    return { ok: false, reason: `new binary could not be started: ${(e as Error).message}`, output: [] };
  }
  let timedOut = false;
  const timer = ports.after(PREFLIGHT_TIMEOUT_MS, () => {
    timedOut = true;
    ports.kill(-pid, 9);
    ports.kill(pid, 9);
  });
  const ws = await ports.waitFor(pid);
  timer.cancel();
  let output: string[] = [];
  try {
    output = readPrivateFile(outputPath).split("\n").filter((l) => l.trim() !== "").slice(-20);
  } catch {
    // no output file: nothing to quote
  }
  if (timedOut) return { ok: false, reason: `preflight of ${self.path} did not finish within 10s`, output };
  if (ws.exited && ws.code === 0) return { ok: true };
  const last = output.length > 0 ? `: ${output[output.length - 1]}` : "";
  return { ok: false, reason: `preflight of ${self.path} ${describeExit(ws)}${last}`, output };
}
