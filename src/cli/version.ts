/** `steward version` and `steward --version`: the version on stdout, for scripts. */

import { type ArgsDef, defineCommand } from "citty";
import type { CommandInput } from "./deps.ts";

export const version = defineCommand<ArgsDef>({
  meta: { name: "version", description: "Print the version" },
  args: {},
  run: ({ data }) => {
    const { deps } = data as CommandInput;
    deps.stdout(deps.version);
    return 0;
  },
});
