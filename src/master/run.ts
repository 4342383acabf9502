/**
 * The master process, wired to the real system. `startMaster` is REFERENCE §5.1 (a fresh
 * start) or the second half of §5.3 (a new image taking over after re-exec); the reload
 * itself (preflight, handover, execve) is in reexec.ts.
 */
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import type { Config, ListenerConfig, MasterCliConfig } from "../config/types.ts";
import { ListenerRegistry, listenerKey } from "../listeners/registry.ts";
import { createLogger, type Logger } from "../log.ts";
import { styleFor } from "../log-format.ts";
import { NotifyReceiver } from "../notify/receiver.ts";
import { createNotifier, NO_NOTIFIER, type Notifier } from "../notify/systemd.ts";
import type { Runtime, SignalName } from "../runtime/types.ts";
import { dropCleanFilePages } from "../sys/mappings.ts";
import { Posix, type WaitStatus } from "../sys/posix.ts";
import { ListenerSteering } from "../listeners/steer.ts";
import { VERSION } from "../version.ts";
import { resolveRunnable, type ResolvedCommand } from "../workers/bun-command.ts";
import { argvWithListeners, envWithListeners } from "../workers/dialects.ts";
import { inheritedEnv, workerEnv, type ChildSpec } from "../workers/plan.ts";
import { ChildStarter } from "../workers/native-shim.ts";
import { isAccepting } from "../workers/readiness.ts";
import { holdsListener } from "../workers/holding.ts";
import { TreeRss } from "../workers/rss.ts";
import { isReusePort, reusePortHolds, reusePortReady, reusePortReason, sharePlan } from "../workers/reuseport.ts";
import { ensureMigrateReq } from "../listeners/migrate.ts";
import { createCommandRunner, promptFor } from "../mcli/commands.ts";
import { cliSocketPath, masterView } from "./view.ts";
import { parentOf, takeLauncherFd, writeLine } from "./files.ts";
import { makeRunDir, readPrivateFile, verifyRunDir } from "./rundir.ts";
import { Pidfile, type PreparedPidfile } from "./pidfile.ts";
import { UserDirs } from "./userdirs.ts";
import { CliServer } from "../mcli/server.ts";
import { EventLog } from "../mcli/events.ts";
import { MetricsEndpoint } from "../metrics/endpoint.ts";
import { decodeHandover, HANDOVER_VAR, restoreState, type Handover } from "./handover.ts";
import type { RunOptions } from "./options.ts";
import { Reloader } from "./reexec.ts";
import { SignalRouter } from "./signal-router.ts";
import { launchDaemon, LAUNCHER_FD_VAR, READY_MARK } from "./daemon.ts";
import { fileIdentity, type FileIdentity } from "./preflight.ts";
import { nextGeneration, type MasterState } from "./state.ts";
import { Strays } from "./strays.ts";
import { healthPlanner } from "./health-plan.ts";
import { Supervisor, type LoadResult, type ProgramPlanner, type SupervisorPorts, type WorkerPlanner } from "./supervisor.ts";
import { SIGKILL, SIGTERM } from "../sys/constants.ts";


export class StartError extends Error {}

