/**
 * The state a master hands to its next image across execve, as versioned JSON in a file
 * of the master's run directory. Invariant: a new image that cannot read a format says
 * so in its preflight (`steward __preflight FORMAT ...` exits non-zero), so the old image
 * never execs into a binary that would have to drop the state.
 */
import type { Config } from "../config/types.ts";
import type { HandedListener } from "../listeners/registry.ts";
import type { HandedSession } from "../mcli/server.ts";
import type { HandedMetrics } from "../metrics/endpoint.ts";
import type { HandedEvents } from "../mcli/events.ts";
import type { RunOptions } from "./options.ts";
import type { MasterState, ProcessEntry } from "../state.ts";
import type { HandedUserDirs } from "../host/userdirs.ts";

/** The format this steward writes; `READABLE_FORMATS` are those it can take over. */
export const HANDOVER_FORMAT = 1;
export const READABLE_FORMATS: readonly number[] = [1];

/** The variable that tells a new image where its state is (never reaches children). */
export const HANDOVER_VAR = "STEWARD_HANDOVER";

export interface Handover {
  format: number;
  /** the version of the steward that wrote it */
  writtenBy: string;
  master: Omit<MasterState, "processes" | "phase">;
  processes: ProcessEntry[];
  listeners: HandedListener[];
  notify: { fd: number; path: string };
  runDir: string;
  /**
   * the options of the load that made the current generation: also what the new image
   * restarts and restores that generation from if the reload's generation is rolled back
   * (master/probation.ts; no exec happens during a probation, so nothing more is handed)
   */
  options: RunOptions;
  /** the master CLI: its listeners, and the session that asked for this reload, if one did */
  cli: {
    listeners: HandedListener[];
    requester?: HandedSession;
    /** sessions accepted just before the exec that had sent nothing yet */
    fresh?: HandedSession[];
  };
  /** the log of this reload so far (for `show startup-logs` and the requester's reply) */
  loadLines: string[];
  /** a reload signal arrived while this reload was being prepared */
  reloadPending: boolean;
  /** how the reload was asked for: old workers get SIGTERM on a hard reload */
  hard: boolean;
  /**
   * Written only when the next image is this same binary (master/reloader.ts): the new
   * generation was started before the exec, from these options; its workers are in
   * `processes` with role `loading`, and the new image gates them (or, if it loads other
   * options, kills them and starts its own).
   */
  early?: { generation: number; options: RunOptions };
  /**
   * The re-exec that reloads loaded before it owed (master/reloader.ts: same binary and
   * configuration), once they were quiet: no reload is in progress; the new image takes
   * over, then runs the reload asked for meanwhile (`reloadPending`, `cli.requester`).
   */
  reloaded?: boolean;
  /** the pidfile the master wrote (host/pidfile.ts), removed by whichever image exits */
  pidfile?: string;
  /** directories and notify sockets of children that run as another user (host/userdirs.ts) */
  userDirs?: HandedUserDirs;
  /** the metrics' counters, and the `[metrics]` listener with its connections (metrics/endpoint.ts) */
  metrics?: HandedMetrics;
  /** the next event number and the events `show events since N` can still replay (mcli/events.ts) */
  events?: HandedEvents;
}

export function encodeHandover(h: Handover): string {
  return JSON.stringify(h);
}

export type DecodedHandover = { ok: true; handover: Handover } | { ok: false; reason: string };

export function decodeHandover(text: string): DecodedHandover {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `state is not JSON: ${(e as Error).message}` };
  }
  const h = raw as Partial<Handover>;
  if (typeof h !== "object" || h === null || typeof h.format !== "number") return { ok: false, reason: "state has no format number" };
  if (!READABLE_FORMATS.includes(h.format)) {
    return { ok: false, reason: `state format ${h.format} is not one this steward reads (${READABLE_FORMATS.join(", ")})` };
  }
  if (!h.master || !Array.isArray(h.processes) || !Array.isArray(h.listeners) || !h.notify || !h.options || !h.cli) {
    return { ok: false, reason: "state is incomplete" };
  }
  return { ok: true, handover: h as Handover };
}

/** The configuration of the current generation, as handed over. */
export function handedConfig(h: Handover): Config {
  return h.options.config;
}

export function restoreState(h: Handover): MasterState {
  return {
    ...h.master,
    phase: "running",
    processes: new Map(h.processes.map((p) => [p.pid, p])),
  };
}
