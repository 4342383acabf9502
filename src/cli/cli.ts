/** `steward cli -S ADDR [COMMAND...]`: send master-CLI commands (the client is injected). */

import { type ArgsDef, defineCommand } from "citty";
import { requireMasterCliAddress, UnavailableError } from "./_client.ts";
import { CLI_ARGS } from "./args.ts";
import type { CommandInput } from "./deps.ts";

export const cli = defineCommand<ArgsDef>({
  meta: { name: "cli", description: "Send master CLI commands; an interactive prompt when none is given and stdin is a TTY" },
  args: CLI_ARGS,
  run: ({ data }) => {
    const input = data as CommandInput;
    const send = input.deps.mcli?.cli;
    if (send === undefined) throw new UnavailableError("cli");
    // Words after `--` are part of the command too, for commands that contain a leading `-`.
    const words = [...input.checked.positionals, ...(input.command ?? [])];
    return send({ address: requireMasterCliAddress(input), words });
  },
});
