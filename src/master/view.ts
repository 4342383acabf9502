/**
 * What the master CLI may see of a master (a read-only view) and the one thing it may
 * ask of it (a reload). `ViewedHost` is the part of MasterHost (run.ts) it reads, so this
 * file does not import run.ts.
 */
import { basename } from "node:path";
import { holdsAnyListener } from "../workers/holding.ts";
import { processTree } from "../workers/proctree.ts";
import { cliSocketPath } from "../workers/spawn-plan.ts";
import type { MasterView } from "../mcli/commands.ts";
import type { ListenerRegistry } from "../listeners/registry.ts";
import type { Logger } from "../log.ts";
import type { MetricsEndpoint } from "../metrics/endpoint.ts";
import type { EventLog } from "../mcli/events.ts";
import { VERSION } from "../version.ts";
import { currentMigrateReq } from "../listeners/migrate.ts";
import { uidOf, type UserDirs } from "../host/userdirs.ts";
import type { RunOptions } from "./options.ts";
import type { MasterOs } from "./os.ts";
import type { Reloader } from "./reloader.ts";
import type { Supervisor } from "./supervisor.ts";
import type { MasterState } from "../state.ts";

export interface ViewedHost {
  readonly os: MasterOs;
  readonly uid: number;
  readonly exe: { path: string; compiled: boolean };
  readonly log: Logger;
  readonly listeners: ListenerRegistry;
  readonly metrics: MetricsEndpoint;
  readonly events: EventLog;
  readonly reloader: Reloader;
  supervisor: Supervisor;
  state: MasterState;
  current: RunOptions;
  runDir: string;
  userDirs: UserDirs;
}

export function masterView(host: ViewedHost): MasterView {
  return {
    get pid() {
      return host.os.pid;
    },
    version: VERSION,
    exe: host.exe,
    get state() {
      return host.state;
    },
    listenerLines: () => {
      // a reuse-port listener has no descriptor in workers: `-` and its mode instead
      let fd = 3;
      return host.current.config.listen.map((c) => {
        const b = host.listeners.get(host.listeners.keyOf(c));
        if (c.share === "reuseport") return `- ${c.name} ${b?.url ?? c.bind} ${c.address.kind} reuseport tcp_migrate_req=${currentMigrateReq()}`;
        return `${fd++} ${c.name} ${b?.url ?? c.bind} ${c.address.kind}`;
      });
    },
    startupLogs: () => host.log.loadLines(),
    descendantsOf: (pid) => processTree.descendantsOf(pid),
    env: () => ({ ...host.os.env }),
    reload: (session, hard) =>
      new Promise<string>((resolve) =>
        host.reloader.request(hard ? "hard-reload from the master CLI" : "reload from the master CLI", hard, { session, reply: resolve }),
      ),
    cliSocketOf: (p) => {
      const path = cliSocketPath(host.runDir, p.kind === "worker" ? { kind: "worker", generation: p.generation, id: p.id } : { kind: "program", name: p.name });
      // a child running as another user binds in its own directory (host/userdirs.ts)
      const uid = uidOf(p.pid);
      return uid === undefined || uid === host.uid ? path : host.userDirs.socketOf(uid, basename(path));
    },
    rssKiB: (pid) => {
      const m = /VmRSS:\s+(\d+) kB/.exec(host.os.readProc(`/proc/${pid}/status`) ?? "");
      return m ? Number(m[1]) : undefined;
    },
    holdsListener: (pid) => holdsAnyListener(host.listeners.list(), pid),
    metricsText: () => host.metrics.text(),
    events: host.events,
    endProbation: (action) =>
      action === "promote" ? host.supervisor.probation.promote("promote from the master CLI") : host.supervisor.probation.rollback("rollback from the master CLI"),
  };
}
