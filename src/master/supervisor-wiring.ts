/**
 * The supervisor over the real system: its ports (supervisor.ts `SupervisorPorts`) from
 * the OS port and the master's listeners, and the hooks by which a finished load reaches
 * the pidfile, sd_notify, a -D launcher and the metrics. `SupervisedHost` is the part of
 * MasterHost (run.ts) it reads, so this file does not import run.ts.
 */
import type { Config } from "../config/types.ts";
import type { ListenerRegistry } from "../listeners/registry.ts";
import type { Logger } from "../log.ts";
import type { MetricsEndpoint } from "../metrics/endpoint.ts";
import type { Notifier } from "../notify/systemd.ts";
import type { NotifyReceiver } from "../notify/receiver.ts";
import type { UserDirs } from "../host/userdirs.ts";
import type { Posix } from "../sys/posix.ts";
import type { Pidfile, PreparedPidfile } from "../host/pidfile.ts";
import { parentOf } from "../host/descendants.ts";
import { SIGTERM } from "../sys/constants.ts";
import { isAccepting } from "../workers/readiness.ts";
import { KeptProcFiles } from "../workers/procfiles.ts";
import { ProcTree } from "../workers/proctree.ts";
import { reusePortReady, reusePortReason } from "../workers/reuseport.ts";
import { TreeRss } from "../workers/rss.ts";
import { setSessionNice } from "../workers/session-nice.ts";
import { ListenerSteering } from "../listeners/steer.ts";
import { closeUnusedListeners } from "./bind.ts";
import type { RunOptions } from "./options.ts";
import type { MasterOs } from "./os.ts";
import type { MasterState } from "../state.ts";
import { Strays } from "./strays.ts";
import { Supervisor, type ProgramPlanner, type SupervisorPorts, type WorkerPlanner } from "./supervisor.ts";

export interface SupervisedHost {
  readonly os: MasterOs;
  readonly px: Posix;
  readonly log: Logger;
  readonly listeners: ListenerRegistry;
  readonly metrics: MetricsEndpoint;
  readonly pidfile: Pidfile;
  pendingPidfile: PreparedPidfile | undefined;
  notifier: Notifier;
  /** the notify sockets: the master's, and those of children running as another user */
  notify: NotifyReceiver | undefined;
  userDirs: UserDirs | undefined;
  state: MasterState;
  supervisor: Supervisor;
  current: RunOptions;
  /** starts a child through the exec helper (workers/native-shim.ts) */
  readonly starter: Pick<SupervisorPorts, "spawn">;
  /** the master stops: what the reload holds goes with it */
  readonly reloader: { stopping(): void };
  /** the first generation is ready: a -D launcher may go */
  readonly launcher: { release(): void };
  readonly settler: { soon(): void };
  /** releases what the master holds (listeners, sockets, files) */
  cleanup(): void;
}

function ports(host: SupervisedHost, treeRss: TreeRss, steering: ListenerSteering): SupervisorPorts {
  const { os, px } = host;
  /** what the accepting poll re-reads each round, kept open while workers wait (workers/procfiles.ts) */
  const kept = new KeptProcFiles();
  const keptTree = new ProcTree(kept);
  return {
    now: () => os.now(),
    cpuTime: () => os.cpuTime(),
    after: (ms, fn) => os.after(ms, fn),
    spawn: (child) => host.starter.spawn(child),
    kill: (target, sig) => os.kill(target, sig),
    isAccepting: (wpid) =>
      isAccepting(wpid, new Set(host.listeners.list().map((l) => l.inode)), os.arch, keptTree, kept) || reusePortReady(host.listeners.list(), wpid, os.arch),
    acceptingPolled: (again) => kept.sweep(!again),
    notReadyReason: (wpid) => reusePortReason(host.listeners.list(), wpid),
    parentOf,
    drainNotify: () => {
      host.notify?.drain();
      host.userDirs?.drain();
    },
    rssOf: (wpid) => treeRss.of(wpid),
    sessionNice: setSessionNice,
    releaseListeners: (old, current) => steering.steer(host.listeners.list(), old, current),
    strays: new Strays({
      self: os.pid,
      known: (pid) => host.supervisor.tracks(pid),
      kill: (pid, sig) => {
        try {
          os.kill(pid, sig);
        } catch (e) {
          host.log.warn(`Cannot signal process ${pid}: ${(e as Error).message}`);
        }
      },
      hasChildren: () => px.hasChildren(),
    }),
    exit: (code) => {
      host.cleanup();
      os.exit(code);
    },
  };
}

export function makeSupervisor(host: SupervisedHost, config: Config, plan: WorkerPlanner, programPlan: ProgramPlanner): Supervisor {
  /** workers' tree RSS for max-rss and old-rss-budget (workers/rss.ts) */
  const treeRss = new TreeRss();
  /** reuse-port steering before old workers stop (listeners/steer.ts) */
  const steering = new ListenerSteering(host.px, host.log);
  return new Supervisor(config, host.state, ports(host, treeRss, steering), host.log, plan, {
    stopping: () => {
      host.notifier.stopping();
      host.reloader.stopping();
    },
    loaded: (generation) => {
      // the pidfile first: whoever waits for READY (a -D launcher, systemd) may read it at once
      const pending = host.pendingPidfile;
      host.pendingPidfile = undefined;
      try {
        host.pidfile.commit(pending);
      } catch (e) {
        const reason = (e as Error).message;
        if (generation > 0) {
          host.log.warn(reason);
        } else {
          host.log.alert(`Starting failed: ${reason}`);
          host.notifier.startFailed(reason);
          host.supervisor.stop(1, SIGTERM);
          return;
        }
      }
      host.notifier.ready(host.os.pid);
      host.launcher.release();
      host.settler.soon();
    },
    oldGone: () => {
      steering.detach(host.listeners.list(), [...host.state.processes.values()].filter((p) => p.kind === "worker").map((p) => p.pid));
      // during a probation `current` is still the previous configuration: the new one's listeners stay
      if (!host.supervisor.loading && host.supervisor.probation.generation === undefined) closeUnusedListeners(host.listeners, host.current.config, host.log);
    },
    probationStarted: (generation, until) => host.notifier.probation(generation, until),
    workerStarted: () => host.metrics.workerStarted(),
    exited: (p, ws) => {
      treeRss.forget(p.pid);
      host.metrics.processExited(p, ws);
    },
    restarting: (p) => host.metrics.restarting(p),
  }, programPlan);
}