/** Everything one master image holds; one instance per process image. */
export class MasterHost {
  readonly px: Posix;
  /** starts children through the native exec helper or the exec shim (workers/native-shim.ts) */
  private readonly starter: ChildStarter;
  readonly pid: number;
  readonly log: Logger;
  readonly listeners: ListenerRegistry;
  /** reuse-port steering before old workers stop (listeners/steer.ts) */
  private steering?: ListenerSteering;
  /** master CLI listeners: bound like worker listeners, never given to workers */
  readonly cliListeners: ListenerRegistry;
  readonly cli: CliServer;
  /** the events of `show events`, numbered across re-execs */
  readonly events = new EventLog();
  readonly metrics: MetricsEndpoint;
  /** sd_notify to the service manager (a no-op without --systemd) */
  notifier: Notifier = NO_NOTIFIER;
  notify!: NotifyReceiver;
  notifyPath!: string;
  runDir!: string;
  state!: MasterState;
  supervisor!: Supervisor;
  /** the options of the current generation */
  current: RunOptions;
  readonly reloader: Reloader;
  /** the executable as it was when this image started (a reload into it unchanged may start workers early) */
  readonly selfIdentity: FileIdentity | undefined;
  private readonly waiters = new Map<number, (ws: WaitStatus) => void>();
  readonly pidfile: Pidfile;
  /** the pidfile of the load in progress, written when it succeeds */
  private pendingPidfile: PreparedPidfile | undefined;
  /** sockets of children that run as another user (userdirs.ts) */
  userDirs!: UserDirs;
  /** -D: the launcher's pipe, until the first load is over */
  private launcherFd: number | undefined;
  private settleTimer: ReturnType<typeof setTimeout> | undefined;
  /** workers' tree RSS for max-rss and old-rss-budget (workers/rss.ts) */
  private readonly treeRss = new TreeRss();

