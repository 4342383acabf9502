/**
 * The master process, wired to the real system: binds listeners, opens the notify
 * socket, routes signals, reaps children, and runs the supervisor. Read top to bottom,
 * `startMaster` is SPEC §5.1 as a list of steps.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { ListenerRegistry, type BoundListener } from "../listeners/registry.ts";
import { createLogger, type Logger } from "../log.ts";
import { NotifyReceiver } from "../notify/receiver.ts";
import type { Runtime, SignalName } from "../runtime/types.ts";
import { Posix } from "../sys/posix.ts";
import { VERSION } from "../version.ts";
import { resolveCommand } from "../workers/command.ts";
import { shimSpawnRequest, workerEnv, type ChildSpec } from "../workers/plan.ts";
import { isAccepting } from "../workers/readiness.ts";
import type { RunOptions } from "./options.ts";
import type { MasterState } from "./state.ts";
import { Supervisor, type SupervisorPorts, type WorkerPlanner } from "./supervisor.ts";

const SIGKILL = 9;

function writeStderr(line: string): void {
  const data = new TextEncoder().encode(line + "\n");
  for (let off = 0, tries = 0; off < data.length && tries < 100; tries++) {
    try {
      off += writeSync(2, data, off);
    } catch {
      // EAGAIN on a non-blocking stderr: try again
    }
  }
}

/** A directory of the master's own for its notify socket and worker CLI sockets. */
function makeRunDir(pid: number): string {
  const base = process.env.XDG_RUNTIME_DIR || tmpdir();
  const dir = join(base, `steward-${pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function writePidfile(path: string, pid: number): void {
  const tmp = join(dirname(path), `.${pid}.pid.tmp`);
  writeFileSync(tmp, `${pid}\n`);
  renameSync(tmp, path);
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isFinite(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

class StartError extends Error {}

export async function startMaster(runtime: Runtime, opts: RunOptions): Promise<void> {
  const px = new Posix(runtime.libc);
  const pid = px.pid();
  const log = createLogger({ level: opts.logLevel, pid: () => pid, write: writeStderr });
  const config = opts.config;
  const listeners = new ListenerRegistry(px);
  let notify: NotifyReceiver | undefined;
  let runDir: string | undefined;
  let pidfileWritten = false;

  const cleanup = () => {
    listeners.closeAll();
    notify?.close();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
    if (pidfileWritten && config.global.pidfile) rmSync(config.global.pidfile, { force: true });
  };

  try {
    // 1. Orphaned descendants are ours to reap (PID 1 reaps them anyway).
    if (pid !== 1) px.setChildSubreaper();

    // 2. Resolve the worker command before anything is bound, for a clear error.
    const command = config.worker.command;
    const resolved = resolveCommand(command[0]!, config.worker.env.PATH ?? process.env.PATH, config.worker.cwd ?? process.cwd());
    if ("error" in resolved) throw new StartError(`worker.command: ${resolved.error}`);

    // 3. Bind every listener, in configuration order (they become fds 3, 4, ...).
    const bound: BoundListener[] = config.listen.map((l) => listeners.bind(l));
    for (const l of bound) log.notice(`Listener '${l.name}' bound to ${l.url} (fd ${l.fd})`);
    const inodes = new Set(bound.map((l) => l.inode));

    // 4. The notify socket workers report to (SIGIO tells us when a datagram is there).
    runDir = makeRunDir(pid);
    const state: MasterState = {
      pid,
      startedAt: Date.now(),
      reloads: 0,
      failedReloads: 0,
      version: VERSION,
      phase: "starting",
      processes: new Map(),
    };
    const dir = runDir;
    const plan: WorkerPlanner = (id, generation): ChildSpec => ({
      label: `worker ${id}`,
      path: resolved.path,
      argv: command,
      ...(config.worker.cwd !== undefined ? { cwd: config.worker.cwd } : {}),
      env: workerEnv({
        masterEnv: process.env,
        configEnv: config.worker.env,
        listenerNames: bound.map((l) => l.name),
        workerId: id,
        generation,
        masterPid: pid,
        notifySocket: join(dir, "notify.sock"),
        cliSocket: join(dir, `worker-g${generation}-${id}.sock`),
      }),
      fds: bound.map((l) => l.fd),
    });

    const ports: SupervisorPorts = {
      now: () => Date.now(),
      after: (ms, fn) => {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      },
      spawn: (child) => px.spawn(shimSpawnRequest(runtime.self, child, pid, SIGKILL)),
      kill: (target, sig) => px.kill(target, sig),
      isAccepting: (wpid) => isAccepting(wpid, inodes, process.arch),
      parentOf,
      exit: (code) => {
        cleanup();
        runtime.exit(code);
      },
    };
    const supervisor = new Supervisor(config, state, ports, log, plan, {
      loaded: () => {
        if (config.global.pidfile) {
          writePidfile(config.global.pidfile, pid);
          pidfileWritten = true;
        }
      },
    });

    // 5. Signals before any child exists, so no exit status and no datagram is missed.
    installSignals(runtime, px, supervisor, () => notify?.drain(), log);
    notify = NotifyReceiver.open(px, join(dir, "notify.sock"), (from, fields) => supervisor.notified(from, fields));

    // 6. The first generation.
    supervisor.start();
    // Signal listeners alone do not keep every runtime's event loop alive.
    setInterval(() => {}, 2 ** 30);
  } catch (e) {
    log.alert(`Starting failed: ${(e as Error).message}`);
    cleanup();
    runtime.exit(1);
  }
  // The master ends only through runtime.exit (SPEC §6 codes), never by returning.
  return new Promise<void>(() => {});
}

function installSignals(runtime: Runtime, px: Posix, supervisor: Supervisor, drainNotify: () => void, log: Logger): void {
  runtime.onSignal("SIGCHLD", () => {
    for (let ws = px.reapOne(); ws; ws = px.reapOne()) supervisor.childExited(ws);
  });
  runtime.onSignal("SIGIO", drainNotify);
  const forward: SignalName[] = ["SIGTERM", "SIGINT", "SIGUSR1", "SIGQUIT", "SIGTTIN", "SIGTTOU"];
  for (const sig of forward) runtime.onSignal(sig, () => supervisor.signal(sig));
  for (const sig of ["SIGHUP", "SIGUSR2"] as const) {
    runtime.onSignal(sig, () => log.warn(`${sig} received: reload is not available in this version; ignored`));
  }
}
