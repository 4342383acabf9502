/**
 * steward's portable entry: picks the runtime adapter, then either runs the exec shim
 * (`__exec`, kept minimal because it runs once per child start) or the CLI.
 */
import process from "node:process";
import type * as fs from "node:fs";
import type { Runtime, SignalName } from "./runtime/types.ts";
import type { EarlyHold } from "./master/signal-router.ts";
import type { writeWhole as WriteWhole } from "./sys/write-whole.ts";

/** `steward __preflight FORMAT NONCE run --check ARGS...`: master/handshake.ts's PREFLIGHT_MODE */
const PREFLIGHT_MODE = "__preflight";
/** master/handover.ts's HANDOVER_VAR, and the FIRST_LINE_SIGNALS of master/signal-router.ts */
const HANDOVER_VAR = "STEWARD_HANDOVER";
const FIRST_LINE_SIGNALS: readonly SignalName[] = ["SIGTERM", "SIGINT", "SIGUSR1", "SIGHUP", "SIGUSR2"];

declare const Bun: unknown;
// deno-lint-ignore no-explicit-any
declare const Deno: any;

/**
 * A new image of a master re-executing for a reload starts with its stop and reload
 * signals blocked and pending ones kept (master/exec-signals.ts). They are hooked here, on
 * the first line, before anything can let the event loop turn: Bun waits for events with
 * an empty signal mask, and it does so while it loads a module's own imports, so a pending
 * one would take its default action. Hence this file imports nothing of its own statically.
 * What arrives before the master exists waits for it (master/signal-router.ts).
 */
function holdStopSignals(): EarlyHold {
  const onSignal = (signal: SignalName, handler: () => void) =>
    typeof Bun !== "undefined" ? void process.on(signal, handler) : Deno.addSignalListener(signal, handler);
  const arrived: SignalName[] = [];
  let forward: ((signal: SignalName) => void) | undefined;
  for (const signal of FIRST_LINE_SIGNALS) onSignal(signal, () => (forward ? forward(signal) : arrived.push(signal)));
  return {
    hooked: FIRST_LINE_SIGNALS,
    handOver(to) {
      forward = to;
      return arrived.splice(0);
    },
  };
}
const early = process.env[HANDOVER_VAR] !== undefined ? holdStopSignals() : undefined;

async function detectRuntime(): Promise<Runtime> {
  if (typeof Bun !== "undefined") return (await import("./runtime/bun.ts")).createBunRuntime();
  if (typeof Deno !== "undefined") return (await import("./runtime/deno.ts")).createDenoRuntime(import.meta.url);
  throw new Error("steward runs under Bun or Deno");
}

/** node:fs, loaded after the exec shim has gone its way: the shim writes through libc. */
let writeSync: typeof fs.writeSync;
/** sys/write-whole.ts, loaded on the first await like everything of steward's own. */
let writeWhole: typeof WriteWhole;

/** A line to fd 1 or 2; a closed pipe (EPIPE) is not an error worth dying for. */
const lineTo = (fd: number) => (line: string) => void writeWhole((data, off) => writeSync(fd, data, off), line + "\n");
const errLine = lineTo(2);

/** Raw text to fd 1, whole even on a non-blocking pipe (EAGAIN: try again); EPIPE ends it quietly. */
const textToStdout = (text: string) => void writeWhole((data, off) => writeSync(1, data, off), text, Infinity);

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
({ writeWhole } = await import("./sys/write-whole.ts"));
const { SHIM_MODE } = await import("./workers/plan.ts");
const signals = early ? new (await import("./master/signal-router.ts")).SignalRouter(runtime, early) : undefined;
if (runtime.args[0] === SHIM_MODE) {
  const [{ Posix }, { runExecShim }] = await Promise.all([import("./sys/posix.ts"), import("./workers/shim.ts")]);
  const px = new Posix(runtime.libc);
  const shimErrLine = (line: string) => void writeWhole((data, off) => px.writeSome(2, data.subarray(off)), line + "\n", 100);
  runtime.exit(runExecShim(px, process.env, shimErrLine));
}
({ writeSync } = await import("node:fs"));
if (runtime.args[0] === PREFLIGHT_MODE) {
  // A reload's preflight of this binary (`__preflight FORMAT NONCE run --check ARGS...`):
  // can it take over the state, and is the configuration valid? (cli/preflight-child.ts)
  const [{ runCli }, { runPreflightChild }, { VERSION }] = await Promise.all([
    import("./cli/index.ts"),
    import("./cli/preflight-child.ts"),
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
    ...(runtime.bun ? { bun: runtime.bun } : {}),
    startMaster: (opts) => {
      const running = startMaster(runtime, opts, undefined, signals);
      // A fresh master has started (its CLI and configuration work is done): drop what that
      // left. Not a new image: its collection (mostly on other threads) would compete for the
      // CPU with the workers its reload waits for; the settler (master/settle.ts) compacts
      // once that load is over.
      if (!resuming) runtime.compact?.();
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
  if (resuming) await startMaster(runtime, undefined, problems, signals);
  runtime.exit(code);
}
