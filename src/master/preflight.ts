/**
 * Preflight of a reload (REFERENCE §5.3 step 2), before anything is touched: the executable
 * must be a regular file this master can execute, and running it as
 * `EXE __preflight FORMAT NONCE run --check ARGS...` must exit 0 within 10 s and answer
 * the handshake (handshake.ts). That one run proves the new binary starts, is a steward
 * that reads this master's state format, and accepts the configuration the re-exec will
 * load. The master itself never reads the configuration for a reload: a file that blocks
 * or costs too much to parse stalls only this child, which is killed after 10 s.
 */
import type { WaitStatus } from "../sys/posix.ts";
import { checkArgs, newNonce, PROOF_TAG, readAnswer } from "./handshake.ts";
import type { RunOptions } from "./options.ts";
import { describeExit } from "./supervisor.ts";
import { killGroupThenPid } from "../sys/kill.ts";

export const PREFLIGHT_TIMEOUT_MS = 10_000;
/** What of the check's output is read: the end, where its answer is; a check may write without end. */
const OUTPUT_MAX_BYTES = 16 << 20;
/** Lines of the check's output quoted in the log, each cut to this length. */
const QUOTED_LINES = 20;
const QUOTED_CHARS = 500;

export interface PreflightPorts {
  /** starts the check; its stdout and stderr go to `outputPath` */
  spawn(path: string, argv: string[], outputPath: string): number;
  /** resolves with the exit status of `pid` (collected by the master's reaper) */
  waitFor(pid: number): Promise<WaitStatus>;
  kill(pid: number, signal: number): void;
  after(ms: number, fn: () => void): { cancel(): void };
  /** why the file cannot be executed, or undefined (MasterOs.executableProblem) */
  executableProblem(path: string): string | undefined;
  /** the non-empty lines of the end of the check's output file (MasterOs.tailLines) */
  tailLines(path: string, maxBytes: number): string[];
}

/** `options`: what the new image will load, when the check was run by this very file (same binary) */
export type PreflightResult = { ok: true; options?: RunOptions } | { ok: false; reason: string; output: string[] };

/** `sameBinary`: the file is the one this image runs, unchanged, so its options can be used before the exec */
export async function preflight(
  ports: PreflightPorts,
  self: { path: string; prefix: string[] },
  runArgs: readonly string[],
  format: number,
  outputPath: string,
  sameBinary = false,
): Promise<PreflightResult> {
  const problem = ports.executableProblem(self.path);
  if (problem) return { ok: false, reason: `new binary: ${problem}`, output: [] };
  const nonce = newNonce();
  let pid: number;
  try {
    pid = ports.spawn(self.path, [self.path, ...self.prefix, ...checkArgs(runArgs, format, nonce)], outputPath);
  } catch (e) {
    return { ok: false, reason: `new binary could not be started: ${(e as Error).message}`, output: [] };
  }
  let timedOut = false;
  const timer = ports.after(PREFLIGHT_TIMEOUT_MS, () => {
    timedOut = true;
    killGroupThenPid((t, s) => ports.kill(t, s), pid);
  });
  const ws = await ports.waitFor(pid);
  timer.cancel();
  const lines = ports.tailLines(outputPath, OUTPUT_MAX_BYTES);
  const output = lines
    .filter((l) => !l.startsWith(`${PROOF_TAG} `))
    .slice(-QUOTED_LINES)
    .map((l) => (l.length > QUOTED_CHARS ? `${l.slice(0, QUOTED_CHARS - 3)}...` : l));
  if (timedOut) return { ok: false, reason: `preflight of ${self.path} did not finish within 10s`, output };
  if (!ws.exited || ws.code !== 0) {
    const last = output.length > 0 ? `: ${output[output.length - 1]}` : "";
    return { ok: false, reason: `preflight of ${self.path} ${describeExit(ws)}${last}`, output };
  }
  const answer = await readAnswer(lines, format, nonce);
  if (!answer.ok) {
    return { ok: false, reason: `preflight of ${self.path} exited 0 without answering the handshake: not a steward that takes over state format ${format}`, output };
  }
  return sameBinary && answer.options ? { ok: true, options: answer.options as RunOptions } : { ok: true };
}
