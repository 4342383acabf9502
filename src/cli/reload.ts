/** `steward reload -S ADDR`: reload through the master CLI; exit 0 iff the reply says Success=1. */

import { type ArgsDef, defineCommand } from "citty";
import { requireMasterCliAddress, UnavailableError } from "./_client.ts";
import { RELOAD_ARGS } from "./args.ts";
import type { CommandInput } from "./deps.ts";

export const reload = defineCommand<ArgsDef>({
  meta: { name: "reload", description: "Reload through the master CLI and print the reply; exit 0 iff it succeeded" },
  args: RELOAD_ARGS,
  run: ({ data }) => {
    const input = data as CommandInput;
    const send = input.deps.mcli?.reload;
    if (send === undefined) throw new UnavailableError("reload");
    return send({ address: requireMasterCliAddress(input) });
  },
});
