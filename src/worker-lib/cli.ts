/**
 * The worker's end of the master CLI (REFERENCE §7.4): `serveCli(handler)` answers the
 * commands steward routes to this worker on `STEWARD_CLI_SOCKET`, and `health` is answered
 * here for every worker that serves the socket (REFERENCE §5.10): "ok" unless `onHealth`
 * says otherwise. `serve()` starts the socket if the worker did not, so a worker that only
 * calls `serve()` answers `health` too. One socket per process: a later `serveCli` replaces
 * the handler of the one already listening.
 *
 * The protocol, one exchange per connection: the master writes one command line, prefixed
 * `user -; ` or `operator -; ` when the session is below admin (HAProxy's convention), and
 * half-closes; the worker writes its reply and closes. Only node:net and node:fs, so the
 * same file runs under every runtime.
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import process from "node:process";

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

/**
 * `onHealth`'s callback: true, nothing or "ok" is healthy; false or any other text is not
 * (the text is the reply, shown in steward's log when the check fails); a throw is not.
 */
export type HealthHandler = () => boolean | string | void | Promise<boolean | string | void>;

interface Service {
  path: string;
  server: Server;
  handler?: CliHandler;
}

/** The socket this process serves, once it does. */
let service: Service | undefined;
let starting: Promise<CliService> | undefined;
let healthHandler: HealthHandler = () => true;

/** The reply to `health`: `ok` when healthy (REFERENCE §5.10). */
export async function healthReply(): Promise<string> {
  try {
    const r = await healthHandler();
    if (r === undefined || r === true) return "ok";
    if (r === false) return "unhealthy";
    return r;
  } catch (e) {
    return `unhealthy: ${(e as Error).message}`;
  }
}

/**
 * Decides the reply to steward's `health` command (its `[worker] health` check, or `@N health`
 * on the master CLI), and serves STEWARD_CLI_SOCKET if nothing does yet.
 */
export function onHealth(handler: HealthHandler): Promise<CliService> {
  healthHandler = handler;
  return service ? Promise.resolve(handleOf(service)) : serveCli(undefined);
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
 * answers each forwarded command with `handler`'s reply (`health` excepted, see onHealth).
 * Resolves once listening; a no-op when the variable is unset (not started by steward).
 * The listener does not keep the process alive on its own: a worker that drains and lets
 * its event loop empty still exits.
 */
export async function serveCli(handler: CliHandler | undefined, options: ServeCliOptions = {}): Promise<CliService> {
  const path = options.path ?? process.env.STEWARD_CLI_SOCKET;
  if (!path) return { close: async () => {} };
  if (starting) await starting.catch(() => undefined);
  if (service && service.path === path) {
    if (handler) service.handler = handler;
    return handleOf(service);
  }
  const s: Service = { path, server: createServer({ allowHalfOpen: true }, (socket) => answer(socket, s)), ...(handler ? { handler } : {}) };
  rmSync(path, { force: true });
  starting = listenPrivately(s.server, path).then(() => {
    s.server.unref();
    service = s;
    return handleOf(s);
  });
  try {
    return await starting;
  } finally {
    starting = undefined;
  }
}

/** For serve(): the socket answers `health` unless the worker serves it already; a failure is one line on stderr. */
export async function serveCliIfUnserved(): Promise<void> {
  if (service || !process.env.STEWARD_CLI_SOCKET) return;
  try {
    await serveCli(undefined);
  } catch (e) {
    process.stderr.write(`steward/worker: cannot serve STEWARD_CLI_SOCKET: ${(e as Error).message}\n`);
  }
}

function handleOf(s: Service): CliService {
  return {
    close: () =>
      new Promise<void>((resolve) => {
        if (service === s) service = undefined;
        s.server.close(() => resolve());
        rmSync(s.path, { force: true });
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
function answer(socket: Socket, s: Service): void {
  const decoder = new TextDecoder();
  let input = "";
  let answered = false;
  const respond = async (line: string) => {
    answered = true;
    const { command, level } = parseForwarded(line);
    let reply: string;
    try {
      if (command.trim() === "health") reply = await healthReply();
      else reply = s.handler ? await s.handler(command, { level }) : `Unknown command: '${command}'`;
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
