/**
 * The `[global]` section: defaults (REFERENCE §3) and how each key is read, shared by the file
 * reader and the command-line overrides so both accept the same values.
 */

import { resolve } from "node:path";
import { parseDuration } from "./duration.ts";
import type { IdDatabase } from "./ids.ts";
import type { ProblemList } from "./problems.ts";
import { LOG_FORMATS } from "../log-format.ts";
import { parseSignal } from "./signals.ts";
import { ROLLOUT_DEFAULTS, ROLLOUT_FIELDS } from "./rollout.ts";
import { parseWatchdog } from "./monitors.ts";
import type { GlobalConfig, OverrideField } from "./types.ts";
import {
  fromText, ON_FAILURE, parseChoice, parseGroupId, parseInteger, parsePath, parsePositiveDuration,
  parseReady, parseUserId, type Parsed,
} from "./values.ts";

export const DEFAULT_GLOBAL: Readonly<GlobalConfig> = {
  workers: 1,
  ready: { kind: "accepting" },
  readyTimeout: 30_000,
  stopSignal: 15,
  hardStopAfter: 300_000,
  maxReloads: 50,
  onFailure: "exit",
  logFormat: "text",
  ...ROLLOUT_DEFAULTS,
  probation: 0,
  probationFailures: 0,
};

/**
 * `start-nice` when the configuration does not set it: a worker's session starts with three
 * times the CPU share of a busy one (the kernel's weight for nice -5 is 3121 against 1024).
 */
export const DEFAULT_START_NICE = -5;

/** A scalar `[global]` key that the command line can override under the same field name. */
export interface GlobalField {
  /** the file's kebab-case key */
  key: string;
  field: keyof GlobalConfig & OverrideField;
  /** `text`: the value is a command-line string; `baseDir`: for relative paths */
  parse(value: unknown, text: boolean, baseDir: string): Parsed<GlobalConfig[keyof GlobalConfig]>;
}

export const GLOBAL_FIELDS: readonly GlobalField[] = [
  { key: "workers", field: "workers", parse: (v, text) => parseInteger(v, 1, 4096, text) },
  { key: "ready", field: "ready", parse: parseReady },
  { key: "ready-timeout", field: "readyTimeout", parse: parsePositiveDuration },
  { key: "stop-signal", field: "stopSignal", parse: (v) => fromText(parseSignal(v)) },
  { key: "hard-stop-after", field: "hardStopAfter", parse: (v) => fromText(parseDuration(v)) },
  { key: "max-reloads", field: "maxReloads", parse: (v, text) => parseInteger(v, 0, 1_000_000, text) },
  { key: "on-failure", field: "onFailure", parse: (v) => parseChoice(v, ON_FAILURE) },
  { key: "log-format", field: "logFormat", parse: (v) => parseChoice(v, LOG_FORMATS) },
  { key: "start-nice", field: "startNice", parse: (v, text) => parseInteger(v, -20, 19, text) },
  { key: "pidfile", field: "pidfile", parse: (v, _text, baseDir) => resolvedPath(v, baseDir) },
];

/** `[global]` keys read from the file only (no command-line option). */
export const FILE_GLOBAL_FIELDS: readonly { key: string; field: keyof GlobalConfig; parse(value: unknown): Parsed<GlobalConfig[keyof GlobalConfig]> }[] = [
  { key: "probation", field: "probation", parse: (v) => fromText(parseDuration(v)) },
  { key: "probation-failures", field: "probationFailures", parse: (v) => parseInteger(v, 0, 1_000_000) },
  ...ROLLOUT_FIELDS,
  { key: "watchdog", field: "watchdog", parse: parseWatchdog },
];

export const GLOBAL_KEYS: readonly string[] = [...GLOBAL_FIELDS.map((f) => f.key), ...FILE_GLOBAL_FIELDS.map((f) => f.key), "user", "group"];

function resolvedPath(value: unknown, baseDir: string): Parsed<string> {
  const path = parsePath(value);
  return path.ok ? { ok: true, value: resolve(baseDir, path.value) } : path;
}

/** Sets one field; the table above pairs each field with a parser of its own type. */
export function setGlobal(global: GlobalConfig, field: keyof GlobalConfig, value: unknown): void {
  (global as unknown as Record<string, unknown>)[field] = value;
}

/** The `[global]` table (already checked for unknown keys) over the defaults. */
export function readGlobal(table: Record<string, unknown>, baseDir: string, ids: IdDatabase, problems: ProblemList): GlobalConfig {
  const global: GlobalConfig = { ...DEFAULT_GLOBAL };
  for (const { key, field, parse } of GLOBAL_FIELDS) {
    if (table[key] === undefined) continue;
    const parsed = parse(table[key], false, baseDir);
    if (parsed.ok) setGlobal(global, field, parsed.value);
    else problems.inFile(["global", key], parsed.error, table[key]);
  }
  for (const { key, field, parse } of FILE_GLOBAL_FIELDS) {
    if (table[key] === undefined) continue;
    const parsed = parse(table[key]);
    if (parsed.ok) setGlobal(global, field, parsed.value);
    else problems.inFile(["global", key], parsed.error, table[key]);
  }
  if (table.user !== undefined) {
    const user = parseUserId(table.user, ids);
    if (!user.ok) problems.inFile(["global", "user"], user.error, table.user);
    else {
      global.user = user.value.name;
      global.uid = user.value.uid;
      // The user's primary group, unless `group` names another one below.
      if (user.value.gid !== undefined) global.gid = user.value.gid;
    }
  }
  if (table.group !== undefined) {
    const group = parseGroupId(table.group, ids);
    if (!group.ok) problems.inFile(["global", "group"], group.error, table.group);
    else {
      global.group = group.value.name;
      global.gid = group.value.gid;
    }
  }
  return global;
}
