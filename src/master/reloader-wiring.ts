/**
 * The real ports of a reload (reloader.ts): what the reload asks of the master, done on
 * the master's listeners, sessions, metrics and supervisor. `ReloadHost` is the part of
 * MasterHost (run.ts) it reads, so this file does not import run.ts.
 */
import type { ListenerRegistry } from "../listeners/registry.ts";
import type { Logger } from "../log.ts";
import type { CliServer, Session } from "../mcli/server.ts";
import type { MetricsEndpoint } from "../metrics/endpoint.ts";
import type { EventLog } from "../mcli/events.ts";
import type { NotifyReceiver } from "../notify/receiver.ts";
import type { Notifier } from "../notify/systemd.ts";
import type { Runtime } from "../runtime/types.ts";
import type { Posix, WaitStatus } from "../sys/posix.ts";
import type { Pidfile, PreparedPidfile } from "../host/pidfile.ts";
import type { UserDirs } from "../host/userdirs.ts";
import { VERSION } from "../version.ts";
import { closeUnusedListeners, syncCliListeners } from "./bind.ts";
import { ExecSignals, HELD_SIGNALS, IGNORED_DURING_EXEC, STOP_SIGNALS } from "./exec-signals.ts";
import { HANDOVER_FORMAT, type Handover } from "./handover.ts";
import type { RunOptions } from "./options.ts";
import type { FileIdentity, MasterOs } from "./os.ts";
import { planChildren, type PlanningHost } from "./plans.ts";
import type { Early, LoadOutcome, ReloadPorts } from "./reloader.ts";
import { nextGeneration, type MasterState } from "../state.ts";
import type { Supervisor, WorkerPlanner } from "./supervisor.ts";

export interface ReloadHost extends PlanningHost {
  readonly os: MasterOs;
  readonly px: Posix;
  readonly runtime: Runtime;
  readonly log: Logger;
  readonly selfIdentity: FileIdentity | undefined;
  readonly listeners: ListenerRegistry;
  readonly cliListeners: ListenerRegistry;
  readonly cli: CliServer;
  readonly metrics: MetricsEndpoint;
  /** the events of `show events` (mcli/events.ts), handed across the exec */
  readonly events: EventLog;
  readonly pidfile: Pidfile;
  pendingPidfile: PreparedPidfile | undefined;
  notifier: Notifier;
  notify: NotifyReceiver;
  userDirs: UserDirs;
  runDir: string;
  state: MasterState;
  supervisor: Supervisor;
  current: RunOptions;
  readonly reaper: { waitFor(pid: number): Promise<WaitStatus> };
  readonly settler: { soon(): void };
}

export function reloadPorts(host: ReloadHost): ReloadPorts {
  const signals = new ExecSignals(host.runtime, host.px, host.os);
  let ignored: (readonly [number, bigint])[] = [];
  return {
    os: host.os,
    self: host.runtime.self,
    compiled: host.runtime.compiled,
    selfIdentity: host.selfIdentity,
    state: () => host.state,
    current: () => host.current,
    runDir: () => host.runDir,
    log: host.log,
    reloading: () => host.notifier.reloading(),
    reloadFailed: (reason) => host.notifier.reloadFailed(reason),
    rolledBack: (reason) => host.notifier.rolledBack(reason),
    began() {
      host.cli.reloadStarted();
      host.metrics.reloadBegan();
    },
    ended(ok) {
      host.metrics.reloadEnded(ok);
      host.settler.soon();
    },
    waitFor: (pid) => host.reaper.waitFor(pid),
    hold: () => signals.hold(HELD_SIGNALS),
    stopWaiting: () => signals.waiting(STOP_SIGNALS).length > 0,
    release: () => signals.release(HELD_SIGNALS),
    startEarly: (options) => startEarly(host, options),
    abandonEarly: (generation) => host.supervisor.abandonEarly(generation),
    handOver: (parts, requester, answered) => handOver(host, parts, requester, answered),
    crossesExec: (session) => host.cli.crossesExec(session),
    handOverFailed(requester, answered) {
      host.cli.execFailed([requester, answered]);
      host.metrics.execFailed();
    },
    keepAcrossExec(on) {
      if (on) {
        host.listeners.keepAcrossExec(true);
        host.notify.prepareExec();
        host.userDirs.prepareExec();
        ignored = IGNORED_DURING_EXEC.map((s) => [s, host.px.ignoreSignal(s)] as const);
      } else {
        for (const [s, handler] of ignored) host.px.restoreSignal(s, handler);
        host.notify.execFailed();
        host.userDirs.execFailed();
        host.listeners.keepAcrossExec(false);
      }
    },
    load: (options, hard, adopt, done) => load(host, options, hard, adopt, done),
  };
}

