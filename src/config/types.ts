/**
 * The validated, defaulted configuration: plain data, produced only by `validateConfig`.
 * Durations are milliseconds; signals are numbers; modes are numbers (octal parsed).
 */

import type { LogFormat } from "../log-format.ts";

export type OnFailure = "exit" | "restart" | "ignore";
export type CliLevel = "admin" | "operator" | "user";

export type ReadyMode =
  | { kind: "accepting" }
  | { kind: "notify" }
  | { kind: "delay"; ms: number }
  | { kind: "spawn" };

export type ListenAddress =
  | { kind: "tcp"; host: string; port: number; family: 4 | 6 }
  | { kind: "unix"; path: string };

export interface ListenerConfig {
  /** exported in LISTEN_FDNAMES; default `listen<N>` (N = 1-based position) */
  name: string;
  /** canonical URL: `tcp://127.0.0.1:8080`, `tcp://[::1]:8080`, `unix:///run/app.sock` */
  bind: string;
  address: ListenAddress;
  backlog: number;
  /**
   * "reuseport" (tcp only): the master only reserves the address; workers bind it
   * themselves with SO_REUSEPORT (PORT, HOST given). Absent: inherited descriptors.
   */
  share?: "reuseport";
  /** unix sockets only */
  mode?: number;
  uid?: number;
  gid?: number;
}

/** socket-passing dialects a worker may ask for beside LISTEN_FDS (`[worker] socket-env`) */
export type SocketDialect = "einhorn" | "server-starter" | "nginx";

export interface WorkerConfig {
  command: string[];
  cwd?: string;
  env: Record<string, string>;
  /** socket-passing variables set beside LISTEN_* (REFERENCE §4) */
  socketEnv?: SocketDialect[];
  /** a command run per ready worker (REFERENCE §5.10); absent = none */
  health?: HealthConfig;
}

/** `[worker] health`: durations in ms */
export interface HealthConfig {
  command: string[];
  /** from the end of one check to the start of the next (and from ready to the first) */
  interval: number;
  /** a check still running this long is killed and counts as failed */
  timeout: number;
  /** this many failed checks in a row fail the worker */
  failures: number;
}

export interface ProgramConfig {
  name: string;
  command: string[];
  cwd?: string;
  env: Record<string, string>;
  startOnReload: boolean;
  onFailure: OnFailure;
}

export interface MasterCliConfig {
  /** unix socket path or HOST:PORT */
  bind: string;
  /** the parsed form of `bind` (a unix path is absolute) */
  address: ListenAddress;
  mode: number;
  uid?: number;
  gid?: number;
  level: CliLevel;
}

/** `[metrics]`: where Prometheus text is served over HTTP (absent: nowhere) */
export interface MetricsConfig {
  /** `HOST:PORT` or `[V6]:PORT` */
  bind: string;
  address: ListenAddress;
}

/** `rollout` (config/rollout.ts): every new worker at once, or N (or P% of them) at a time */
export type Rollout = { kind: "all" } | { kind: "batch"; count?: number; percent?: number };

export interface GlobalConfig {
  workers: number;
  ready: ReadyMode;
  readyTimeout: number;
  stopSignal: number;
  /** 0 = never */
  hardStopAfter: number;
  maxReloads: number;
  onFailure: OnFailure;
  /** how the master's log lines are written to stderr (src/log-format.ts) */
  logFormat: LogFormat;
  rollout: Rollout;
  /** bytes; 0 = off: a current worker's tree above it for `maxRssFor` ms is replaced */
  maxRss: number;
  maxRssFor: number;
  /** bytes; 0 = off: old workers' trees together above it are stopped, oldest first */
  oldRssBudget: number;
  /** ms the previous generation is kept beside a new one after a reload (master/probation.ts); 0 = off */
  probation: number;
  /** failures of the new generation tolerated during probation before a rollback */
  probationFailures: number;
  /** ms a ready worker may go without sending WATCHDOG=1 (REFERENCE §5.10); absent or 0 = off */
  watchdog?: number;
  /** the nice value of a starting worker's session until it is ready (REFERENCE §4); absent = DEFAULT_START_NICE, 0 = off */
  startNice?: number;
  pidfile?: string;
  user?: string;
  group?: string;
  /** `user` resolved through /etc/passwd (or given as a number) */
  uid?: number;
  /** `group` resolved through /etc/group; without `group`, the primary group of `user` */
  gid?: number;
}

export interface Config {
  /** absolute path of the file it came from, if any */
  file?: string;
  global: GlobalConfig;
  listen: ListenerConfig[];
  worker: WorkerConfig;
  program: ProgramConfig[];
  masterCli: MasterCliConfig[];
  metrics?: MetricsConfig;
}

/**
 * Values given on the command line or through STEWARD_* variables. They override the
 * file: scalar keys replace, `listen` replaces the file's [[listen]] list, `masterCli`
 * is appended to the file's [[master-cli]] list, `command` replaces worker.command.
 * All values are raw strings as typed by the user; validation parses them.
 */
export interface ConfigOverrides {
  workers?: string;
  ready?: string;
  readyTimeout?: string;
  stopSignal?: string;
  hardStopAfter?: string;
  maxReloads?: string;
  onFailure?: string;
  logFormat?: string;
  startNice?: string;
  pidfile?: string;
  listen?: string[];
  masterCli?: string[];
  command?: string[];
  /**
   * Where each value came from; absent means "command line". A problem with a value from
   * the environment names the variable (`STEWARD_WORKERS`) instead of the option.
   */
  origin?: Partial<Record<OverrideField, OverrideOrigin>>;
}

export type OverrideField = Exclude<keyof ConfigOverrides, "origin">;
export type OverrideOrigin = "command line" | "environment";

/** One validation problem; `format()` in config/errors.ts turns it into the user's line. */
export interface ConfigProblem {
  /** FILE or "command line" / "environment" */
  source: string;
  line?: number;
  /** key path: `global.workers`, `listen[1].bind`, `--workers`; "" for the whole file (unreadable, syntax) */
  key: string;
  problem: string;
  got?: unknown;
}

export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; problems: ConfigProblem[] };
