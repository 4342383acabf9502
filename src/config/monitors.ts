/**
 * What watches a running worker beyond its exit: `[global] watchdog` (sd_notify
 * `WATCHDOG=1` keep-alives, as systemd's `WatchdogSec=`) and `[worker] health` (a command
 * run per worker). REFERENCE §5.10.
 */

import { parseDuration } from "./duration.ts";
import type { KeyPath, ProblemList } from "./problems.ts";
import { readCommand } from "./process.ts";
import { suggest } from "./suggest.ts";
import type { HealthConfig } from "./types.ts";
import { fromText, isTable, parseInteger, parsePositiveDuration, type Parsed } from "./values.ts";

export const HEALTH_KEYS: readonly string[] = ["command", "interval", "timeout", "failures"];

export const DEFAULT_HEALTH: Readonly<Omit<HealthConfig, "command">> = { interval: 5_000, timeout: 2_000, failures: 3 };

/** `watchdog = "10s"`: milliseconds, 0 = off. */
export function parseWatchdog(value: unknown): Parsed<number> {
  return fromText(parseDuration(value));
}

/** `health = { command = [...], interval = "5s", timeout = "2s", failures = 3 }`; undefined when absent or invalid (reported). */
export function readHealth(value: unknown, path: KeyPath, problems: ProblemList): HealthConfig | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) {
    problems.inFile(path, "must be a table { command = [...], interval = \"5s\", timeout = \"2s\", failures = 3 }", value);
    return undefined;
  }
  let valid = true;
  for (const key of Object.keys(value)) {
    if (HEALTH_KEYS.includes(key)) continue;
    const close = suggest(key, HEALTH_KEYS);
    problems.inFile([...path, key], `unknown key${close ? ` (did you mean '${close}'?)` : ""}`);
    valid = false;
  }
  const command = value.command === undefined
    ? (problems.inFile([...path, "command"], "required (the command that checks one worker)"), undefined)
    : readCommand(value.command, [...path, "command"], problems);
  const field = <T>(key: string, parse: (v: unknown) => Parsed<T>, fallback: T): T => {
    if (value[key] === undefined) return fallback;
    const parsed = parse(value[key]);
    if (parsed.ok) return parsed.value;
    problems.inFile([...path, key], parsed.error, value[key]);
    valid = false;
    return fallback;
  };
  const interval = field("interval", parsePositiveDuration, DEFAULT_HEALTH.interval);
  const timeout = field("timeout", parsePositiveDuration, DEFAULT_HEALTH.timeout);
  const failures = field("failures", (v) => parseInteger(v, 1, 1_000), DEFAULT_HEALTH.failures);
  if (!valid || command === undefined) return undefined;
  return { command, interval, timeout, failures };
}
