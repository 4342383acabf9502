/**
 * `@bun` commands (REFERENCE §10): a worker or program command whose first word is `@bun`
 * runs the rest on the Bun runtime steward itself carries, so a host with nothing but the
 * steward file runs a TypeScript server.
 *
 * - compiled steward: the steward executable itself, with BUN_BE_BUN=1 (it then is the
 *   `bun` CLI). The variable is set only for the final exec (ExecPlan.execEnv): the exec
 *   shim and the master never see it, or they would start as bun instead of steward. The
 *   worker keeps it, so that its own `process.execPath` children (child_process.fork) run
 *   as bun too; a worker that calls the steward CLI must unset it.
 * - steward from source under Bun: that bun executable.
 * - steward under Deno: there is no Bun inside; the `bun` on the command's PATH runs it,
 *   and without one the command is refused with one line.
 */
import { statSync } from "node:fs";
import process from "node:process";
import { resolveCommand } from "./command.ts";

export const BUN_WORD = "@bun";

/** The Bun runtime steward carries (Runtime.bun). */
export interface CarriedBun {
  path: string;
  env: Record<string, string>;
  version: string;
}

export interface ResolvedCommand {
  path: string;
  argv: string[];
  /** variables for the final exec only (never for the shim) */
  execEnv?: Record<string, string>;
  /** what the command runs on, for `show proc`: `bun 1.4.5`; read when each child starts */
  runtime?: () => string;
}

/** `dev:ino:mtime` of a file, or undefined. */
function identity(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

const versions = new Map<string, string>();

/**
 * The Bun version a child started from `path` now runs: the master's own when `path` is the
 * file the master runs; otherwise (an upgraded binary not yet reloaded into, a `bun` from
 * PATH) asked of the file once per file identity.
 */
export function bunVersionOf(path: string, env: Record<string, string>, own: CarriedBun, ownIdentity: string | undefined): string {
  const id = identity(path);
  if (id === undefined) return "bun ?";
  if (id === ownIdentity) return `bun ${own.version}`;
  let known = versions.get(id);
  if (known === undefined) {
    try {
      // node:child_process only when a foreign bun is asked, never at start-up: loading it
      // costs every start of the CLI, the preflight and the master ~2-3 ms of CPU.
      const { execFileSync } = process.getBuiltinModule("node:child_process");
      known = execFileSync(path, ["--version"], { env: { PATH: "/usr/bin:/bin", ...env }, encoding: "utf8", timeout: 5_000 }).trim();
    } catch {
      known = "?";
    }
    versions.set(id, known);
  }
  return `bun ${known}`;
}

/** The identity of the executable the master runs (/proc/self/exe). */
export function ownExecutableIdentity(): string | undefined {
  return identity("/proc/self/exe");
}

/**
 * Resolves a configured command (first word a program, or `@bun`) into what to exec, or a
 * one-line reason why it cannot run.
 */
export function resolveRunnable(
  command: string[], pathVar: string | undefined, cwd: string, bun: CarriedBun | undefined,
): ResolvedCommand | { error: string } {
  const [first = "", ...rest] = command;
  if (first !== BUN_WORD) {
    const r = resolveCommand(first, pathVar, cwd);
    return "error" in r ? r : { path: r.path, argv: command };
  }
  if (rest.length === 0) return { error: `'${BUN_WORD}' needs a script to run (e.g. ["${BUN_WORD}", "server.ts"])` };
  if (bun) {
    const own = ownExecutableIdentity();
    return { path: bun.path, argv: command, execEnv: { ...bun.env }, runtime: () => bunVersionOf(bun.path, bun.env, bun, own) };
  }
  const r = resolveCommand("bun", pathVar, cwd);
  if ("error" in r) {
    return { error: `'${BUN_WORD}' runs on the Bun runtime inside a compiled steward; this steward runs on Deno and no 'bun' is in PATH` };
  }
  return { path: r.path, argv: command, runtime: () => bunVersionOf(r.path, {}, { path: "", env: {}, version: "" }, undefined) };
}
