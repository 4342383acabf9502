/**
 * The master process, wired to the real system. `startMaster` is REFERENCE §5.1 (a fresh
 * start, `startFresh`) or the second half of §5.3 (a new image taking over after re-exec,
 * `resume`); each is a list of named steps. The reload itself is the state machine of
 * reloader.ts (its ports: reloader-wiring.ts); the supervisor's ports and hooks are
 * supervisor-wiring.ts; the OS is os.ts; the children's plans are workers/spawn-plan.ts.
 */
import { join } from "node:path";
import { ListenerRegistry } from "../listeners/registry.ts";
import { createLogger, type Logger } from "../log.ts";
import { styleFor } from "../log-format.ts";
import { NotifyReceiver } from "../notify/receiver.ts";
import { createNotifier, NO_NOTIFIER, type Notifier } from "../notify/systemd.ts";
import type { Runtime, SignalName } from "../runtime/types.ts";
import { SIGKILL } from "../sys/constants.ts";
import { Posix } from "../sys/posix.ts";
import { writeLine } from "../sys/write-whole.ts";
import { VERSION } from "../version.ts";
import { ChildStarter } from "../workers/native-shim.ts";
import { holdsAnyListener } from "../workers/holding.ts";
import { createCommandRunner, promptFor } from "../mcli/commands.ts";
import { CliServer } from "../mcli/server.ts";
import { EventLog } from "../mcli/events.ts";
import { MetricsEndpoint } from "../metrics/endpoint.ts";
import { makeRunDir } from "../host/rundir.ts";
import { Pidfile, type PreparedPidfile } from "../host/pidfile.ts";
import { UserDirs } from "../host/userdirs.ts";
import { syncCliListeners } from "./bind.ts";
import { launchDaemon, LAUNCHER_FD_VAR, LauncherPipe } from "./daemon.ts";
import { HELD_SIGNALS } from "./exec-signals.ts";
import { HANDOVER_VAR, restoreState } from "./handover.ts";
import type { RunOptions } from "./options.ts";
import { realOs, sameFile, type FileIdentity, type MasterOs } from "./os.ts";
import { planChildren } from "./plans.ts";
import { Reaper } from "./reaper.ts";
import { Reloader } from "./reloader.ts";
import { reloadPorts } from "./reloader-wiring.ts";
import { SignalRouter } from "./signal-router.ts";
import { Settler } from "./settle.ts";
import { nextGeneration, type MasterState } from "../state.ts";
import type { Supervisor } from "./supervisor.ts";
import { makeSupervisor } from "./supervisor-wiring.ts";
import { adoptCli, adoptListeners, adoptsEarly, readHandover } from "./takeover.ts";
import { masterView } from "./view.ts";

/** Everything one master image holds; one instance per process image. */
export class MasterHost {
  readonly px: Posix;
  readonly os: MasterOs;
  readonly log: Logger;
  /** the worker listeners, and the master CLI's (bound alike, never given to workers) */
  readonly listeners: ListenerRegistry;
  readonly cliListeners: ListenerRegistry;
  readonly cli: CliServer;
  /** the events of `show events`, numbered across re-execs */
  readonly events = new EventLog();
  readonly metrics: MetricsEndpoint;
  readonly reloader: Reloader;
  readonly pidfile: Pidfile;
  /** the executable as it was when this image started (a reload into it unchanged may start workers early) */
  readonly selfIdentity: FileIdentity | undefined;
  /** sd_notify to the service manager (a no-op without --systemd) */
  notifier: Notifier = NO_NOTIFIER;
  notify!: NotifyReceiver;
  notifyPath!: string;
  runDir!: string;
  state!: MasterState;
  supervisor!: Supervisor;
  /** the pidfile of the load in progress, written when it succeeds */
  pendingPidfile: PreparedPidfile | undefined;
  /** sockets of children that run as another user (host/userdirs.ts) */
  userDirs!: UserDirs;
  /** -D: the launcher's pipe, until the first load is over */
  readonly launcher: LauncherPipe;
  /** starts children through the native exec helper or the exec shim (workers/native-shim.ts) */
  readonly starter: ChildStarter;
  /** collects every child that ended (SIGCHLD) */
  readonly reaper: Reaper;
  /** after each load, gives back what start-up left behind */
  readonly settler: Settler;
  private ioHooked = false;

