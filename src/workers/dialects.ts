/**
 * Socket-passing dialects beside systemd's LISTEN_FDS (REFERENCE §4 `socket-env`), each set
 * as that ecosystem's own libraries read it, and `{fd:NAME}` placeholders that put a
 * listener's descriptor number into the worker's command line or environment. Pure.
 */

import { FD_PLACEHOLDER } from "../config/placeholders.ts";
import type { SocketDialect } from "../config/types.ts";

/** A listener as a worker receives it. */
export interface PassedListener {
  name: string;
  /** the bound address: `tcp://127.0.0.1:8080`, `tcp://[::1]:8080`, `unix:///run/app.sock` */
  url: string;
  /** its descriptor in the worker (3, 4, ...) */
  fd: number;
}

/** Server::Starter's key for a socket: `host:port` (as `--port=host:port`) or the unix path. */
function serverStarterKey(url: string): string {
  if (url.startsWith("unix://")) return url.slice("unix://".length);
  return url.replace(/^tcp:\/\//, "");
}

/**
 * - einhorn (its Ruby, Python and Go client libraries): EINHORN_FD_COUNT, EINHORN_FD_0..,
 *   and EINHORN_MASTER_PID, which they compare with the worker's parent PID;
 * - Server::Starter (Perl's server_ports, Go's server-starter/listener):
 *   SERVER_STARTER_PORT=`host:port=fd;...` (a unix socket: `path=fd`);
 * - nginx (ngx_add_inherited_sockets): NGINX=`fd;fd;` (each number ends with `;`).
 */
export function socketEnv(dialects: readonly SocketDialect[], listeners: readonly PassedListener[], masterPid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const dialect of dialects) {
    switch (dialect) {
      case "einhorn":
        env.EINHORN_FD_COUNT = String(listeners.length);
        listeners.forEach((l, i) => (env[`EINHORN_FD_${i}`] = String(l.fd)));
        env.EINHORN_MASTER_PID = String(masterPid);
        break;
      case "server-starter":
        env.SERVER_STARTER_PORT = listeners.map((l) => `${serverStarterKey(l.url)}=${l.fd}`).join(";");
        break;
      case "nginx":
        env.NGINX = listeners.map((l) => `${l.fd};`).join("");
        break;
    }
  }
  return env;
}

/** `text` with each `{fd:NAME}` replaced by that listener's descriptor (3 + its position). */
export function expandFds(text: string, names: readonly string[]): string {
  return text.replace(FD_PLACEHOLDER, (whole, name: string) => {
    const i = names.indexOf(name);
    return i < 0 ? whole : String(3 + i);
  });
}

export function expandFdsInEnv(env: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, expandFds(v, names)]));
}

/** A worker's argv with its listeners' `{fd:NAME}` placeholders expanded. */
export function argvWithListeners(command: readonly string[], listeners: readonly { name: string }[]): string[] {
  const names = listeners.map((l) => l.name);
  return command.map((arg) => expandFds(arg, names));
}

/** A worker's configured environment with placeholders expanded and its dialects' variables added. */
export function envWithListeners(
  worker: { env: Record<string, string>; socketEnv?: readonly SocketDialect[] },
  listeners: readonly { name: string; url: string }[],
  masterPid: number,
): Record<string, string> {
  const names = listeners.map((l) => l.name);
  const passed = listeners.map((l, i) => ({ name: l.name, url: l.url, fd: 3 + i }));
  return { ...expandFdsInEnv(worker.env, names), ...socketEnv(worker.socketEnv ?? [], passed, masterPid) };
}
