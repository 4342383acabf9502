/** `steward status -S ADDR [--json] [--strict]`: the probe (the client is injected: mcli/status.ts). */

import { type ArgsDef, defineCommand } from "citty";
import { requireMasterCliAddress, UnavailableError } from "./_client.ts";
import { STATUS_ARGS } from "./args.ts";
import type { CommandInput } from "./deps.ts";

export const status = defineCommand<ArgsDef>({
  meta: {
    name: "status",
    description: "Probe the master: exit 0 if its current generation is ready, 1 if not or no master answers, 3 (--strict) if the last reload failed",
  },
  args: STATUS_ARGS,
  run: ({ args, data }) => {
    const input = data as CommandInput;
    const probe = input.deps.mcli?.status;
    if (probe === undefined) throw new UnavailableError("status");
    return probe({ address: requireMasterCliAddress(input), json: args.json === true, strict: args.strict === true });
  },
});
