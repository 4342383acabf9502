/**
 * The options in effect for one invocation: command line over STEWARD_* variables (the file
 * comes last, in config/). Pure: values in, values or a UsageError out.
 */

import type { ArgsDef } from "citty";
import type { ConfigOverrides, OverrideField, OverrideOrigin } from "../config/types.ts";
import { OPTION_OF } from "../config/problems.ts";
import { UsageError } from "./_usage.ts";
import { REPEATABLE } from "./args.ts";
import { envVariableOf, type OptionValue, readEnvLogLevel, readEnvOptions } from "./env.ts";
import type { CheckedArgs } from "./strict.ts";

export interface Settings {
  /** by option name (`ready-timeout`); options given nowhere are absent */
  values: Record<string, OptionValue>;
  origin: Record<string, OverrideOrigin>;
  /** STEWARD_LOG_LEVEL, when set */
  envLogLevel?: number;
}

/**
 * @param parsed citty's parsed arguments (the last value of a repeated option only)
 * @param checked every value of the repeatable options, from the strict check
 * @throws UsageError for a STEWARD_* variable with a bad boolean or log level
 */
export function resolveSettings(
  defs: ArgsDef,
  parsed: Readonly<Record<string, unknown>>,
  checked: CheckedArgs,
  env: Readonly<Record<string, string | undefined>>,
): Settings {
  const fromEnv = readEnvOptions(env, defs);
  const settings: Settings = { values: {}, origin: {} };
  const envLogLevel = readEnvLogLevel(env);
  if (envLogLevel !== undefined) settings.envLogLevel = envLogLevel;
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const given = commandLineValue(name, parsed, checked);
    if (given !== undefined) {
      settings.values[name] = given;
      settings.origin[name] = "command line";
    } else if (fromEnv[name] !== undefined) {
      settings.values[name] = fromEnv[name];
      settings.origin[name] = "environment";
    }
  }
  return settings;
}

function commandLineValue(name: string, parsed: Readonly<Record<string, unknown>>, checked: CheckedArgs): OptionValue | undefined {
  if (REPEATABLE.has(name)) return checked.lists[name];
  const value = parsed[name];
  return typeof value === "string" || typeof value === "boolean" ? value : undefined;
}

/** How the user set an option: `--daemon` or `STEWARD_DAEMON`. */
export function spellingOf(settings: Settings, option: string): string {
  return settings.origin[option] === "environment" ? envVariableOf(option) : `--${option}`;
}

/** Options that cannot be on together, and why. */
const CONFLICTS: readonly (readonly [string, string, string])[] = [
  ["daemon", "systemd", "systemd supervises a foreground process"],
  ["quiet", "verbose", "choose one log level"],
];

/** @throws UsageError naming both options, as the user set them */
export function refuseConflicts(settings: Settings): void {
  for (const [first, second, reason] of CONFLICTS) {
    if (settings.values[first] === true && settings.values[second] === true) {
      throw new UsageError(`${spellingOf(settings, first)} and ${spellingOf(settings, second)} cannot be combined: ${reason}`);
    }
  }
}

/** The options that become configuration overrides, by the override they set. */
const { command: _command, ...OVERRIDE_OPTIONS }: Readonly<Record<OverrideField, string>> = OPTION_OF;

/** The values config/ validates over the file; it reports problems by `origin`. */
export function toOverrides(settings: Settings, command: string[] | undefined): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  const origin: Partial<Record<OverrideField, OverrideOrigin>> = {};
  for (const [field, option] of Object.entries(OVERRIDE_OPTIONS) as [Exclude<OverrideField, "command">, string][]) {
    const value = settings.values[option];
    if (value === undefined) continue;
    if (field === "listen" || field === "masterCli") overrides[field] = Array.isArray(value) ? value : [String(value)];
    else overrides[field] = String(value);
    origin[field] = settings.origin[option];
  }
  if (command !== undefined) {
    overrides.command = command;
    origin.command = "command line";
  }
  overrides.origin = origin;
  return overrides;
}

/** consola levels: `--quiet` errors only (0), default info (3), `--verbose` debug (4). */
export function logLevelOf(settings: Settings): number {
  if (settings.values.quiet === true) return 0;
  if (settings.values.verbose === true) return 4;
  return settings.envLogLevel ?? 3;
}

/** The configuration file to read, if one was named. */
export function configFileOf(settings: Settings): string | undefined {
  const file = settings.values.config;
  return typeof file === "string" ? file : undefined;
}
