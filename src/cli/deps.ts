/**
 * What the command line needs from the rest of the program. The CLI never looks at the
 * process itself (argv, env, cwd, stdout, exit): the entry point passes them in, so every
 * command can be run in a test with recording stand-ins.
 */

import type { CarriedBun } from "../workers/bun-command.ts";
import type { RunOptions } from "../master/options.ts";
import type { MasterCliClient } from "../mcli/requests.ts";
import type { CheckedArgs } from "./strict.ts";

export type { MasterCliClient, MasterCliRequest, ReloadRequest, StatusRequest } from "../mcli/requests.ts";

/** `--url` with `--sha256`, or `--manifest` (the artefact and its checksum are read from it) */
export type UpgradeRequest =
  | {
    url: string;
    /** 64 hexadecimal digits, lower case */
    sha256: string;
    address?: string;
  }
  | { manifest: string; address?: string };

export interface CliDeps {
  /** printed by `steward version` */
  version: string;
  /** the process environment: STEWARD_* options are read from it */
  env: Readonly<Record<string, string | undefined>>;
  /** relative paths on the command line are resolved against this */
  cwd: string;
  /** the Bun runtime this steward carries (`@bun` commands), when it carries one */
  bun?: CarriedBun;
  /** runs the master until it stops; it exits the process itself with the §6 code */
  startMaster(opts: RunOptions): Promise<void>;
  /** one line of output for machines (replies, "Configuration file is valid", help) */
  stdout(line: string): void;
  /** one line for people (usage errors, configuration problems) */
  stderr(line: string): void;
  mcli?: MasterCliClient;
  /** `steward upgrade`; resolves to the exit code */
  upgrade?(request: UpgradeRequest): Promise<number>;
}

/** What every command handler receives through citty's `data`. */
export interface CommandInput {
  deps: CliDeps;
  /** the arguments as steward was started with them, kept for re-exec on reload */
  argv: readonly string[];
  checked: CheckedArgs;
  /** the words after `--`, untouched */
  command: string[] | undefined;
}