/** The state for the next image. CLI sessions end here (answered first), but for those that have sent nothing yet. */
function handOver(host: ReloadHost, parts: Pick<Handover, "reloadPending" | "hard" | "early" | "reloaded">, requester: Session | undefined, answered: Session | undefined): Handover {
  const { processes, phase: _phase, ...master } = host.state;
  const fresh = host.cli.prepareExec([requester, answered]);
  // the session of a reload answered before this exec goes on in the next image, not busy
  if (answered && answered !== requester) fresh.push(host.cli.handOver(answered));
  return {
    format: HANDOVER_FORMAT,
    writtenBy: VERSION,
    master,
    processes: [...processes.values()],
    listeners: host.listeners.list().map(({ config: _c, ...l }) => l),
    notify: { fd: host.notify.fd, path: host.notify.path },
    runDir: host.runDir,
    options: host.current,
    cli: {
      listeners: host.cliListeners.list().map(({ config: _c, ...l }) => l),
      ...(requester ? { requester: host.cli.handOver(requester) } : {}),
      fresh,
    },
    loadLines: host.log.loadLines(),
    ...parts,
    ...(host.pidfile.written ? { pidfile: host.pidfile.written } : {}),
    ...(host.userDirs.handover() ? { userDirs: host.userDirs.handover()! } : {}),
    metrics: host.metrics.prepareExec(),
    events: host.events.handOver(),
  };
}

/**
 * Before a re-exec into this same binary: starts the workers of the next generation from
 * `options` (already checked), so that they start while the master re-executes. Returns
 * what the handover must say of them, or undefined if they could not be started (the
 * new image then starts them itself, and reports why if it cannot either).
 */
function startEarly(host: ReloadHost, options: RunOptions): Early | undefined {
  let plan: WorkerPlanner;
  try {
    plan = planChildren(host, options.config).worker;
  } catch {
    return undefined;
  }
  const generation = host.supervisor.spawnEarly(options.config, plan);
  return generation === undefined ? undefined : { generation, options };
}

/** Runs a load of `options` as a reload (gating the workers started early with `adopt`). */
function load(host: ReloadHost, options: RunOptions, hard: boolean, adopt: boolean, done: (outcome: LoadOutcome) => void): void {
  let plans: ReturnType<typeof planChildren>;
  try {
    plans = planChildren(host, options.config);
    host.pendingPidfile = host.pidfile.prepare(options.config.global.pidfile);
  } catch (e) {
    if (adopt) host.supervisor.abandonEarly(nextGeneration(host.state));
    closeUnusedListeners(host.listeners, host.current.config, host.log);
    done({ ok: false, reason: (e as Error).message, recorded: false });
    return;
  }
  host.supervisor.reload(options.config, plans.worker, hard, (result) => {
    if (result.ok) {
      host.current = options;
      try {
        syncCliListeners(host.cliListeners, host.cli, options.config.masterCli, host.log);
      } catch (e) {
        host.log.warn(`Master CLI: ${(e as Error).message}`);
      }
      try {
        host.metrics.sync(options.config.metrics);
      } catch (e) {
        host.log.warn(`Metrics: ${(e as Error).message}`);
      }
      done({ ok: true });
    } else {
      host.pidfile.discard(host.pendingPidfile);
      host.pendingPidfile = undefined;
      closeUnusedListeners(host.listeners, host.current.config, host.log);
      if (result.rolledBack) host.metrics.rolledBack();
      // the supervisor counted and logged it (or it is not a failure of the configuration: stopping)
      done({ ok: false, reason: result.reason, recorded: true, ...(result.rolledBack ? { rolledBack: true } : {}) });
    }
  }, plans.program, adopt);
}
