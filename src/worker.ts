/**
 * `steward/worker`, for workers written in JavaScript or TypeScript (Node, Bun, Deno), with
 * no dependencies: `listeners()`, `serve({ fetch })`, `FastResponse`, `ready()`, `status(text)`,
 * `onStop(drain)` (src/worker-lib/), and `serveCli`, which answers the master-CLI commands
 * steward routes to this worker (`@1 show info`, REFERENCE §7.4).
 *
 * ```ts
 * import { serveCli } from "steward/worker";
 * await serveCli((command, { level }) => command === "show info" ? `pid: ${process.pid}` : `Unknown command: '${command}'`);
 * ```
 *
 * The protocol, one exchange per connection on the unix socket `STEWARD_CLI_SOCKET`: the
 * master writes one command line, prefixed `user -; ` or `operator -; ` when the session
 * is below admin (HAProxy's convention), and half-closes; the worker writes its reply and
 * closes. Only node:net and node:fs, so the same file runs under every runtime.
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import process from "node:process";

export { envName, listeners, type ListenerShare, type StewardListener } from "./worker-lib/listeners.ts";
export { serve, type FetchHandler, type Served, type ServeOptions } from "./worker-lib/serve.ts";
export { FastResponse } from "./worker-lib/fast-response.ts";
export { notify, ready, status } from "./worker-lib/notify.ts";
export { onStop, type Drain } from "./worker-lib/stop.ts";

export type CliLevel = "admin" | "operator" | "user";

export interface CliContext {
  /** the level of the master-CLI session the command came from */
  level: CliLevel;
}

export type CliHandler = (command: string, ctx: CliContext) => string | Promise<string>;

export interface CliService {
  /** stops accepting and removes the socket file */
  close(): Promise<void>;
}

export interface ServeCliOptions {
  /** default: `process.env.STEWARD_CLI_SOCKET` */
  path?: string;
}

/** The master never forwards more than its own line limit. */
const MAX_LINE = 64 * 1024;

/** Splits the level prefix off a forwarded line: `user -; show info` → user, `show info`. */
export function parseForwarded(line: string): { command: string; level: CliLevel } {
  const text = line.replace(/\r?\n$/, "");
  const m = /^(user|operator) -; ?/.exec(text);
  if (!m) return { command: text, level: "admin" };
  return { command: text.slice(m[0].length), level: m[1] as CliLevel };
}

/**
 * Listens on `STEWARD_CLI_SOCKET` (mode 600; a stale file from a predecessor removed) and
 * answers each forwarded command with `handler`'s reply. Resolves once listening; a no-op
 * when the variable is unset (not started by steward). The listener does not keep the
 * process alive on its own: a worker that drains and lets its event loop empty still exits.
 */
export async function serveCli(handler: CliHandler, options: ServeCliOptions = {}): Promise<CliService> {
  const path = options.path ?? process.env.STEWARD_CLI_SOCKET;
  if (!path) return { close: async () => {} };
  rmSync(path, { force: true });
  const server = createServer({ allowHalfOpen: true }, (socket) => answer(socket, handler));
  await listenPrivately(server, path);
  server.unref();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rmSync(path, { force: true });
      }),
  };
}

/**
 * Binds with umask 177 so the file is 600 from the moment it exists (the bind happens
 * synchronously inside listen()), then chmods anyway for runtimes that bind later.
 */
function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    let previous: number | undefined;
    try {
      previous = process.umask(0o177);
    } catch {
      // no umask here (a sandbox): the chmod below still applies
    }
    try {
      server.listen({ path }, () => {
        server.off("error", reject);
        try {
          chmodSync(path, 0o600);
        } catch (e) {
          reject(e);
          return;
        }
        resolve();
      });
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
}

/** Reads one line (or everything until the half-close), replies, closes. */
function answer(socket: Socket, handler: CliHandler): void {
  const decoder = new TextDecoder();
  let input = "";
  let answered = false;
  const respond = async (line: string) => {
    answered = true;
    const { command, level } = parseForwarded(line);
    let reply: string;
    try {
      reply = await handler(command, { level });
    } catch (e) {
      reply = `Error: ${(e as Error).message}`;
    }
    socket.end(reply === "" || reply.endsWith("\n") ? reply : `${reply}\n`);
  };
  socket.on("data", (chunk: Uint8Array) => {
    if (answered) return;
    input += decoder.decode(chunk, { stream: true });
    const nl = input.indexOf("\n");
    if (nl >= 0) void respond(input.slice(0, nl));
    else if (input.length > MAX_LINE) socket.destroy();
  });
  socket.on("end", () => {
    if (!answered) void respond(input);
  });
  socket.on("error", () => socket.destroy());
}
