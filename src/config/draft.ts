/**
 * The configuration while it is being assembled from the file and the overrides, with
 * where each entry came from, and the checks that compare entries with each other.
 */

import { type KeyPath, keyPathText, type ProblemList } from "./problems.ts";
import { addressesClash } from "./sockets.ts";
import type { GlobalConfig, HealthConfig, ListenAddress, ListenerConfig, MasterCliConfig, ProgramConfig, SocketDialect } from "./types.ts";

/** What the address checks need from a listener or a master-CLI entry. */
type Socket = { bind: string; address: ListenAddress };

/** An entry and its origin: a key path in the file, or the raw text of an option. */
export type Placed<T> = { value: T; path: KeyPath } | { value: T; text: string };

export interface Draft {
  global: GlobalConfig;
  listen: Placed<ListenerConfig>[];
  worker: {
    command?: string[];
    /** a command was given but was invalid (already reported; not "missing") */
    commandInvalid: boolean;
    cwd?: string;
    env: Record<string, string>;
    socketEnv?: SocketDialect[];
    health?: HealthConfig | undefined;
    /** false when the command came from the command line (after --) */
    commandFromFile?: boolean;
  };
  program: Placed<ProgramConfig>[];
  masterCli: Placed<MasterCliConfig>[];
}

/**
 * Names exported in LISTEN_FDNAMES and shown by `show proc` must be unique, and no two
 * sockets may claim the same address (the second bind would fail at start, or worse,
 * only at the reload that adds it).
 */
export function reportClashes(draft: Draft, problems: ProblemList): void {
  const { listen, masterCli, program } = draft;
  const label = (entry: Placed<unknown>, field: "listen" | "masterCli" = "listen"): string =>
    "path" in entry ? keyPathText(entry.path) : `${problems.optionName(field)} '${entry.text}'`;
  const report = (entry: Placed<unknown>, field: "listen" | "masterCli", key: string, problem: string, got: unknown): void => {
    if ("path" in entry) problems.inFile([...entry.path, key], problem, got);
    else problems.inOverride(field, problem, entry.text);
  };

  listen.forEach((entry, i) => {
    const sameName = listen.slice(0, i).find((earlier) => earlier.value.name === entry.value.name);
    if (sameName) report(entry, "listen", "name", `duplicate name (also ${label(sameName, "listen")})`, entry.value.name);
    const clash = listen.slice(0, i).find((earlier) => addressesClash(earlier.value.address, entry.value.address));
    if (clash) report(entry, "listen", "bind", clashText(entry.value, clash.value, label(clash, "listen")), entry.value.bind);
  });

  masterCli.forEach((entry, i) => {
    const clashes = (other: Placed<Socket>): boolean => addressesClash(other.value.address, entry.value.address);
    const earlier = masterCli.slice(0, i).find(clashes);
    const listener = listen.find(clashes);
    if (earlier) report(entry, "masterCli", "bind", clashText(entry.value, earlier.value, label(earlier, "masterCli")), entry.value.bind);
    else if (listener) report(entry, "masterCli", "bind", clashText(entry.value, listener.value, label(listener)), entry.value.bind);
  });

  program.forEach((entry, i) => {
    const same = program.slice(0, i).find((earlier) => earlier.value.name === entry.value.name);
    if (same && "path" in entry) problems.inFile([...entry.path, "name"], `duplicate name (also ${label(same)})`, entry.value.name);
  });
}

function clashText(socket: Socket, other: Socket, otherLabel: string): string {
  const a = socket.address;
  const b = other.address;
  const same = a.kind === "unix" ? b.kind === "unix" && a.path === b.path : b.kind === "tcp" && a.host === b.host;
  return same ? `duplicate address (also ${otherLabel})` : `address overlaps ${other.bind} (${otherLabel})`;
}
