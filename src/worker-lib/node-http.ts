/**
 * A standard fetch handler (`(Request) => Response`) served by node:http, with the drain
 * of bench/drain-worker.cjs: once draining, every response (those in flight and the next
 * request on each kept-alive connection) carries `Connection: close`, and idle kept-alive
 * connections are left for the client (or keepAliveTimeout) to close, never cut while a
 * request may be on its way. node:http is hand-adapted here because the module must stay
 * dependency-free (srvx and @hono/node-server do the same, with more cases).
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import process from "node:process";
import { fastParts } from "./fast-response.ts";
import { toRequest } from "./node-request.ts";

export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface NodeHttpState {
  draining: boolean;
  /** open client connections */
  connections: Set<Socket>;
  /** called when the last connection closes */
  onEmpty?: () => void;
}

async function writeResponse(res: ServerResponse, response: Response, draining: boolean): Promise<void> {
  const fast = fastParts(response);
  if (fast) {
    // a FastResponse of a string, bytes or nothing: one writeHead + end (node:http leaves
    // the body out for HEAD, keeping its Content-Length)
    if (draining) fast.headers.connection = "close";
    if (fast.body !== null) fast.headers["content-length"] ??= String(typeof fast.body === "string" ? Buffer.byteLength(fast.body) : fast.body.byteLength);
    if (fast.statusText === undefined) res.writeHead(fast.status, fast.headers);
    else res.writeHead(fast.status, fast.statusText, fast.headers);
    res.end(fast.body ?? undefined);
    return;
  }
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  if (headers["set-cookie"] !== undefined) headers["set-cookie"] = response.headers.getSetCookie();
  if (draining) headers.connection = "close";
  const writeHead = () => (response.statusText ? res.writeHead(response.status, response.statusText, headers) : res.writeHead(response.status, headers));
  if (!response.body) {
    writeHead();
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const first = await reader.read();
  const second = first.done ? first : await reader.read();
  // one chunk (most responses): a single write with its Content-Length
  if (second.done) {
    if (!first.done) headers["content-length"] ??= String(first.value.byteLength);
    writeHead();
    res.end(first.done ? undefined : first.value);
    return;
  }
  writeHead();
  res.write(first.value);
  res.write(second.value);
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    if (!res.write(next.value)) await new Promise((resolve) => res.once("drain", resolve));
  }
  res.end();
}

/** The node:http request listener for `fetch`, and the state its drain reads. */
export function nodeHandler(fetch: FetchHandler): { state: NodeHttpState; listener: (req: IncomingMessage, res: ServerResponse) => void } {
  const state: NodeHttpState = { draining: false, connections: new Set() };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      let response: Response;
      try {
        response = await fetch(toRequest(req));
      } catch (e) {
        process.stderr.write(`steward/worker: the fetch handler threw: ${(e as Error).stack ?? e}\n`);
        response = new Response("Internal Server Error\n", { status: 500 });
      }
      try {
        await writeResponse(res, response, state.draining);
      } catch {
        res.destroy();
      }
    })();
  };
  return { state, listener };
}

/** Tracks `server`'s client connections in `state`, so a drain knows when they are gone. */
export function trackConnections(server: Server, state: NodeHttpState): void {
  server.on("connection", (socket: Socket) => {
    state.connections.add(socket);
    socket.once("close", () => {
      state.connections.delete(socket);
      if (state.connections.size === 0) state.onEmpty?.();
    });
  });
}

/** Resolves once no connection is left. */
export function connectionsGone(state: NodeHttpState): Promise<void> {
  return new Promise((resolve) => {
    if (state.connections.size === 0) resolve();
    else state.onEmpty = resolve;
  });
}
