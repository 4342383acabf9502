/**
 * The master's log: HAProxy-style lines on stderr through consola,
 * `[NOTICE]   (PID) : message`. Lines of the current load attempt are also kept so the
 * master CLI can show them and a reload requester can receive them.
 */
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import process from "node:process";
import { type LogFields, type LogLevelName, type LogStyle, renderLine } from "./log-format.ts";

const LABELS: Record<string, string> = {
  fatal: "ALERT",
  error: "ALERT",
  warn: "WARNING",
  log: "NOTICE",
  info: "NOTICE",
  success: "NOTICE",
  start: "NOTICE",
  ready: "NOTICE",
  box: "NOTICE",
  debug: "DEBUG",
  trace: "DEBUG",
  verbose: "DEBUG",
};

/** `fields`: the event's facts (worker, pid, generation, ...), written by `log-format = "json"`. */
export interface Logger {
  notice(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  alert(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** lines logged since the last `beginLoad()` */
  loadLines(): string[];
  beginLoad(): void;
  /** lines of a load a previous image of this master began */
  restoreLoad(lines: string[]): void;
  /**
   * Runs `fn`, holding the lines it logs and writing them, in order, once it returns (or
   * throws): a reload's first lines are written after its workers were spawned, not before.
   * Writing a line wakes its reader (a terminal, journald, a pipe), which can take the
   * master's CPU for a fraction of a millisecond, on the new workers' critical path.
   */
  batch<T>(fn: () => T): T;
}

export interface LoggerOptions {
  level: number;
  pid: () => number;
  write: (line: string) => void;
  /** how stderr lines look, asked for each line (a reload may change `log-format`); default text */
  style?: () => LogStyle;
  /** every call whose fields hold `event`, whatever the level lets through (`show events`) */
  onEvent?: (fields: LogFields, time: Date) => void;
}

/** consola passes extra arguments through: this one carries an event's fields to the reporter. */
class Fields {
  constructor(readonly fields: LogFields) {}
}

const LEVEL_NAMES: Record<string, LogLevelName> = { ALERT: "alert", WARNING: "warning", NOTICE: "notice", DEBUG: "debug" };

/**
 * util.format of consola's arguments. The Logger passes one string, which format returns
 * as it is: node:util's inspect (~0.5 ms to load, on every master image's start) is loaded
 * only for anything else.
 */
function messageOf(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return process.getBuiltinModule("node:util").format(...args);
}

export function formatLine(type: string, pid: number, message: string): string {
  const label = `[${LABELS[type] ?? "NOTICE"}]`;
  return `${label.padEnd(10)} (${pid}) : ${message}`;
}

export function createLogger(opts: LoggerOptions): Logger {
  let load: string[] = [];
  /** lines held by batch(), written when it ends */
  let held: string[] | undefined;
  const consola: ConsolaInstance = createConsola({
    level: opts.level,
    reporters: [
      {
        log(obj: LogObject) {
          const fields = obj.args.find((a): a is Fields => a instanceof Fields)?.fields;
          const message = messageOf(obj.args.filter((a) => !(a instanceof Fields)));
          const pid = opts.pid();
          const line = formatLine(obj.type, pid, message);
          if (load.length < 1000) load.push(line);
          const style = opts.style?.() ?? { format: "text", journal: false };
          const level = LEVEL_NAMES[LABELS[obj.type] ?? "NOTICE"] ?? "notice";
          const rendered = renderLine(style, { level, pid, text: line, message, ...(fields ? { fields } : {}), time: new Date(obj.date) });
          if (held) held.push(rendered);
          else opts.write(rendered);
        },
      },
    ],
  });
  const event = (f: LogFields | undefined) => {
    if (f?.event !== undefined) opts.onEvent?.(f, new Date());
  };
  return {
    notice: (m, f) => (event(f), f ? consola.info(m, new Fields(f)) : consola.info(m)),
    warn: (m, f) => (event(f), f ? consola.warn(m, new Fields(f)) : consola.warn(m)),
    alert: (m, f) => (event(f), f ? consola.error(m, new Fields(f)) : consola.error(m)),
    debug: (m, f) => (event(f), f ? consola.debug(m, new Fields(f)) : consola.debug(m)),
    loadLines: () => [...load],
    beginLoad: () => {
      load = [];
    },
    restoreLoad: (lines) => {
      load = [...lines];
    },
    batch(fn) {
      if (held) return fn();
      held = [];
      try {
        return fn();
      } finally {
        const lines = held;
        held = undefined;
        for (const line of lines) opts.write(line);
      }
    },
  };
}

/** consola levels: 0 errors, 1 warnings, 3 info (default), 4 debug. */
export function parseLogLevel(value: string | undefined, fallback = 3): number | undefined {
  if (value === undefined || value === "") return fallback;
  const names: Record<string, number> = { silent: -999, error: 0, alert: 0, warn: 1, warning: 1, notice: 3, info: 3, debug: 4, trace: 5 };
  const v = value.toLowerCase();
  if (v in names) return names[v];
  if (/^-?\d+$/.test(v)) return Number(v);
  return undefined;
}
