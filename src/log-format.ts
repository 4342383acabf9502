/**
 * How a log line is written to stderr (REFERENCE §9 `log-format`, `--log-format`,
 * STEWARD_LOG_FORMAT):
 *   text     HAProxy's `[NOTICE]   (PID) : message`; when stderr is the journal, each line
 *            is prefixed with its syslog priority (`<5>`), which journald strips and keeps
 *            as the entry's priority, so `journalctl -p warning` works;
 *   journal  the same prefixes always (stderr piped to something that reads them);
 *   json     one JSON object per line: time, level, pid, message, and the event's fields.
 * Lines kept for `show startup-logs` and reload replies stay in the text form.
 * Hand-written: consola (which filters the levels) has no journal or JSON reporter.
 */
import { fstatSync } from "node:fs";

export const LOG_FORMATS = ["text", "journal", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What the next line is written as; `journal`: stderr is the journal's stream. */
export interface LogStyle {
  format: LogFormat;
  journal: boolean;
}

/** The event's structured facts (`worker`, `pid`, `generation`, ...), shown in json only. */
export type LogFields = Readonly<Record<string, string | number | boolean>>;

export type LogLevelName = "alert" | "warning" | "notice" | "info" | "debug";

/** sd-daemon(3) priorities: journald reads `<N>` at the start of each line of a stream. */
export const SYSLOG_PRIORITY: Readonly<Record<LogLevelName, number>> = { alert: 3, warning: 4, notice: 5, info: 6, debug: 7 };

/**
 * `JOURNAL_STREAM` is `DEV:INODE` of the stream systemd connected to the service's stdout
 * and stderr (systemd.exec(5)); it names stderr only when fd 2 is still that very stream,
 * not a file or pipe it was redirected to (a worker's, a shell's `2>file`).
 */
export function journalStreamMatches(value: string | undefined, stderr: { dev: bigint; ino: bigint } | undefined): boolean {
  const m = /^(\d+):(\d+)$/.exec(value?.trim() ?? "");
  if (m === null || stderr === undefined) return false;
  return BigInt(m[1]!) === stderr.dev && BigInt(m[2]!) === stderr.ino;
}

/** Whether fd 2 is the stream `journalStream` names (fstat of fd 2, in bigint: inode numbers may pass 2^53). */
export function stderrIsJournal(journalStream: string | undefined): boolean {
  if (journalStream === undefined || journalStream === "") return false;
  try {
    const st = fstatSync(2, { bigint: true });
    return journalStreamMatches(journalStream, { dev: st.dev, ino: st.ino });
  } catch {
    return false;
  }
}

let journalChecked: { value: string | undefined; journal: boolean } | undefined;

/** The style for a configured format; whether stderr is the journal is found once per JOURNAL_STREAM value. */
export function styleFor(format: LogFormat | undefined, journalStream: string | undefined): LogStyle {
  let checked = journalChecked;
  if (checked === undefined || checked.value !== journalStream) {
    checked = journalChecked = { value: journalStream, journal: stderrIsJournal(journalStream) };
  }
  return { format: format ?? "text", journal: checked.journal };
}

export interface LogEntry {
  level: LogLevelName;
  pid: number;
  /** the HAProxy-style text line */
  text: string;
  message: string;
  fields?: LogFields;
  time: Date;
}

/** The line to write for `entry` in `style`. */
export function renderLine(style: LogStyle, entry: LogEntry): string {
  if (style.format === "json") {
    const line: Record<string, unknown> = { time: entry.time.toISOString(), level: entry.level, pid: entry.pid, message: entry.message };
    // the event's fields never replace the four keys every line has
    for (const [key, value] of Object.entries(entry.fields ?? {})) if (!(key in line)) line[key] = value;
    return JSON.stringify(line);
  }
  if (style.format === "journal" || style.journal) {
    // journald reads a priority per line: a message of several lines keeps it on each
    const prefix = `<${SYSLOG_PRIORITY[entry.level]}>`;
    return entry.text.split("\n").map((line) => prefix + line).join("\n");
  }
  return entry.text;
}
