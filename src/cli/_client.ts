/**
 * What the client commands (cli, reload, upgrade) share: finding the master CLI address
 * and refusing politely when this build has no client.
 */

import { parseMasterCliAddress } from "../config/address.ts";
import { UsageError } from "./_usage.ts";
import type { CommandInput } from "./deps.ts";

/** Thrown by a client command whose handler was not given to runCli. */
export class UnavailableError extends Error {
  readonly code = "E_UNAVAILABLE";

  constructor(readonly subcommand: string) {
    super(`'${subcommand}' is not available in this build`);
    this.name = "UnavailableError";
  }
}

/**
 * `-S ADDR` (the last one given), else the first bind of STEWARD_MASTER_CLI: in a container
 * configured through the environment, `steward reload` then finds the master by itself.
 */
export function masterCliAddress(input: CommandInput): string | undefined {
  const given = input.checked.lists["master-cli"];
  if (given !== undefined && given.length > 0) return given[given.length - 1];
  const fromEnv = input.deps.env.STEWARD_MASTER_CLI?.trim().split(/\s+/)[0];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

/**
 * The address as given (settings such as `,level,user` included: they are the master's
 * business, the client ignores them).
 * @throws UsageError when neither -S nor STEWARD_MASTER_CLI gives one, or it is not an address
 */
export function requireMasterCliAddress(input: CommandInput): string {
  const address = masterCliAddress(input);
  if (address === undefined) {
    throw new UsageError("option '--master-cli' (-S) is required: the master CLI socket path or HOST:PORT");
  }
  const bind = address.split(",")[0]!.trim();
  const parsed = parseMasterCliAddress(bind, input.deps.cwd);
  if (typeof parsed === "string") throw new UsageError(`option '--master-cli' (-S) '${bind}': ${parsed}`);
  return address;
}
