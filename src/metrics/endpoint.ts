/**
 * The master's metrics: its counters (fed by supervisor and reload events), the text a
 * scrape gets (`show metrics`, GET /metrics) and the optional `[metrics]` listener, which
 * is bound once and kept across re-exec with its connections, like the master CLI's.
 */
import type { ListenerConfig, MetricsConfig } from "../config/types.ts";
import { ListenerRegistry } from "../listeners/registry.ts";
import type { Logger } from "../log.ts";
import type { HandedListener } from "../listeners/registry.ts";
import type { MasterState, ProcessEntry } from "../state.ts";
import { signalName } from "../config/signals.ts";
import type { Posix, WaitStatus } from "../sys/posix.ts";
import { collect, type CollectPorts, PROC } from "./collect.ts";
import {
  countRestart, countWorkerExit, countWorkerStart, emptyCounters, exitReason, reloadBegan, reloadEnded, restoreCounters,
  type MetricsCounters,
} from "./counters.ts";
import { formatMetrics } from "./format.ts";
import { type HandedHttpSession, MetricsHttpServer } from "./http.ts";

/** What the metrics hand to the next image (an optional handover field). */
export interface HandedMetrics {
  counters: MetricsCounters;
  listener?: HandedListener;
  sessions?: HandedHttpSession[];
}

function asListener(c: MetricsConfig): ListenerConfig {
  return { name: "metrics", bind: c.bind, address: c.address, backlog: 128 };
}

export class MetricsEndpoint {
  counters: MetricsCounters = emptyCounters();
  private readonly registry: ListenerRegistry;
  readonly http: MetricsHttpServer;

  constructor(
    private readonly px: Posix,
    private readonly log: Logger,
    private readonly state: () => MasterState,
    private readonly version: string,
    /** whether a current worker holds one of the master's listeners (`steward_worker_listening`) */
    private readonly listening?: (pid: number) => boolean | undefined,
  ) {
    this.registry = new ListenerRegistry(px);
    this.http = new MetricsHttpServer(px, () => this.text(), (m) => log.warn(m));
  }

  /** The Prometheus text of the master as it is now. */
  text(): string {
    const ports: CollectPorts = this.listening ? { ...PROC, listening: this.listening } : PROC;
    return formatMetrics(collect(this.state(), this.counters, this.version, ports));
  }

  // ---- events -----------------------------------------------------------------------

  workerStarted(): void {
    countWorkerStart(this.counters);
  }

  processExited(p: ProcessEntry, ws: WaitStatus): void {
    if (p.kind !== "worker") return;
    countWorkerExit(this.counters, p.role, exitReason(ws), ws.exited ? undefined : signalName(ws.signal));
  }

  restarting(p: ProcessEntry): void {
    countRestart(this.counters, p.kind);
  }

  reloadBegan(): void {
    reloadBegan(this.counters, Date.now());
  }

  rolledBack(): void {
    this.counters.rollbacks++;
  }

  reloadEnded(ok: boolean): void {
    reloadEnded(this.counters, ok, Date.now());
  }

  // ---- the listener -----------------------------------------------------------------

  /**
   * Binds the listener `config` names (keeping it if already bound) and closes one it no
   * longer names. The new address is bound first: if that fails (thrown), the old one stays.
   * Open connections are kept whichever listener they came from.
   */
  sync(config: MetricsConfig | undefined): void {
    const old = this.registry.list()[0];
    const wanted = config ? asListener(config) : undefined;
    if (old?.key === (wanted && this.registry.keyOf(wanted))) return;
    if (wanted) {
      const b = this.registry.bind(wanted);
      this.http.setListener(b.fd);
      this.log.notice(`Metrics listening on ${b.url.replace(/^tcp:/, "http:")}/metrics`);
    } else {
      this.http.setListener(undefined);
    }
    if (old) {
      this.registry.close(old.key);
      this.log.notice(`Metrics listener ${old.url} closed: no longer configured`);
    }
  }

  /** Before execve: the counters, and the listener and its connections kept open for the next image. */
  prepareExec(): HandedMetrics {
    const sessions = this.http.prepareExec();
    this.registry.keepAcrossExec(true);
    const listener = this.registry.list()[0];
    const handed: HandedMetrics = { counters: this.counters, ...(sessions.length > 0 ? { sessions } : {}) };
    if (listener) {
      const { config: _c, ...l } = listener;
      handed.listener = l;
    }
    return handed;
  }

  execFailed(): void {
    this.registry.keepAcrossExec(false);
    this.http.execFailed();
  }

  /**
   * In a new image: the counters, the open connections, and the listener if `config` (the
   * configuration it was bound for) still names it.
   */
  adopt(handed: HandedMetrics | undefined, config: MetricsConfig | undefined, stateReloads: number): void {
    this.counters = restoreCounters(handed?.counters, stateReloads);
    for (const s of handed?.sessions ?? []) this.http.adopt(s);
    const l = handed?.listener;
    if (!l) return;
    if (!config || this.registry.keyOf(asListener(config)) !== l.key) {
      this.px.close(l.fd);
      return;
    }
    this.registry.adopt({ ...l, config: asListener(config) });
    this.http.setListener(l.fd);
  }

  /** Connections that waited during the exec, and any that arrive. */
  service(): void {
    this.http.service();
  }

  closeAll(): void {
    this.http.setListener(undefined);
    this.http.closeAll();
    this.registry.closeAll();
  }
}
