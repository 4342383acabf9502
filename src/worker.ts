/**
 * `steward/worker`, for workers written in JavaScript or TypeScript (Node, Bun, Deno), with
 * no dependencies: `listeners()`, `serve({ fetch })`, `FastResponse`, `ready()`, `status(text)`,
 * `onStop(drain)` (src/worker-lib/), `serveCli`, which answers the master-CLI commands
 * steward routes to this worker (`@1 show info`, REFERENCE §7.4), and `onHealth`, which
 * decides its reply to steward's `health` command (REFERENCE §5.10).
 *
 * ```ts
 * import { serveCli } from "steward/worker";
 * await serveCli((command, { level }) => command === "show info" ? `pid: ${process.pid}` : `Unknown command: '${command}'`);
 * ```
 */
export { envName, listeners, type ListenerShare, type StewardListener } from "./worker-lib/listeners.ts";
export { serve, type FetchHandler, type Served, type ServeOptions } from "./worker-lib/serve.ts";
export { FastResponse } from "./worker-lib/fast-response.ts";
export { notify, ready, status } from "./worker-lib/notify.ts";
export { onStop, type Drain } from "./worker-lib/stop.ts";

export {
  healthReply, onHealth, parseForwarded, serveCli,
  type CliContext, type CliHandler, type CliLevel, type CliService, type HealthHandler, type ServeCliOptions,
} from "./worker-lib/cli.ts";