  constructor(
    readonly runtime: Runtime,
    /** the options of the current generation (a new image whose configuration did not load gets them in resume()) */
    public current: RunOptions,
    /** stop and reload signals (a new image's were hooked before this image loaded the rest) */
    readonly signals: SignalRouter = new SignalRouter(runtime),
  ) {
    const px = (this.px = new Posix(runtime.libc));
    // a new image of this same executable adopts the helper's memfd (workers/native-shim.ts)
    this.os = realOs(runtime, px, (path) => (sameFile(this.selfIdentity, this.os.fileIdentity(path)) ? this.starter.acrossExec() : undefined));
    this.launcher = new LauncherPipe(px, runtime.env);
    this.starter = new ChildStarter(px, runtime, this.os.pid, SIGKILL);
    this.log = createLogger({
      level: current?.logLevel ?? 3,
      pid: () => this.os.pid,
      // asked per line: a reload may change log-format; a new image without options yet logs text
      style: () => styleFor(this.current?.config.global.logFormat, this.current?.journalStream),
      onEvent: (fields, time) => this.events.record(fields, time),
      write: (line) => {
        writeLine(2, line);
        this.launcher.write(line);
      },
    });
    this.listeners = new ListenerRegistry(px);
    this.cliListeners = new ListenerRegistry(px);
    const view = masterView(this);
    const runCommand = createCommandRunner(view);
    // what a command ran grows the master back: a settle follows once the CLI is quiet (settle.ts)
    const run: typeof runCommand = (session, words) => (this.settler.used(), runCommand(session, words));
    this.cli = new CliServer(px, run, (s) => promptFor(view, s), (m) => this.log.warn(m), this.events);
    this.metrics = new MetricsEndpoint(px, this.log, () => this.state, VERSION, (pid) => holdsAnyListener(this.listeners.list(), pid));
    this.selfIdentity = this.os.fileIdentity(runtime.self.path);
    this.reloader = new Reloader(reloadPorts(this));
    this.pidfile = new Pidfile(this.os.pid);
    this.reaper = new Reaper(this.os, () => this.supervisor);
    const quiet = () => !this.reloader.inProgress && !this.supervisor.loading && this.state.phase === "running";
    this.settler = new Settler(this.os, px, this.log, runtime.compact?.bind(runtime), quiet);
  }

  get uid(): number {
    return this.px.fn.getuid();
  }

  get exe(): { path: string; compiled: boolean } {
    return { path: this.runtime.self.path, compiled: this.runtime.compiled };
  }

  // ---- start: REFERENCE §5.1, step by step -------------------------------------------

  startFresh(): void {
    const config = this.current.config;
    this.notifier = createNotifier(this.px, this.os.env, this.current.systemd, (m) => this.log.warn(m));
    // 1. Orphaned descendants are ours to reap (PID 1 reaps them anyway).
    if (this.os.pid !== 1) this.px.setChildSubreaper();
    // 2. The master's own directory, and the socket workers send sd_notify messages to.
    this.makeRunDir();
    this.state = { pid: this.os.pid, startedAt: this.os.now(), reloads: 0, failedReloads: 0, version: VERSION, phase: "starting", processes: new Map() };
    // 3. Resolve the commands and bind every listener, in configuration order (fds 3, 4, ...).
    const plans = planChildren(this, config);
    this.pendingPidfile = this.pidfile.prepare(config.global.pidfile);
    // 4. Signals before any child exists, so no exit status and no datagram is missed.
    this.supervisor = makeSupervisor(this, config, plans.worker, plans.program);
    this.installSignals();
    this.userDirs.signalWhenReadable();
    // 5. The master CLI, the metrics, the notify socket.
    syncCliListeners(this.cliListeners, this.cli, config.masterCli, this.log);
    this.metrics.sync(config.metrics);
    this.notify = NotifyReceiver.open(this.px, this.notifyPath, (from, fields) => this.supervisor.notified(from, fields));
    // 6. The first generation.
    this.supervisor.start();
    this.signals.open();
  }

  // ---- resume: a new image after re-exec, step by step --------------------------------

