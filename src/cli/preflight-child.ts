/**
 * `steward __preflight FORMAT NONCE run --check ARGS...`, run by a reloading master
 * (preflight.ts): refuse a state format this steward cannot read (exit 3), check the
 * configuration as `run ARGS...` would load it, and answer the handshake (handshake.ts)
 * with what that load gives. The older form without NONCE is still understood (a master
 * from before the handshake does not ask for the answer).
 */
import type { CliDeps } from "./deps.ts";
import { READABLE_FORMATS } from "../master/handover.ts";
import { isNonce, proofLine } from "../master/handshake.ts";
import type { RunOptions } from "../master/options.ts";

export interface PreflightChildDeps {
  version: string;
  env: Record<string, string | undefined>;
  cwd: string;
  runCli(args: string[], deps: CliDeps): Promise<number>;
  stdout(line: string): void;
  stderr(line: string): void;
}

/** `args`: what follows `__preflight`. Resolves to the exit code. */
export async function runPreflightChild(args: readonly string[], deps: PreflightChildDeps): Promise<number> {
  const format = Number(args[0]);
  if (!READABLE_FORMATS.includes(format)) {
    deps.stderr(`steward ${deps.version} cannot take over a master's state of format ${args[0]} (it reads ${READABLE_FORMATS.join(", ")})`);
    return 3;
  }
  const nonce = isNonce(args[1]) ? args[1] : undefined;
  const command = args.slice(nonce === undefined ? 1 : 2);
  const base = { version: deps.version, env: deps.env, cwd: deps.cwd, stdout: () => {}, stderr: deps.stderr };
  if (nonce === undefined) {
    return deps.runCli(command, { ...base, startMaster: () => Promise.reject(new Error("preflight never starts a master")) });
  }
  // `run` without `--check`, up to the master's start: what it would start with is the answer.
  const rest = command[0] === "run" ? command.slice(command[1] === "--check" ? 2 : 1) : command;
  let options: RunOptions | undefined;
  const code = await deps.runCli(["run", ...rest], {
    ...base,
    startMaster: (opts) => {
      options = opts;
      return Promise.resolve();
    },
  });
  if (code !== 0) return code;
  if (options === undefined) {
    deps.stderr("steward: the preflight's check loaded no configuration");
    return 1;
  }
  deps.stdout(await proofLine(format, nonce, options));
  return 0;
}
