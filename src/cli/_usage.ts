/**
 * Usage errors (REFERENCE §6: exit 2): the user typed something steward cannot run. They are
 * thrown by the parsing steps and turned into one line on stderr by runCli.
 */

export { USAGE_EXIT_CODE } from "../exit-codes.ts";

export class UsageError extends Error {
  readonly code = "E_USAGE";

  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The one line a user sees: the option, the problem, and where to read more. */
export function usageLine(message: string, subcommand: string | undefined): string {
  return `steward: ${message}; ${helpHint(subcommand)}`;
}

/** `run 'steward --help'`, or the subcommand's own help when the user named one. */
export function helpHint(subcommand: string | undefined): string {
  const help = subcommand === undefined || subcommand === "run" || subcommand === "help" ? "steward --help" : `steward ${subcommand} --help`;
  return `run '${help}'`;
}
