/**
 * The listeners steward gives a worker, read from its environment (README, "What a worker
 * receives"): inherited descriptors (`LISTEN_FDS`, `LISTEN_FDNAMES`, fds 3, 4, ...) and
 * reuse-port addresses (`STEWARD_REUSEPORT_NAMES`, `STEWARD_LISTEN_<NAME>_HOST`/`_PORT`),
 * where the worker binds itself with SO_REUSEPORT.
 */
import process from "node:process";

export type ListenerShare = "inherit" | "reuseport";

export interface StewardListener {
  name: string;
  share: ListenerShare;
  /** the inherited descriptor (share = "inherit") */
  fd?: number;
  /** where to bind with SO_REUSEPORT (share = "reuseport") */
  host?: string;
  port?: number;
}

type Env = Record<string, string | undefined>;

/** `http-api` → `HTTP_API`: the part of `STEWARD_LISTEN_<NAME>_PORT` a listener name becomes. */
export function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** Every listener of this worker by name, in configuration order (inherited first); empty when not started by steward. */
export function listeners(env: Env = process.env): Record<string, StewardListener> {
  const out: Record<string, StewardListener> = {};
  const count = Number(env.LISTEN_FDS ?? "0");
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  for (let i = 0; i < count; i++) {
    const name = names[i] || `fd${3 + i}`;
    out[name] = { name, share: "inherit", fd: 3 + i };
  }
  for (const name of (env.STEWARD_REUSEPORT_NAMES ?? "").split(":")) {
    if (name === "") continue;
    const host = env[`STEWARD_LISTEN_${envName(name)}_HOST`];
    const port = Number(env[`STEWARD_LISTEN_${envName(name)}_PORT`]);
    if (host === undefined || !Number.isInteger(port) || port <= 0) continue;
    out[name] = { name, share: "reuseport", host, port };
  }
  return out;
}

/** The listener `name`, or the first one; a one-line error when there is none. */
export function pickListener(name: string | undefined, env: Env = process.env): StewardListener {
  const all = listeners(env);
  if (name !== undefined) {
    const found = all[name];
    if (!found) throw new Error(`steward/worker: no listener named '${name}' (this worker has: ${Object.keys(all).join(", ") || "none"})`);
    return found;
  }
  const first = Object.values(all)[0];
  if (!first) throw new Error("steward/worker: this worker has no listener (LISTEN_FDS and STEWARD_REUSEPORT_NAMES are unset: was it started by steward?)");
  return first;
}
