/**
 * The strict check citty does not do: citty calls `util.parseArgs` with `strict: false`,
 * which accepts unknown options silently, lets `--workers --daemon` take `--daemon` as the
 * value, and keeps only the last value of a repeated option. This walks the normalised
 * arguments against the same definitions, refuses what citty would let through, and
 * collects every value of the repeatable options.
 */

import type { ArgDef, ArgsDef } from "citty";
import { suggest } from "../config/suggest.ts";
import { UsageError } from "./_usage.ts";
import { REPEATABLE } from "./args.ts";
import { GLUED_VALUE_FLAGS } from "./normalize.ts";

export interface CheckedArgs {
  /** every value of each repeatable option given, in command-line order */
  lists: Record<string, string[]>;
  /** words that are not options or their values */
  positionals: string[];
}

/**
 * @param args long-option arguments from normalizeArgv
 * @param spelled what the user typed for each of `args`, quoted in errors
 * @throws UsageError for an unknown option, a missing value, or a value given to a flag
 */
export function checkArgs(args: readonly string[], spelled: readonly string[], defs: ArgsDef): CheckedArgs {
  const lists: Record<string, string[]> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!;
    if (!isOption(token)) {
      positionals.push(token);
      continue;
    }
    const typed = typedName(spelled[i] ?? token);
    const equals = token.indexOf("=");
    const name = token.startsWith("--") ? token.slice(2, equals === -1 ? undefined : equals) : "";
    const inline = equals === -1 ? undefined : token.slice(equals + 1);
    const def = ownDef(defs, name);
    if (def === undefined || def.type === "positional") {
      if (isNegatedFlag(name, defs) && inline === undefined) continue;
      throw new UsageError(`unknown option '${typed}'${hint(token, defs)}`);
    }
    if (def.type === "boolean") {
      if (inline !== undefined) throw new UsageError(`option '${typed}' takes no value`);
      continue;
    }
    let value = inline;
    if (value === undefined && i + 1 < args.length && !isOption(args[i + 1]!)) value = args[++i];
    if (value === undefined || value === "") throw new UsageError(`option '${typed}' needs a value`);
    if (REPEATABLE.has(name)) (lists[name] ??= []).push(value);
  }
  return { lists, positionals };
}

/** `-` (stdin, by convention) and negative numbers are values, not options. */
function isOption(token: string): boolean {
  return token.startsWith("-") && token !== "-" && !/^-\d/.test(token);
}

/** `--no-daemon` is citty's negation of the flag `--daemon`. */
function isNegatedFlag(name: string, defs: ArgsDef): boolean {
  return name.startsWith("no-") && ownDef(defs, name.slice(3))?.type === "boolean";
}

/** Own properties only: `--constructor` must not find Object.prototype.constructor. */
function ownDef(defs: ArgsDef, name: string): ArgDef | undefined {
  return name !== "" && Object.hasOwn(defs, name) ? defs[name] : undefined;
}

/** The option as the user wrote it, without a value: `--config=x` → `--config`, `-fx` → `-f`. */
function typedName(spelling: string): string {
  if (spelling.startsWith("--")) return spelling.split("=", 1)[0]!;
  return GLUED_VALUE_FLAGS.has(spelling.slice(0, 2)) ? spelling.slice(0, 2) : spelling;
}

/** ` (did you mean '--workers'?)` for `--wrkers` or `-workers`; empty when nothing is close. */
function hint(token: string, defs: ArgsDef): string {
  const word = token.replace(/^-+/, "").split("=", 1)[0]!;
  if (word.length < 2) return "";
  const names = Object.entries(defs).filter(([, def]) => def.type !== "positional").map(([name]) => name);
  const close = suggest(word, names);
  return close === undefined ? "" : ` (did you mean '--${close}'?)`;
}
