/**
 * `steward version [--json]` and `steward --version`: the version on stdout, for scripts;
 * with --json, one object: version, the release target the binary was built for, and when
 * (both null from source), so that a file on a host says which release artefact it is.
 */

import { type ArgsDef, defineCommand } from "citty";
import { BUILD_TARGET, BUILD_TIME } from "../version.ts";
import type { CommandInput } from "./deps.ts";

export const version = defineCommand<ArgsDef>({
  meta: { name: "version", description: "Print the version" },
  args: {
    json: { type: "boolean", description: "print version, target and build time as one JSON object" },
  },
  run: ({ args, data }) => {
    const { deps } = data as CommandInput;
    deps.stdout(args.json ? JSON.stringify({ version: deps.version, target: BUILD_TARGET, buildTime: BUILD_TIME }) : deps.version);
    return 0;
  },
});