  /** Takes over the handed state, then loads the configuration this image read (`opts`), or reports why it could not (`problems`). */
  resume(handoverPath: string, opts: RunOptions | undefined, problems: string[] | undefined): void {
    // 1. The state the previous image wrote; the pointer to it reaches no child.
    const handover = readHandover(this.os, handoverPath, this.uid);
    delete this.os.env[HANDOVER_VAR];
    if (handover.events) this.events.adopt(handover.events);
    const adoptEarly = adoptsEarly(handover, opts);
    // 2. The master's own: options, run directory, pidfile, state, listeners, log.
    this.current = handover.options;
    this.notifier = createNotifier(this.px, this.os.env, (opts ?? handover.options).systemd, (m) => this.log.warn(m));
    this.runDir = handover.runDir;
    this.userDirs = new UserDirs(this.px, this.runDir, (from, fields) => this.supervisor.notified(from, fields));
    this.pidfile.written = handover.pidfile;
    if (handover.userDirs) this.userDirs.adopt(handover.userDirs);
    this.state = restoreState(handover);
    this.state.version = VERSION;
    adoptListeners(this.listeners, this.px, handover, adoptEarly);
    this.notifyPath = handover.notify.path;
    this.log.restoreLoad(handover.loadLines);
    // 3. The master CLI, after the SIGIO handler: its descriptors go back to O_ASYNC mode.
    this.hookIo();
    const requesterSession = adoptCli(this.cliListeners, this.cli, this.px, handover);
    // 4. The supervisor of the current generation, and the signals.
    const oldConfig = handover.options.config;
    const plans = planChildren(this, oldConfig);
    this.supervisor = makeSupervisor(this, oldConfig, plans.worker, plans.program);
    this.installSignals();
    this.metrics.adopt(handover.metrics, oldConfig.metrics, this.state.reloads);
    this.notify = NotifyReceiver.adopt(this.px, handover.notify.fd, handover.notify.path, (from, fields) => this.supervisor.notified(from, fields));
    this.userDirs.signalWhenReadable();
    // 5. The processes: those that exited while no image was listening, then supervision.
    this.reaper.reapAll();
    this.supervisor.resume();
    if (handover.early && !adoptEarly) {
      this.supervisor.abandonEarly(handover.early.generation);
      if (opts) this.log.notice(`The configuration changed during the exec: generation ${handover.early.generation} is started again from it`);
    }
    const requester = requesterSession ? { session: requesterSession, reply: (text: string) => this.cli.finish(requesterSession, text) } : undefined;
    if (handover.reloaded) {
      // 6. A re-exec owed by reloads the previous image loaded itself (reloader.ts): this
      // image takes over, and runs the reload asked for meanwhile, if one was.
      this.log.notice(`Master re-executed (version ${VERSION}) after reload ${this.state.reloads}`);
      this.reloader.resumeAfter(handover, requester);
      this.serviceAll();
      this.signals.open();
      this.settler.soon();
      return;
    }
    this.log.notice(`Master re-executed (version ${VERSION}); reload ${nextGeneration(this.state)} in progress`);
    // 6. The reload goes on in this image (reloader.ts).
    this.reloader.resumeIn(handover, opts, problems, requester, adoptEarly);
    // 7. What arrived during the exec, once the load watches the workers started before
    // it (a READY=1 drained earlier found no load waiting for it and was lost): datagrams,
    // connections in the backlog, and a stop signal, handled as if it arrived during the reload.
    this.serviceAll();
    this.signals.open();
  }

  // ---- the steps ------------------------------------------------------------------------

  private makeRunDir(): void {
    const made = makeRunDir(this.os.pid, this.uid, this.current.runDirEnv ?? {});
    for (const why of made.skipped) this.log.warn(`Run directory not in ${why}`);
    this.runDir = made.dir;
    this.userDirs = new UserDirs(this.px, this.runDir, (from, fields) => this.supervisor.notified(from, fields));
    this.notifyPath = join(this.runDir, "notify.sock");
  }

  /** Routes SIGIO to the master's sockets; must exist before any descriptor is in O_ASYNC mode (SIGIO's default ends the master). */
  private hookIo(): void {
    if (this.ioHooked) return;
    this.ioHooked = true;
    this.runtime.onSignal("SIGIO", () => this.serviceAll());
  }

  private serviceAll(): void {
    this.notify?.drain();
    this.userDirs?.drain();
    this.cli.service();
    this.metrics.service();
  }

  private installSignals(): void {
    this.runtime.onSignal("SIGCHLD", () => this.reaper.reapAll());
    this.hookIo();
    const forward: SignalName[] = ["SIGTERM", "SIGINT", "SIGUSR1", "SIGQUIT", "SIGTTIN", "SIGTTOU"];
    for (const sig of forward) this.signals.on(sig, () => this.supervisor.signal(sig));
    for (const sig of ["SIGHUP", "SIGUSR2"] as const) this.signals.on(sig, () => this.reloader.request(sig));
    // Signals that arrived while a previous image re-executed wait blocked: take them now.
    this.px.maskSignals(HELD_SIGNALS, false);
  }

  cleanup(): void {
    this.cli.closeAll();
    this.cliListeners.closeAll();
    this.metrics.closeAll();
    this.listeners.closeAll();
    this.notify?.close();
    this.userDirs?.close();
    if (this.runDir) this.os.remove(this.runDir);
    this.pidfile.discard(this.pendingPidfile);
    this.pidfile.remove();
  }
}

/**
 * Runs the master until it exits. `opts` is what this image's command line loaded; a new
 * image after re-exec whose configuration did not load passes none, with the problems.
 */
export async function startMaster(runtime: Runtime, opts: RunOptions | undefined, handoverProblems?: string[], signals?: SignalRouter): Promise<void> {
  if (opts?.daemon && runtime.env[LAUNCHER_FD_VAR] === undefined && runtime.env[HANDOVER_VAR] === undefined) {
    runtime.exit(await launchDaemon(runtime.self, opts.args, runtime.env, (line) => writeLine(2, line)));
  }
  const host = new MasterHost(runtime, opts as RunOptions, signals);
  try {
    const handover = runtime.env[HANDOVER_VAR];
    if (handover) host.resume(handover, opts, handoverProblems);
    else if (opts) host.startFresh();
    else throw new Error(handoverProblems?.join("; ") ?? "no configuration");
    // Signal listeners alone do not keep every runtime's event loop alive.
    host.os.keepAlive();
  } catch (e) {
    host.log.alert(`Starting failed: ${(e as Error).message}`);
    host.notifier.startFailed((e as Error).message);
    host.cleanup();
    runtime.exit(1);
  }
  // The master ends only through runtime.exit (REFERENCE §6 codes), never by returning.
  return new Promise<void>(() => {});
}
