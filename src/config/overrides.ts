/**
 * Command-line (and STEWARD_*) values over the file, as types.ts describes: scalars
 * replace, `listen` replaces the file's listeners, `masterCli` is appended, `command`
 * replaces the worker command. Relative paths here are relative to the working directory,
 * where the user typed them, not to the file.
 */

import type { Draft, Placed } from "./draft.ts";
import { GLOBAL_FIELDS, setGlobal } from "./global.ts";
import type { IdDatabase } from "./ids.ts";
import type { ProblemList } from "./problems.ts";
import { DEFAULT_BACKLOG, parseListenOption, parseMasterCliOption } from "./sockets.ts";
import type { ConfigOverrides, ListenerConfig, MasterCliConfig } from "./types.ts";

export interface OverrideContext {
  problems: ProblemList;
  cwd: string;
  ids: IdDatabase;
}

export function applyOverrides(draft: Draft, overrides: ConfigOverrides, ctx: OverrideContext): void {
  const { problems } = ctx;
  for (const { field, parse } of GLOBAL_FIELDS) {
    const value = overrides[field];
    if (value === undefined) continue;
    const parsed = parse(value, true, ctx.cwd);
    if (parsed.ok) setGlobal(draft.global, field, parsed.value);
    else problems.inOverride(field, parsed.error, value);
  }
  if (overrides.listen !== undefined) draft.listen = listenersFrom(overrides.listen, ctx);
  for (const text of overrides.masterCli ?? []) {
    const parsed = parseMasterCliOption(text, ctx.cwd, ctx.ids);
    if (parsed.ok) draft.masterCli.push({ value: parsed.value, text } satisfies Placed<MasterCliConfig>);
    else for (const error of parsed.errors) problems.inOverride("masterCli", error, text);
  }
  // No arguments after `--` means "no command given here", so the file's command stands.
  if (overrides.command !== undefined && overrides.command.length > 0) {
    if (overrides.command[0] === "") {
      problems.inOverride("command", "the program to run must not be empty", overrides.command[0]);
    } else {
      draft.worker.command = overrides.command;
      draft.worker.commandInvalid = false;
      draft.worker.commandFromFile = false;
    }
  }
}

/** `-l` values replace the file's listeners; unnamed ones are named by their position. */
function listenersFrom(texts: readonly string[], ctx: OverrideContext): Placed<ListenerConfig>[] {
  const listeners: Placed<ListenerConfig>[] = [];
  texts.forEach((text, index) => {
    const parsed = parseListenOption(text, ctx.cwd);
    if (!parsed.ok) {
      ctx.problems.inOverride("listen", parsed.error, text);
      return;
    }
    const { name = `listen${index + 1}`, bind, address } = parsed.value;
    listeners.push({ value: { name, bind, address, backlog: DEFAULT_BACKLOG }, text });
  });
  return listeners;
}
