/**
 * The end-to-end harness: starts steward as a real process in one of three modes (the
 * compiled binary, `bun src/main.ts`, `deno run -A src/main.ts`), collects its stderr line
 * by line, waits on conditions with deadlines, talks HTTP to its listeners, and cleans up
 * after every test: SIGKILL to the process group it created and to the workers that
 * master started (found by their STEWARD_MASTER_PID, never by name), temp dir removed.
 *
 * Written against node: built-ins only, so the same files run under `deno test` and could
 * run under another node:test runner.
 */
export * from "./_modes.ts";
export * from "./_process.ts";
export * from "./_steward.ts";
export * from "./_config.ts";
export * from "./_http.ts";
export * from "./_reload.ts";
