/**
 * steward's portable entry: picks the runtime adapter, then either runs the exec shim
 * (`__exec`, kept minimal because it runs once per child start) or the CLI.
 */
import process from "node:process";
import { writeSync } from "node:fs";
import type { Runtime } from "./runtime/types.ts";
import { SHIM_MODE } from "./workers/plan.ts";

declare const Bun: unknown;
declare const Deno: unknown;

async function detectRuntime(): Promise<Runtime> {
  if (typeof Bun !== "undefined") return (await import("./runtime/bun.ts")).createBunRuntime();
  if (typeof Deno !== "undefined") return (await import("./runtime/deno.ts")).createDenoRuntime(import.meta.url);
  throw new Error("steward runs under Bun or Deno");
}

/** A line to fd 1 or 2; a closed pipe (EPIPE) is not an error worth dying for. */
const lineTo = (fd: number) => (line: string) => {
  try {
    writeSync(fd, line + "\n");
  } catch {
    // the reader went away: nothing to tell
  }
};
const errLine = lineTo(2);

const runtime = await detectRuntime();
if (runtime.args[0] === SHIM_MODE) {
  const [{ Posix }, { runExecShim }] = await Promise.all([import("./sys/posix.ts"), import("./workers/shim.ts")]);
  runtime.exit(runExecShim(new Posix(runtime.libc), process.env, errLine));
} else {
  const [{ runCli }, { startMaster }, { VERSION }] = await Promise.all([
    import("./cli/index.ts"),
    import("./master/run.ts"),
    import("./version.ts"),
  ]);
  const code = await runCli(runtime.args, {
    version: VERSION,
    env: process.env,
    cwd: process.cwd(),
    startMaster: (opts) => startMaster(runtime, opts),
    stdout: lineTo(1),
    stderr: errLine,
  });
  runtime.exit(code);
}