  /**
   * A load (the first, or a reload, good or failed) is over: once the master has been
   * quiet for a second, give back what start-up left behind: the runtime's garbage and
   * the executable's pages it read (sys/mappings.ts).
   */
  settleSoon(): void {
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      if (this.reloader.inProgress || this.supervisor.loading || this.state.phase !== "running") return;
      this.runtime.compact?.();
      try {
        const kib = dropCleanFilePages(this.px.fn, readFileSync("/proc/self/smaps", "utf8"));
        this.log.debug(`Gave back ${(kib / 1024).toFixed(1)} MiB of start-up pages of the executable`);
      } catch (e) {
        this.log.debug(`Could not give back start-up pages: ${(e as Error).message}`);
      }
    }, 1000);
  }

  /** Whether `pid` (or a descendant) holds one of the master's listeners, read from /proc now; undefined: no listener, or cannot tell. */
  holdsListener(pid: number): boolean | undefined {
    const inherited = this.listeners.list().filter((l) => !isReusePort(l));
    const inodes = new Set(inherited.map((l) => l.inode).filter((inode) => inode !== ""));
    const held = inodes.size === 0 ? undefined : holdsListener(pid, inodes);
    // a reuse-port listener: the worker's own socket on its address (workers/reuseport.ts)
    return held === true ? true : (reusePortHolds(this.listeners.list(), pid) ?? held);
  }

  /** Tells a -D launcher the first generation is ready, and lets it go. */
  private releaseLauncher(): void {
    if (this.launcherFd === undefined) return;
    this.px.writeAll(this.launcherFd, `${READY_MARK}\n`);
    this.px.close(this.launcherFd);
    this.launcherFd = undefined;
  }

  constructor(
    readonly runtime: Runtime,
    opts: RunOptions | undefined,
    /** stop and reload signals (a new image's were hooked before this image loaded the rest) */
    readonly signals: SignalRouter = new SignalRouter(runtime),
  ) {
    this.px = new Posix(runtime.libc);
    this.pid = this.px.pid();
    this.launcherFd = takeLauncherFd(this.px, runtime.env);
    this.starter = new ChildStarter(this.px, runtime, this.pid, SIGKILL);
    this.log = createLogger({
      level: opts?.logLevel ?? 3,
      pid: () => this.pid,
      // asked per line: a reload may change log-format; a new image without options yet logs text
      style: () => styleFor(this.current?.config.global.logFormat, this.current?.journalStream),
      onEvent: (fields, time) => this.events.record(fields, time),
      write: (line) => {
        writeLine(2, line);
        // through libc: node:fs under Deno maps descriptor numbers above 2 to its own resources
        if (this.launcherFd !== undefined) this.px.writeAll(this.launcherFd, `${line}\n`);
      },
    });
    this.listeners = new ListenerRegistry(this.px);
    this.cliListeners = new ListenerRegistry(this.px);
    const view = masterView(this);
    this.cli = new CliServer(this.px, createCommandRunner(view), (s) => promptFor(view, s), (m) => this.log.warn(m), this.events);
    this.metrics = new MetricsEndpoint(this.px, this.log, () => this.state, VERSION, (pid) => this.holdsListener(pid));
    // without options (a new image whose configuration did not load) resume() sets them
    this.current = opts as RunOptions;
    this.reloader = new Reloader(this);
    this.selfIdentity = fileIdentity(runtime.self.path);
    this.pidfile = new Pidfile(this.pid);
  }

  // ---- plans ------------------------------------------------------------------------

  /** Binds what `config` listens on (keeping what is bound) and returns how its workers start. */
  planFor(config: Config): WorkerPlanner {
    this.checkIdentity(config);
    const command = config.worker.command;
    const resolved = resolveRunnable(command, config.worker.env.PATH ?? this.runtime.env.PATH, config.worker.cwd ?? this.runtime.cwd(), this.runtime.bun);
    if ("error" in resolved) throw new StartError(`worker.command: ${resolved.error}`);
    const bound = config.listen.map((l) => {
      const known = this.listeners.get(this.listeners.keyOf(l));
      const b = this.listeners.bind(l, config.global.uid);
      if (!known) this.log.notice(`Listener '${b.name}' bound to ${b.url} (fd ${b.fd})`);
      return b;
    });
    const { notifyPath, cliDir } = this.userDirs.socketsFor(config.global.uid, config.global.gid, this.px.fn.getuid(), this.notifyPath);
    // share = "reuseport" listeners are not passed down: workers get their address (workers/reuseport.ts)
    const shared = sharePlan(bound);
    if (shared.inherited.length < bound.length) ensureMigrateReq((line) => this.log.notice(line));
    const watchdog = config.global.watchdog ?? 0;
    const planner = (id: number, generation: number): ChildSpec => ({
      label: `worker ${id}`,
      path: resolved.path,
      argv: argvWithListeners(resolved.argv, shared.inherited),
      ...(resolved.execEnv ? { execEnv: resolved.execEnv } : {}),
      ...(resolved.runtime ? { runtime: resolved.runtime() } : {}),
      ...(config.worker.cwd !== undefined ? { cwd: config.worker.cwd } : {}),
      env: {
        ...workerEnv({
          masterEnv: this.runtime.env,
          configEnv: envWithListeners(config.worker, shared.inherited, this.pid),
          listenerNames: shared.inherited.map((l) => l.name),
          workerId: id,
          generation,
          masterPid: this.pid,
          notifySocket: notifyPath,
          cliSocket: cliSocketPath(cliDir, { kind: "worker", generation, id }),
          watchdog,
        }),
        ...shared.env,
      },
      fds: shared.inherited.map((l) => l.fd),
      ...(config.global.uid !== undefined ? { uid: config.global.uid } : {}),
      ...(config.global.gid !== undefined ? { gid: config.global.gid } : {}),
      ...(watchdog > 0 ? { watchdog } : {}),
    });
    const health = config.worker.health;
    if (!health) return planner;
    const check = resolveRunnable(health.command, config.worker.env.PATH ?? this.runtime.env.PATH, config.worker.cwd ?? this.runtime.cwd(), this.runtime.bun);
    if ("error" in check) throw new StartError(`worker.health.command: ${check.error}`);
    return Object.assign(planner, {
      health: healthPlanner({
        health,
        resolved: check,
        masterEnv: this.runtime.env,
        configEnv: config.worker.env,
        ...(config.worker.cwd !== undefined ? { cwd: config.worker.cwd } : {}),
        ...(config.global.uid !== undefined ? { uid: config.global.uid } : {}),
        ...(config.global.gid !== undefined ? { gid: config.global.gid } : {}),
        masterPid: this.pid,
        runDir: this.runDir,
        cliSocket: (generation, id) => cliSocketPath(cliDir, { kind: "worker", generation, id }),
      }),
    });
  }

  /** `user`/`group` can be applied only by a master that may change identity. */
  private checkIdentity(config: Config): void {
    const { uid, gid, user, group } = config.global;
    if (uid === undefined && gid === undefined) return;
    const me = this.px.fn.getuid();
    if (me === 0) return;
    if ((uid === undefined || uid === me) && gid === undefined) return;
    const who = [user !== undefined ? `user '${user}'` : "", group !== undefined ? `group '${group}'` : ""].filter(Boolean).join(" and ");
    throw new StartError(`global: cannot run workers as ${who}: the master runs as uid ${me} and only root can switch identity`);
  }

  /** How `config`'s programs start; every command is resolved now, for a clear error. */
  programPlanFor(config: Config): ProgramPlanner {
    const resolved = new Map<string, ResolvedCommand>();
    for (const program of config.program) {
      const r = resolveRunnable(program.command, program.env.PATH ?? this.runtime.env.PATH, program.cwd ?? this.runtime.cwd(), this.runtime.bun);
      if ("error" in r) throw new StartError(`program '${program.name}': command: ${r.error}`);
      resolved.set(program.name, r);
    }
    const { notifyPath, cliDir } = this.userDirs.socketsFor(config.global.uid, config.global.gid, this.px.fn.getuid(), this.notifyPath);
    return (program) => ({
      label: `program '${program.name}'`,
      path: resolved.get(program.name)!.path,
      argv: resolved.get(program.name)!.argv,
      ...(resolved.get(program.name)!.execEnv ? { execEnv: resolved.get(program.name)!.execEnv } : {}),
      ...(program.cwd !== undefined ? { cwd: program.cwd } : {}),
      env: {
        ...inheritedEnv(this.runtime.env),
        ...program.env,
        NOTIFY_SOCKET: notifyPath,
        STEWARD_MASTER_PID: String(this.pid),
        STEWARD_CLI_SOCKET: cliSocketPath(cliDir, { kind: "program", name: program.name }),
      },
      fds: [],
      ...(config.global.uid !== undefined ? { uid: config.global.uid } : {}),
      ...(config.global.gid !== undefined ? { gid: config.global.gid } : {}),
    });
  }

  /** Binds the master CLI listeners `config` names; closes those it no longer names. */
  syncCliListeners(wanted: MasterCliConfig[]): void {
    const asListener = (c: MasterCliConfig): ListenerConfig => ({
      name: "master-cli",
      bind: c.bind,
      address: c.address,
      backlog: 128,
      mode: c.mode,
      ...(c.uid !== undefined ? { uid: c.uid } : {}),
      ...(c.gid !== undefined ? { gid: c.gid } : {}),
    });
    const keep = new Set<string>();
    for (const c of wanted) {
      const lc = asListener(c);
      const key = this.cliListeners.keyOf(lc);
      keep.add(key);
      if (this.cliListeners.get(key)) continue;
      const b = this.cliListeners.bind(lc);
      this.cli.add({ key, fd: b.fd, config: c, sessions: 0 });
      this.log.notice(`Master CLI listening on ${b.url} (level ${c.level})`);
    }
    for (const l of this.cliListeners.list()) {
      if (keep.has(l.key)) continue;
      this.cli.removeListener(l.key);
      this.cliListeners.close(l.key);
    }
  }

  /** Closes the listeners `config` no longer names (once no old worker needs them). */
  closeUnusedListeners(config: Config): void {
    const keep = new Set(config.listen.map((l) => this.listeners.keyOf(l)));
    for (const l of this.listeners.list()) {
      if (keep.has(l.key)) continue;
      this.listeners.close(l.key);
      this.log.notice(`Listener '${l.name}' (${l.url}) closed: no longer configured`);
    }
  }

  private ports(): SupervisorPorts {
    const steering = (this.steering ??= new ListenerSteering(this.px, this.log));
    return {
      now: () => Date.now(),
      after: (ms, fn) => {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      },
      spawn: (child) => this.starter.spawn(child),
      kill: (target, sig) => this.px.kill(target, sig),
      isAccepting: (wpid) =>
        isAccepting(wpid, new Set(this.listeners.list().map((l) => l.inode)), process.arch) || reusePortReady(this.listeners.list(), wpid, process.arch),
      notReadyReason: (wpid) => reusePortReason(this.listeners.list(), wpid),
      parentOf,
      drainNotify: () => {
        this.notify?.drain();
        this.userDirs?.drain();
      },
      rssOf: (wpid) => this.treeRss.of(wpid),
      releaseListeners: (old, current) => steering.steer(this.listeners.list(), old, current),
      strays: new Strays({
        self: this.pid,
        known: (pid) => this.supervisor.tracks(pid),
        kill: (pid, sig) => {
          try {
            this.px.kill(pid, sig);
          } catch (e) {
            this.log.warn(`Cannot signal process ${pid}: ${(e as Error).message}`);
          }
        },
        hasChildren: () => this.px.hasChildren(),
      }),
      exit: (code) => {
        this.cleanup();
        this.runtime.exit(code);
      },
    };
  }

  private makeSupervisor(config: Config, plan: WorkerPlanner): Supervisor {
    const programPlan = this.programPlanFor(config);
    return new Supervisor(config, this.state, this.ports(), this.log, plan, {
      stopping: () => {
        this.notifier.stopping();
        this.reloader.stopping();
      },
      loaded: (generation) => {
        // the pidfile first: whoever waits for READY (a -D launcher, systemd) may read it at once
        const pending = this.pendingPidfile;
        this.pendingPidfile = undefined;
        try {
          this.pidfile.commit(pending);
        } catch (e) {
          const reason = (e as Error).message;
          if (generation > 0) {
            this.log.warn(reason);
          } else {
            this.log.alert(`Starting failed: ${reason}`);
            this.notifier.startFailed(reason);
            this.supervisor.stop(1, SIGTERM);
            return;
          }
        }
        this.notifier.ready(this.pid);
        this.releaseLauncher();
        this.settleSoon();
      },
      oldGone: () => {
        this.steering?.detach(this.listeners.list(), [...this.state.processes.values()].filter((p) => p.kind === "worker").map((p) => p.pid));
        // during a probation `current` is still the previous configuration: the new one's listeners stay
        if (!this.supervisor.loading && this.supervisor.probation.generation === undefined) this.closeUnusedListeners(this.current.config);
      },
      probationStarted: (generation, until) => this.notifier.probation(generation, until),
      workerStarted: () => this.metrics.workerStarted(),
      exited: (p, ws) => {
        this.treeRss.forget(p.pid);
        this.metrics.processExited(p, ws);
      },
      restarting: (p) => this.metrics.restarting(p),
    }, programPlan);
  }

  // ---- children and signals ---------------------------------------------------------

  /** Resolves with the exit status of a child that is not a worker (preflight). */
  waitFor(pid: number): Promise<WaitStatus> {
    return new Promise((resolve) => this.waiters.set(pid, resolve));
  }

  reapAll(): void {
    for (let ws = this.px.reapOne(); ws; ws = this.px.reapOne()) {
      const waiter = this.waiters.get(ws.pid);
      if (waiter) {
        this.waiters.delete(ws.pid);
        waiter(ws);
        this.supervisor.otherChildGone();
      } else {
        this.supervisor.childExited(ws);
      }
    }
  }

  private ioHooked = false;

  /**
   * Routes SIGIO to the master's sockets. It must exist before any descriptor is put in
   * O_ASYNC mode: SIGIO's default action would end the master. The callback runs on the
   * event loop, after the synchronous start or takeover that hooked it.
   */
  private hookIo(): void {
    if (this.ioHooked) return;
    this.ioHooked = true;
    this.runtime.onSignal("SIGIO", () => {
      this.notify?.drain();
      this.userDirs?.drain();
      this.cli.service();
      this.metrics.service();
    });
  }

  private installSignals(): void {
    const rt = this.runtime;
    rt.onSignal("SIGCHLD", () => this.reapAll());
    this.hookIo();
    const forward: SignalName[] = ["SIGTERM", "SIGINT", "SIGUSR1", "SIGQUIT", "SIGTTIN", "SIGTTOU"];
    for (const sig of forward) this.signals.on(sig, () => this.supervisor.signal(sig));
    for (const sig of ["SIGHUP", "SIGUSR2"] as const) this.signals.on(sig, () => this.reloader.request(sig));
    // Signals that arrived while a previous image re-executed wait blocked: take them now.
    this.px.maskSignals(Reloader.HELD_SIGNALS, false);
  }

  cleanup(): void {
    this.cli.closeAll();
    this.cliListeners.closeAll();
    this.metrics.closeAll();
    this.listeners.closeAll();
    this.notify?.close();
    this.userDirs?.close();
    if (this.runDir) rmSync(this.runDir, { recursive: true, force: true });
    this.pidfile.discard(this.pendingPidfile);
    this.pidfile.remove();
  }

  // ---- start ------------------------------------------------------------------------

  /** REFERENCE §5.1, step by step. */
  startFresh(): void {
    const config = this.current.config;
    this.notifier = createNotifier(this.px, this.runtime.env, this.current.systemd, (m) => this.log.warn(m));
    // 1. Orphaned descendants are ours to reap (PID 1 reaps them anyway).
    if (this.pid !== 1) this.px.setChildSubreaper();
    // 2. The master's own directory, and the socket workers send sd_notify messages to.
    const made = makeRunDir(this.pid, this.px.fn.getuid(), this.current.runDirEnv ?? {});
    for (const why of made.skipped) this.log.warn(`Run directory not in ${why}`);
    this.runDir = made.dir;
    this.userDirs = new UserDirs(this.px, this.runDir, (from, fields) => this.supervisor.notified(from, fields));
    this.state = {
      pid: this.pid,
      startedAt: Date.now(),
      reloads: 0,
      failedReloads: 0,
      version: VERSION,
      phase: "starting",
      processes: new Map(),
    };
    this.notifyPath = join(this.runDir, "notify.sock");
    // 3. Resolve the command and bind every listener, in configuration order (fds 3, 4, ...).
    const plan = this.planFor(config);
    this.pendingPidfile = this.pidfile.prepare(config.global.pidfile);
    // 4. Signals before any child exists, so no exit status and no datagram is missed.
    this.supervisor = this.makeSupervisor(config, plan);
    this.installSignals();
    this.userDirs.signalWhenReadable();
    // 5. The master CLI.
    this.syncCliListeners(config.masterCli);
    this.metrics.sync(config.metrics);
    this.notify = NotifyReceiver.open(this.px, this.notifyPath, (from, fields) => this.supervisor.notified(from, fields));
    // 6. The first generation.
    this.supervisor.start();
    this.signals.open();
  }

  /**
   * A new image after re-exec: take over the handed state, then load the configuration
   * this image read (`opts`), or report why it could not (`problems`).
   */
  resume(handoverPath: string, opts: RunOptions | undefined, problems: string[] | undefined): void {
    let handover: Handover;
    try {
      verifyRunDir(dirname(handoverPath), this.px.fn.getuid());
      const decoded = decodeHandover(readPrivateFile(handoverPath));
      rmSync(handoverPath, { force: true });
      if (!decoded.ok) throw new StartError(decoded.reason);
      handover = decoded.handover;
    } catch (e) {
      // Preflight makes this unreachable for a binary that passed it; without the state
      // the processes cannot be supervised, so stop what can be found and exit.
      throw new StartError(`cannot take over the previous master's state: ${(e as Error).message}`);
    }
    delete this.runtime.env[HANDOVER_VAR];
    if (handover.events) this.events.adopt(handover.events);
    // A generation the previous image started before the exec is gated here if this image
    // loaded the very same configuration; otherwise it is killed and this image starts its own.
    const early = handover.early;
    const adoptEarly = !!early && !!opts && JSON.stringify(opts.config) === JSON.stringify(early.options.config);
    this.current = handover.options;
    this.notifier = createNotifier(this.px, this.runtime.env, (opts ?? handover.options).systemd, (m) => this.log.warn(m));
    this.runDir = handover.runDir;
    this.userDirs = new UserDirs(this.px, this.runDir, (from, fields) => this.supervisor.notified(from, fields));
    this.pidfile.written = handover.pidfile;
    if (handover.userDirs) this.userDirs.adopt(handover.userDirs);
    this.state = restoreState(handover);
    this.state.version = VERSION;
    const kept = adoptEarly ? [...handover.options.config.listen, ...early.options.config.listen] : handover.options.config.listen;
    for (const l of handover.listeners) {
      const config = kept.find((c) => this.listeners.keyOf(c) === l.key);
      if (config) this.listeners.adopt({ ...l, config });
      else this.px.close(l.fd);
    }
    this.notifyPath = handover.notify.path;
    this.log.restoreLoad(handover.loadLines);
    this.hookIo(); // before the CLI listeners and sessions are put back in O_ASYNC mode
    for (const l of handover.cli.listeners) {
      const c = handover.options.config.masterCli.find((m) => listenerKey(m.address) === l.key);
      if (!c) {
        this.px.close(l.fd);
        continue;
      }
      this.cliListeners.adopt({ ...l, config: { name: "master-cli", bind: c.bind, address: c.address, backlog: 128 } });
      this.cli.add({ key: l.key, fd: l.fd, config: c, sessions: 0 });
    }
    const requesterSession = handover.cli.requester ? this.cli.adoptSession(handover.cli.requester) : undefined;
    for (const h of handover.cli.fresh ?? []) this.cli.adoptSession(h, false);
    const oldConfig = handover.options.config;
    this.supervisor = this.makeSupervisor(oldConfig, this.planFor(oldConfig));
    this.installSignals();
    // after the SIGIO handler exists: O_ASYNC on a descriptor without one would end the master
    this.metrics.adopt(handover.metrics, handover.options.config.metrics, this.state.reloads);
    this.notify = NotifyReceiver.adopt(this.px, handover.notify.fd, handover.notify.path, (from, fields) =>
      this.supervisor.notified(from, fields),
    );
    this.userDirs.signalWhenReadable();
    this.reapAll(); // children that exited while no image was listening
    this.supervisor.resume();
    if (early && !adoptEarly) {
      this.supervisor.abandonEarly(early.generation);
      if (opts) this.log.notice(`The configuration changed during the exec: generation ${early.generation} is started again from it`);
    }
    this.log.notice(`Master re-executed (version ${VERSION}); reload ${nextGeneration(this.state)} in progress`);
    const requester = requesterSession
      ? { session: requesterSession, reply: (text: string) => this.cli.finish(requesterSession, text) }
      : undefined;
    this.reloader.resumeIn(this.state, handover, opts, problems, requester, adoptEarly);
    // Datagrams that arrived during the exec, once the load watches the workers started
    // before it: a READY=1 drained earlier found no load waiting for it and was lost.
    this.notify.drain();
    this.userDirs.drain();
    this.cli.service(); // connections that waited in the backlog during the exec
    this.metrics.service();
    // a stop signal that reached this image while it started is handled now, as if it had
    // arrived during the reload
    this.signals.open();
  }

  /**
   * Before a re-exec into this same binary: starts the workers of the next generation from
   * `opts` (already checked), so that they start while the master re-executes. Returns
   * what the handover must say of them, or undefined if they could not be started (the
   * new image then starts them itself, and reports why if it cannot either).
   */
  startEarly(opts: RunOptions): { generation: number; options: RunOptions } | undefined {
    let plan: WorkerPlanner;
    try {
      plan = this.planFor(opts.config);
      this.programPlanFor(opts.config);
    } catch {
      return undefined;
    }
    const generation = this.supervisor.spawnEarly(opts.config, plan);
    return generation === undefined ? undefined : { generation, options: opts };
  }

  /** Runs a load of `opts` as a reload (gating the workers started early with `adopt`); `done` gets the result. */
  reloadWith(opts: RunOptions, hard: boolean, done: (r: LoadResult) => void, adopt = false): void {
    let plan: WorkerPlanner;
    let programPlan: ProgramPlanner;
    try {
      plan = this.planFor(opts.config);
      programPlan = this.programPlanFor(opts.config);
      this.pendingPidfile = this.pidfile.prepare(opts.config.global.pidfile);
    } catch (e) {
      if (adopt) this.supervisor.abandonEarly(nextGeneration(this.state));
      this.closeUnusedListeners(this.current.config);
      const reason = (e as Error).message;
      this.state.failedReloads++;
      this.state.lastFailure = reason;
      this.log.alert(`Reload failed: ${reason}`, { event: "reload-failed", generation: nextGeneration(this.state), reason });
      this.notifier.reloadFailed(reason);
      done({ ok: false, reason, exitCode: 1 });
      return;
    }
    this.supervisor.reload(opts.config, plan, hard, (result) => {
      if (result.ok) {
        this.current = opts;
        try {
          this.syncCliListeners(opts.config.masterCli);
        } catch (e) {
          this.log.warn(`Master CLI: ${(e as Error).message}`);
        }
        try {
          this.metrics.sync(opts.config.metrics);
        } catch (e) {
          this.log.warn(`Metrics: ${(e as Error).message}`);
        }
      } else {
        this.pidfile.discard(this.pendingPidfile);
        this.pendingPidfile = undefined;
        this.closeUnusedListeners(this.current.config);
        if (result.rolledBack) this.metrics.rolledBack();
        if (this.state.phase === "stopping") {
          // a reload ended by the master stopping (during a probation): no READY=1 after STOPPING=1
        } else if (result.rolledBack) {
          this.notifier.rolledBack(result.reason);
        } else {
          this.notifier.reloadFailed(result.reason);
        }
      }
      done(result);
    }, programPlan, adopt);
  }
}

