/**
 * STEWARD_<OPTION> variables: every option of `run` can be set from the environment, so a
 * container can be configured without flags (as tini does with TINI_*). The command line
 * wins over the environment, which wins over the file.
 *
 * Only variables named after an option are read. STEWARD_WORKER_ID, STEWARD_GENERATION,
 * STEWARD_MASTER_PID and STEWARD_CLI_SOCKET are what a master gives its workers, so a
 * steward started inside a worker sees them; they are not options, and neither is any
 * other unknown STEWARD_* variable: both are ignored.
 */

import type { ArgsDef } from "citty";
import { UsageError } from "./_usage.ts";
import { REPEATABLE } from "./args.ts";

export type OptionValue = string | boolean | string[];

/** `ready-timeout` → `STEWARD_READY_TIMEOUT`. */
export function envVariableOf(option: string): string {
  return `STEWARD_${option.toUpperCase().replace(/-/g, "_")}`;
}

/**
 * The options set in `env`, by option name. An empty variable counts as unset, because
 * `docker run -e STEWARD_WORKERS` and compose files leave variables empty to mean "not given".
 * Repeatable options are split on whitespace, not commas: a master-CLI bind carries its
 * settings after commas (`/run/app.sock,mode,660`).
 *
 * @throws UsageError naming the variable, for a flag that is not a recognisable boolean
 */
export function readEnvOptions(env: Readonly<Record<string, string | undefined>>, defs: ArgsDef): Record<string, OptionValue> {
  const values: Record<string, OptionValue> = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const variable = envVariableOf(name);
    const text = env[variable]?.trim();
    if (text === undefined || text === "") continue;
    if (def.type === "boolean") values[name] = booleanFrom(variable, text);
    else if (REPEATABLE.has(name)) values[name] = text.split(/\s+/);
    else values[name] = text;
  }
  return values;
}

const TRUE_WORDS = ["1", "true", "yes", "on"];
const FALSE_WORDS = ["0", "false", "no", "off"];

/** `1/true/yes/on` or `0/false/no/off`, in any case; undefined for anything else. */
export function parseBoolean(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

function booleanFrom(variable: string, text: string): boolean {
  const value = parseBoolean(text);
  if (value !== undefined) return value;
  throw new UsageError(`${variable} must be 1, true, yes, on, 0, false, no or off (got '${text}')`);
}

export const LOG_LEVEL_VARIABLE = "STEWARD_LOG_LEVEL";

/** consola's numeric levels; `silent` is -1 rather than consola's -Infinity so it survives JSON. */
const LOG_LEVELS: ReadonlyMap<string, number> = new Map([
  ["silent", -1], ["fatal", 0], ["error", 0], ["warn", 1], ["log", 2], ["info", 3], ["debug", 4], ["trace", 5],
]);

/**
 * STEWARD_LOG_LEVEL: a level name (`silent`, `error`, `warn`, `info`, `debug`, `trace`, ...)
 * or a number from 0 to 5; undefined when unset.
 *
 * @throws UsageError naming the variable, for anything else
 */
export function readEnvLogLevel(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const text = env[LOG_LEVEL_VARIABLE]?.trim();
  if (text === undefined || text === "") return undefined;
  const level = /^[0-5]$/.test(text) ? Number(text) : LOG_LEVELS.get(text.toLowerCase());
  if (level !== undefined) return level;
  throw new UsageError(
    `${LOG_LEVEL_VARIABLE} must be silent, error, warn, info, debug, trace or a number from 0 to 5 (got '${text}')`,
  );
}
