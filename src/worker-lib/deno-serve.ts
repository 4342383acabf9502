/**
 * `serve()` on a reuse-port address under Deno, losing no connection when it stops.
 *
 * `Deno.serve`'s `shutdown()` closes the listener and, in the same step, every accepted
 * connection that has not yet delivered a request (ext/http op_http_close: "idle connections
 * ... close with FIN", denoland/deno#31959). A client's request follows its handshake, and
 * the kernel hands over the connection at the handshake: so each reload cuts the
 * connections accepted in the last moment before the stop signal, unanswered. Deno has no
 * public "stop accepting, keep the connections" (denoland/deno#14006 for adopting a socket).
 *
 * So here the module owns the accept loop: `Deno.listen({ reusePort })`, each connection
 * served by Deno's own HTTP engine (`serveHttpOnConnection`, the per-connection half of
 * `Deno.serve`). On drain: close the listener first (the kernel moves what is queued on it
 * to the other sockets of the group when net.ipv4.tcp_migrate_req = 1), answer every
 * further request with `Connection: close` (the engine closes after it), and give each
 * connection with no request in flight IDLE_GRACE_MS to send one before shutting it down,
 * as node:http's keepAliveTimeout does. Where `serveHttpOnConnection` is missing (it is
 * Deno-internal), `Deno.serve` is used with its lossy shutdown, and the engine says so.
 */
import { nativeResponse } from "./fast-response.ts";
import type { StewardListener } from "./listeners.ts";
import type { FetchHandler } from "./node-http.ts";

/** how long a connection with no request in flight may stay once draining (node:http's keepAliveTimeout) */
export const IDLE_GRACE_MS = 5_000;

interface DenoConn {
  close(): void;
}
interface DenoListener {
  accept(): Promise<DenoConn>;
  close(): void;
}
interface DenoHttpServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}
type Handler = (request: Request) => Response | Promise<Response>;
type OnError = (error: unknown) => Response;
type ServeOnConnection = (conn: DenoConn, signal: AbortSignal | undefined, handler: Handler, onError: OnError, onListen: () => void) => DenoHttpServer;

export interface DenoLike {
  serve(options: Record<string, unknown>, handler: Handler): DenoHttpServer;
  listen(options: { transport: "tcp"; hostname: string; port: number; reusePort: boolean }): DenoListener;
  internal?: symbol;
}

export interface DenoServed {
  engine: string;
  drain(): Promise<void>;
}

/** A response that closes its connection (headers of a fetched Response may be immutable). */
export function closing(response: Response): Response {
  const copy = new Response(response.body, response);
  copy.headers.set("connection", "close");
  return copy;
}

function onError(error: unknown): Response {
  console.error("steward/worker: the fetch handler threw:", error);
  return new Response("Internal Server Error\n", { status: 500 });
}

/** Deno's per-connection HTTP server, when this Deno exposes it. */
function serveOnConnection(deno: DenoLike): ServeOnConnection | undefined {
  const internals = deno.internal === undefined ? undefined : (deno as unknown as Record<symbol, Record<string, unknown> | undefined>)[deno.internal];
  const found = internals?.serveHttpOnConnection;
  return typeof found === "function" ? (found as ServeOnConnection) : undefined;
}

/** One accepted connection: its server, how many requests are in flight on it, its idle timer. */
interface Conn {
  server: DenoHttpServer;
  busy: number;
  timer?: ReturnType<typeof setTimeout>;
}

function ownAcceptLoop(deno: DenoLike, serveOn: ServeOnConnection, l: StewardListener, fetch: FetchHandler): DenoServed {
  const listener = deno.listen({ transport: "tcp", hostname: l.host!, port: l.port!, reusePort: true });
  const conns = new Set<Conn>();
  let draining = false;
  let onEmpty: (() => void) | undefined;
  let drained: Promise<void> | undefined;

  // A graceful shutdown of one connection's server lets the requests in flight finish, then
  // closes it; one waiting for a request it closes at once (the race the grace avoids).
  const close = (c: Conn) => void c.server.shutdown().catch(() => {});
  const idleCheck = (c: Conn) => {
    if (!draining || c.busy > 0 || c.timer !== undefined) return;
    c.timer = setTimeout(() => close(c), IDLE_GRACE_MS);
  };
  const accept = (conn: DenoConn) => {
    const c: Conn = { server: undefined as unknown as DenoHttpServer, busy: 0 };
    const handler = async (request: Request): Promise<Response> => {
      c.busy++;
      if (c.timer !== undefined) clearTimeout(c.timer);
      c.timer = undefined;
      try {
        const response = nativeResponse(await fetch(request));
        return draining ? closing(response) : response;
      } finally {
        c.busy--;
        // Deno's engine keeps a kept-alive connection open whatever the response's
        // Connection header says: once draining, the shutdown closes it after this answer
        if (draining) close(c);
        else idleCheck(c);
      }
    };
    c.server = serveOn(conn, undefined, handler, onError, () => {});
    conns.add(c);
    idleCheck(c);
    void c.server.finished.catch(() => {}).finally(() => {
      if (c.timer !== undefined) clearTimeout(c.timer);
      conns.delete(c);
      if (conns.size === 0) onEmpty?.();
    });
  };
  // ends once the listener is closed: an accept that completed before that is served first
  const accepting = (async () => {
    for (;;) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (draining || (error as Error)?.name === "BadResource") return;
        // EMFILE and the like: the connection stays queued for the next accept
        console.error("steward/worker: accept failed:", error);
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      // one accepted before the listener closed is served like any other
      accept(conn);
    }
  })();
  return {
    engine: "Deno.listen + Deno HTTP per connection (reusePort)",
    drain: () => (drained ??= (async () => {
      draining = true;
      listener.close();
      // A connection accepted just before the close is still on its way to JS: exiting
      // without it would close it unread, a reset for its client.
      await accepting;
      // busy ones close after their answer (above); the others get the grace
      for (const c of conns) idleCheck(c);
      if (conns.size > 0) await new Promise<void>((resolve) => (onEmpty = resolve));
    })()),
  };
}

/** `Deno.serve` itself, where Deno has no per-connection server: its shutdown may cut a connection accepted at that moment. */
function plainDenoServe(deno: DenoLike, l: StewardListener, fetch: FetchHandler): DenoServed {
  let draining = false;
  const server = deno.serve({ hostname: l.host, port: l.port, reusePort: true, onListen: () => {} }, async (request) => {
    const response = nativeResponse(await fetch(request));
    return draining ? closing(response) : response;
  });
  return {
    engine: "Deno.serve (reusePort)",
    drain: async () => {
      draining = true;
      await server.shutdown();
    },
  };
}

export function denoReusePort(deno: DenoLike, l: StewardListener, fetch: FetchHandler): DenoServed {
  const serveOn = serveOnConnection(deno);
  return serveOn ? ownAcceptLoop(deno, serveOn, l, fetch) : plainDenoServe(deno, l, fetch);
}