/**
 * Runs the master until it exits. `opts` is what this image's command line loaded; a new
 * image after re-exec whose configuration did not load passes none, with the problems.
 */
export async function startMaster(
  runtime: Runtime,
  opts: RunOptions | undefined,
  handoverProblems?: string[],
  signals?: SignalRouter,
): Promise<void> {
  if (opts?.daemon && runtime.env[LAUNCHER_FD_VAR] === undefined && runtime.env[HANDOVER_VAR] === undefined) {
    runtime.exit(await launchDaemon(runtime.self, opts.args, runtime.env, (line) => writeLine(2, line)));
  }
  const host = new MasterHost(runtime, opts, signals);
  try {
    const handover = runtime.env[HANDOVER_VAR];
    if (handover) host.resume(handover, opts, handoverProblems);
    else if (opts) host.startFresh();
    else throw new StartError(handoverProblems?.join("; ") ?? "no configuration");
    // Signal listeners alone do not keep every runtime's event loop alive.
    setInterval(() => {}, 2 ** 30);
  } catch (e) {
    host.log.alert(`Starting failed: ${(e as Error).message}`);
    host.notifier.startFailed((e as Error).message);
    host.cleanup();
    runtime.exit(1);
  }
  // The master ends only through runtime.exit (REFERENCE §6 codes), never by returning.
  return new Promise<void>(() => {});
}
