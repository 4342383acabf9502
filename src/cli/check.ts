/**
 * `steward check -f FILE`: validate only. Takes the options of `run` that change the
 * configuration (and their STEWARD_* variables, and a command after `--`), so it checks
 * exactly what `run` with the same arguments would load.
 */

import { type ArgsDef, defineCommand } from "citty";
import { CHECK_ARGS } from "./args.ts";
import type { CommandInput } from "./deps.ts";
import { startOrCheck } from "./run.ts";

export const check = defineCommand<ArgsDef>({
  meta: { name: "check", description: "Validate the configuration; exit 0 if valid, else 1 with one line per problem" },
  args: CHECK_ARGS,
  run: ({ args, data }) => startOrCheck(data as CommandInput, CHECK_ARGS, args, "check"),
});
