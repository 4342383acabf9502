/**
 * The parts shared by `[worker]` and `[[program]]`: the command line and the environment.
 */

import type { KeyPath, ProblemList } from "./problems.ts";
import { isTable } from "./values.ts";

/**
 * Variables steward sets for every worker (REFERENCE §4). A configured value would be silently
 * replaced, so configuring one is reported instead.
 */
const RESERVED_ENV = new Set([
  "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET",
  "STEWARD_WORKER_ID", "STEWARD_GENERATION", "STEWARD_MASTER_PID", "STEWARD_CLI_SOCKET",
]);

/** systemd's watchdog variables: steward sets them from `[global] watchdog` (REFERENCE §5.8). */
const WATCHDOG_ENV = new Set(["WATCHDOG_USEC", "WATCHDOG_PID"]);

/**
 * An argv: an array of strings, or one string split on whitespace (no shell quoting:
 * whoever needs spaces inside an argument writes the array form).
 */
export function readCommand(value: unknown, path: KeyPath, problems: ProblemList): string[] | undefined {
  if (typeof value === "string") {
    const argv = value.trim().split(/\s+/).filter((arg) => arg !== "");
    if (argv.length === 0) problems.inFile(path, "empty command", value);
    return argv.length === 0 ? undefined : argv;
  }
  if (!Array.isArray(value)) {
    problems.inFile(path, "must be an array of strings (or one string split on spaces)", value);
    return undefined;
  }
  if (value.length === 0) {
    problems.inFile(path, "empty command", value);
    return undefined;
  }
  let valid = true;
  value.forEach((arg: unknown, index) => {
    if (typeof arg !== "string") {
      problems.inFile([...path, index], "must be a string", arg);
      valid = false;
    } else if (arg.includes("\0")) {
      problems.inFile([...path, index], "must not contain a NUL character", arg);
      valid = false;
    }
  });
  if (valid && value[0] === "") {
    problems.inFile([...path, 0], "the program to run must not be empty", value[0]);
    valid = false;
  }
  return valid ? (value as string[]) : undefined;
}

/** `NAME = value` pairs; numbers and booleans become their text, as a shell would export them. */
export function readEnv(value: unknown, path: KeyPath, problems: ProblemList): Record<string, string> {
  const env: Record<string, string> = {};
  if (value === undefined) return env;
  if (!isTable(value)) {
    problems.inFile(path, "must be a table of NAME = value", value);
    return env;
  }
  for (const [name, raw] of Object.entries(value)) {
    const where = [...path, name];
    if (name === "" || name.includes("=") || name.includes("\0")) {
      problems.inFile(where, "variable names must be non-empty and contain no '=' or NUL");
    } else if (RESERVED_ENV.has(name)) {
      problems.inFile(where, "is set by steward for every worker and cannot be configured");
    } else if (WATCHDOG_ENV.has(name)) {
      problems.inFile(where, "is set by steward from [global] watchdog and cannot be configured");
    } else if (typeof raw === "string") {
      if (raw.includes("\0")) problems.inFile(where, "must not contain a NUL character", raw);
      else env[name] = raw;
    } else if (typeof raw === "number" || typeof raw === "boolean") {
      env[name] = String(raw);
    } else {
      problems.inFile(where, "must be a string, number or boolean", raw);
    }
  }
  return env;
}
