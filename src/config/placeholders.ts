/**
 * `[worker] socket-env` and the `{fd:NAME}` placeholders of the worker's command and
 * environment (REFERENCE §4): a placeholder must name a configured listener.
 */
import type { SocketDialect } from "./types.ts";
import type { Draft } from "./draft.ts";
import type { KeyPath, ProblemList } from "./problems.ts";
import { parseChoice } from "./values.ts";

/** The dialects workers/dialects.ts sets beside LISTEN_FDS. */
export const SOCKET_DIALECTS: readonly SocketDialect[] = ["einhorn", "server-starter", "nginx"];

/** `{fd:NAME}`; workers/dialects.ts replaces each with the listener's descriptor. */
export const FD_PLACEHOLDER = /\{fd:([^}]*)\}/g;

/** Names used in `{fd:NAME}` placeholders of `text` that are not among `names`. */
export function unknownFdNames(text: string, names: readonly string[]): string[] {
  return [...text.matchAll(FD_PLACEHOLDER)].map((m) => m[1]!).filter((name) => !names.includes(name));
}

export function readSocketEnv(value: unknown, path: KeyPath, problems: ProblemList): SocketDialect[] {
  if (!Array.isArray(value)) {
    problems.inFile(path, `must be an array of ${SOCKET_DIALECTS.join(", ")}`, value);
    return [];
  }
  const out: SocketDialect[] = [];
  value.forEach((item: unknown, index) => {
    const parsed = parseChoice(item, SOCKET_DIALECTS);
    if (parsed.ok) {
      if (!out.includes(parsed.value)) out.push(parsed.value);
    } else problems.inFile([...path, index], parsed.error, item);
  });
  return out;
}

export function checkFdPlaceholders(draft: Draft, problems: ProblemList): void {
  const names = draft.listen.map((entry) => entry.value.name);
  const known = names.length === 0 ? "there are no listeners" : `listeners: ${names.join(", ")}`;
  const problem = (unknown: string[]) => `{fd:${unknown[0]}} names no listener (${known})`;
  const command = draft.worker.command ?? [];
  // a command from the file has a key path; one from the command line (after --) has none
  const fromFile = draft.worker.commandFromFile ?? true;
  command.forEach((arg, index) => {
    const unknown = unknownFdNames(arg, names);
    if (unknown.length === 0) return;
    if (fromFile) problems.inFile(["worker", "command", index], problem(unknown), arg);
    else problems.inOverride("command", problem(unknown), arg);
  });
  for (const [name, value] of Object.entries(draft.worker.env)) {
    const unknown = unknownFdNames(value, names);
    if (unknown.length > 0) problems.inFile(["worker", "env", name], problem(unknown), value);
  }
}
