/**
 * The exit code of a usage error (docs/REFERENCE.md §6): the user typed something steward
 * cannot run. One owner for the CLI, the master CLI client and the exec shim; it sits below
 * every layer so that each can import it.
 */
export const USAGE_EXIT_CODE = 2;
