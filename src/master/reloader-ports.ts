/**
 * What a reload (reloader.ts) says and what it asks of the master: the requester's
 * answers, the log lines scripts read, the quiet period before the re-exec owed by a
 * reload loaded first, and the ports the state machine runs over (reloader-wiring.ts gives
 * the real ones; the unit tests fake them).
 */
import type { Session } from "../mcli/server.ts";
import type { WaitStatus } from "../sys/posix.ts";
import type { Handover } from "./handover.ts";
import type { RunOptions } from "./options.ts";
import type { FileIdentity, MasterOs } from "./os.ts";
import type { MasterState } from "../state.ts";

/** A master CLI session waiting for the outcome of the reload it asked for. */
export interface Requester {
  session: Session;
  reply: (text: string) => void;
}

export const ANOTHER_RELOAD = "Success=0\n--\nAnother reload is still in progress.";
export const MASTER_STOPPING = "Success=0\n--\nThe master is stopping.";

/** Why a reload asked for from the master CLI during a probation is refused (no re-exec happens during one). */
export function onProbation(p: { generation: number; until: number }): string {
  return `Generation ${p.generation} is on probation until ${new Date(p.until).toISOString()}: 'promote' or 'rollback' first, or wait for its outcome.`;
}

export type ReloadStep = "idle" | "preflight" | "early-start" | "hold" | "exec" | "load";

/** what the log says of a reload loaded before the re-exec it owes */
export const LOADED_FIRST = "Same executable and configuration file as the running generation's: no preflight; the master re-executes once reloads are quiet";
/** after a reload loaded before the re-exec, how long reloads must be quiet before the master re-executes */
export const REEXEC_QUIET_MS = 500;


/** The next generation, started before the exec (handover.ts `early`). */
export type Early = NonNullable<Handover["early"]>;

/**
 * A load's outcome. `recorded`: the supervisor already counted and logged the failure;
 * `rolledBack`: the generation was ready but failed its probation (master/probation.ts).
 */
export type LoadOutcome = { ok: true } | { ok: false; reason: string; recorded: boolean; rolledBack?: boolean };

export interface ReloadLog {
  notice(message: string, fields?: Record<string, unknown>): void;
  alert(message: string, fields?: Record<string, unknown>): void;
  warn(message: string): void;
  /** a load begins: its lines are kept for `show startup-logs` and the requester's reply */
  beginLoad(): void;
  loadLines(): string[];
  /** runs `fn`, writing the lines it logs once it returns (Logger.batch) */
  batch<T>(fn: () => T): T;
}

export interface ReloadPorts {
  readonly os: MasterOs;
  /** how this steward runs itself again (Runtime.self), and whether it is one compiled file */
  readonly self: { path: string; prefix: string[] };
  readonly compiled: boolean;
  /** the executable as this image started from it (a reload into it unchanged may start early) */
  readonly selfIdentity: FileIdentity | undefined;
  state(): MasterState;
  /** the options of the current generation */
  current(): RunOptions;
  runDir(): string;
  readonly log: ReloadLog;
  /** sd_notify RELOADING=1, and READY=1 with the failure's or the rollback's STATUS= (notify/systemd.ts) */
  reloading(): void;
  reloadFailed(reason: string): void;
  rolledBack(reason: string): void;
  /** the master CLI and the metrics learn that a reload began / ended */
  began(): void;
  ended(ok: boolean): void;
  /** the exit status of a child the supervisor does not know (the preflight), from the master's reaper */
  waitFor(pid: number): Promise<WaitStatus>;
  /** exec-signals.ts: hold the master's signals for the next image; whether a stop signal waits; let them flow again */
  hold(): Promise<void>;
  stopWaiting(): boolean;
  release(): void;
  /** starts the next generation from `options` before the exec; undefined if it could not */
  startEarly(options: RunOptions): Early | undefined;
  abandonEarly(generation: number): void;
  /**
   * the state for the next image; ends the CLI sessions that do not cross the exec
   * (`requester`: waits for the reload in progress or asked for; `answered`: the session of
   * a reload answered before this exec, which goes on in the next image)
   */
  handOver(parts: Pick<Handover, "reloadPending" | "hard" | "early" | "reloaded">, requester: Session | undefined, answered?: Session): Handover;
  /** whether a master CLI session, answered, can cross the exec as it is */
  crossesExec(session: Session): boolean;
  /** the exec will not happen: sessions and metrics are this image's again */
  handOverFailed(requester: Session | undefined, answered?: Session): void;
  /** listeners, notify sockets and signal dispositions for (true) or back from (false) the execve */
  keepAcrossExec(on: boolean): void;
  /** loads `options` as the next generation (`adopt`: gate the early one) */
  load(options: RunOptions, hard: boolean, adopt: boolean, done: (outcome: LoadOutcome) => void): void;
}
