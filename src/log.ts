/**
 * The master's log: HAProxy-style lines on stderr through consola,
 * `[NOTICE]   (PID) : message`. Lines of the current load attempt are also kept so the
 * master CLI can show them and a reload requester can receive them.
 */
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { format } from "node:util";

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

export interface Logger {
  notice(message: string): void;
  warn(message: string): void;
  alert(message: string): void;
  debug(message: string): void;
  /** lines logged since the last `beginLoad()` */
  loadLines(): string[];
  beginLoad(): void;
  /** lines of a load a previous image of this master began */
  restoreLoad(lines: string[]): void;
}

export interface LoggerOptions {
  level: number;
  pid: () => number;
  write: (line: string) => void;
}

export function formatLine(type: string, pid: number, message: string): string {
  const label = `[${LABELS[type] ?? "NOTICE"}]`;
  return `${label.padEnd(10)} (${pid}) : ${message}`;
}

export function createLogger(opts: LoggerOptions): Logger {
  let load: string[] = [];
  const consola: ConsolaInstance = createConsola({
    level: opts.level,
    reporters: [
      {
        log(obj: LogObject) {
          const line = formatLine(obj.type, opts.pid(), format(...obj.args));
          if (load.length < 1000) load.push(line);
          opts.write(line);
        },
      },
    ],
  });
  return {
    notice: (m) => consola.info(m),
    warn: (m) => consola.warn(m),
    alert: (m) => consola.error(m),
    debug: (m) => consola.debug(m),
    loadLines: () => [...load],
    beginLoad: () => {
      load = [];
    },
    restoreLoad: (lines) => {
      load = [...lines];
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
