/**
 * What the master CLI may see of a master (a read-only view) and the one thing it may
 * ask of it (a reload).
 */
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { processTree } from "../workers/proctree.ts";
import type { MasterView } from "../mcli/commands.ts";
import { VERSION } from "../version.ts";
import { currentMigrateReq } from "../listeners/migrate.ts";
import type { MasterHost } from "./run.ts";
import { uidOf } from "./userdirs.ts";

/** The socket a worker or program may serve forwarded CLI commands on (its STEWARD_CLI_SOCKET). */
export function cliSocketPath(
  runDir: string,
  p: { kind: "worker"; generation: number; id: number } | { kind: "program"; name: string },
): string {
  return join(runDir, p.kind === "worker" ? `worker-g${p.generation}-${p.id}.sock` : `program-${p.name}.sock`);
}

function rssKiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function masterView(host: MasterHost): MasterView {
  return {
    get pid() {
      return host.pid;
    },
    version: VERSION,
    exe: { path: host.runtime.self.path, compiled: host.runtime.compiled },
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
    env: () => ({ ...host.runtime.env }),
    reload: (session, hard) =>
      new Promise<string>((resolve) =>
        host.reloader.request(hard ? "hard-reload from the master CLI" : "reload from the master CLI", hard, { session, reply: resolve }),
      ),
    cliSocketOf: (p) => {
      const path = cliSocketPath(host.runDir, p.kind === "worker" ? { kind: "worker", generation: p.generation, id: p.id } : { kind: "program", name: p.name });
      // a child running as another user binds in its own directory (userdirs.ts)
      const uid = uidOf(p.pid);
      return uid === undefined || uid === host.px.fn.getuid() ? path : host.userDirs.socketOf(uid, basename(path));
    },
    rssKiB,
    holdsListener: (pid) => host.holdsListener(pid),
    metricsText: () => host.metrics.text(),
    events: host.events,
    endProbation: (action) =>
      action === "promote" ? host.supervisor.probation.promote("promote from the master CLI") : host.supervisor.probation.rollback("rollback from the master CLI"),
  };
}
