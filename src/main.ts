/**
 * steward's portable entry: picks the runtime adapter, then either runs the exec shim
 * (`__exec`, kept minimal because it runs once per child start) or the CLI.
 */
import process from "node:process";
import type * as fs from "node:fs";
import type { Runtime } from "./runtime/types.ts";
import { SHIM_MODE } from "./workers/plan.ts";
import { HANDOVER_VAR } from "./master/handover.ts";
import { PREFLIGHT_MODE } from "./master/handshake.ts";
import { SignalRouter, STOP_SIGNALS } from "./master/signal-router.ts";


declare const Bun: unknown;
declare const Deno: unknown;

async function detectRuntime(): Promise<Runtime> {
  if (typeof Bun !== "undefined") return (await import("./runtime/bun.ts")).createBunRuntime();
  if (typeof Deno !== "undefined") return (await import("./runtime/deno.ts")).createDenoRuntime(import.meta.url);
  throw new Error("steward runs under Bun or Deno");
}

/** node:fs, loaded after the exec shim has gone its way: the shim writes through libc. */
let writeSync: typeof fs.writeSync;

/** A line to fd 1 or 2; a closed pipe (EPIPE) is not an error worth dying for. */
const lineTo = (fd: number) => (line: string) => {
  try {
    writeSync(fd, line + "\n");
  } catch {
    // the reader went away: nothing to tell
  }
};
const errLine = lineTo(2);

/** Raw text to fd 1, whole even on a non-blocking pipe (EAGAIN: try again); EPIPE ends it quietly. */
const textToStdout = (text: string) => {
  const data = new TextEncoder().encode(text);
  for (let off = 0; off < data.length; ) {
    try {
      off += writeSync(1, data, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") return;
    }
  }
};

/** The master CLI client (`steward cli`, `steward reload`), loaded only when one of them runs. */
const masterCliClient = async () =>
  (await import("./mcli/client.ts")).createMasterCliClient({
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    write: textToStdout,
    stderr: errLine,
  });

const runtime = await detectRuntime();
// A new image of a master re-executing for a reload: its stop signals are hooked before
// anything else loads, so that one arriving now waits for the master (master/signal-router.ts).
const signals = process.env[HANDOVER_VAR] !== undefined ? new SignalRouter(runtime) : undefined;
signals?.hold(STOP_SIGNALS);
if (runtime.args[0] === SHIM_MODE) {
  const [{ Posix }, { runExecShim }] = await Promise.all([import("./sys/posix.ts"), import("./workers/shim.ts")]);
  const px = new Posix(runtime.libc);
  const shimErrLine = (line: string) => {
    try {
      const data = new TextEncoder().encode(line + "\n");
      for (let off = 0, tries = 0; off < data.length && tries < 100; tries++) off += px.writeSome(2, data.subarray(off)) ?? 0;
    } catch {
      // the reader went away: nothing to tell
    }
  };
  runtime.exit(runExecShim(px, process.env, shimErrLine));
}
({ writeSync } = await import("node:fs"));
if (runtime.args[0] === PREFLIGHT_MODE) {
  // A reload's preflight of this binary (`__preflight FORMAT NONCE run --check ARGS...`):
  // can it take over the state, and is the configuration valid? (master/preflight-child.ts)
  const [{ runCli }, { runPreflightChild }, { VERSION }] = await Promise.all([
    import("./cli/index.ts"),
    import("./master/preflight-child.ts"),
    import("./version.ts"),
  ]);
  const deps = { version: VERSION, env: process.env, cwd: process.cwd(), runCli, stdout: lineTo(1), stderr: errLine };
  runtime.exit(await runPreflightChild(runtime.args.slice(1), deps));
} else {
  const [{ runCli }, { startMaster }, { VERSION }] = await Promise.all([
    import("./cli/index.ts"),
    import("./master/run.ts"),
    import("./version.ts"),
  ]);
  // A new image after a reload's re-exec must not die on a configuration that changed
  // since the preflight: it keeps supervising with the previous one and reports why.
  const resuming = process.env[HANDOVER_VAR] !== undefined;
  const problems: string[] = [];
  const code = await runCli(runtime.args, {
    version: VERSION,
    env: process.env,
    cwd: process.cwd(),
    startMaster: (opts) => {
      const running = startMaster(runtime, opts, undefined, signals);
      // The master has started (its CLI and configuration work is done): drop what that left.
      runtime.compact?.();
      return running;
    },
    stdout: lineTo(1),
    stderr: resuming ? (line) => problems.push(line) : errLine,
    mcli: {
      cli: async (request) => (await masterCliClient()).cli(request),
      reload: async (request) => (await masterCliClient()).reload(request),
      status: async (request) =>
        (await import("./mcli/status.ts")).probeStatus(request, { cwd: process.cwd(), stdout: lineTo(1), stderr: errLine }),
    },
    upgrade: async (request) => {
      const [{ upgrade }, { fromManifest }, client] = await Promise.all([
        import("./upgrade/install.ts"),
        import("./upgrade/from-manifest.ts"),
        import("./mcli/client.ts"),
      ]);
      const artefact = "manifest" in request ? await fromManifest(request, errLine) : request;
      if (artefact === undefined) return 1;
      return upgrade(artefact, {
        self: runtime.self.path,
        compiled: runtime.compiled,
        pid: process.pid,
        stdout: lineTo(1),
        stderr: errLine,
        ask: async (address, line) => {
          const where = client.clientAddress(address, process.cwd());
          if (typeof where === "string") throw new Error(where);
          const socket = await client.connectTo(where, client.addressName(address));
          return (await client.exchange(socket, `${line}\n`)).reply;
        },
      });
    },
  });
  if (resuming) {
    const running = startMaster(runtime, undefined, problems, signals);
    runtime.compact?.();
    await running;
  }
  runtime.exit(code);
}
