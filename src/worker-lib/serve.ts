/**
 * `serve({ fetch })`: a standard fetch handler on a steward listener, at the best speed
 * each runtime allows today (measured in bench/js-servers.mjs):
 *
 * | runtime | share = "reuseport"                         | share = "inherit" (fd 3, ...)           |
 * |---------|---------------------------------------------|-----------------------------------------|
 * | Bun     | Bun.serve({ reusePort })                    | node:net listen({fd}) feeding node:http |
 * | Deno    | Deno.listen({ reusePort }), Deno's HTTP     | node:http listen({fd})                  |
 * |         | engine per connection (deno-serve.ts)       |                                         |
 * | Node    | node:http listen({ reusePort })             | node:http listen({fd})                  |
 *
 * On node:http the handler gets a lazy Request (node-request.ts) and a FastResponse it returns
 * is written directly (fast-response.ts); Bun.serve and Deno.serve get the FastResponse's real
 * Response.
 *
 * Bun.serve cannot adopt a descriptor (oven-sh/bun#22559) and node:http's listen({fd})
 * under Bun binds a random port instead; Deno.serve has no fd option (denoland/deno#14006).
 *
 * This file runs inside user workers, not in steward: it feature-detects globalThis.Bun
 * and globalThis.Deno, which src/ outside src/runtime and src/sys never does.
 */
import http from "node:http";
import net from "node:net";
import { closing, type DenoLike, denoReusePort } from "./deno-serve.ts";
import { nativeResponse } from "./fast-response.ts";
import { pickListener, type StewardListener } from "./listeners.ts";
import { connectionsGone, type FetchHandler, nodeHandler, trackConnections } from "./node-http.ts";
import { onStop } from "./stop.ts";
import { serveCliIfUnserved } from "./cli.ts";

export type { FetchHandler };

export interface ServeOptions {
  fetch: FetchHandler;
  /** the listener's name (default: the first one) */
  listener?: string;
  /** drain on the stop signal and exit 0 once drained (default true); false: call `drain()` yourself */
  drainOnStop?: boolean;
}

export interface Served {
  listener: StewardListener;
  /** what serves it, e.g. `Bun.serve (reusePort)`, `node:http on fd 3` */
  engine: string;
  /**
   * Stops accepting, finishes the requests in flight, answers the next request on each
   * kept-alive connection with `Connection: close`; resolves when no connection is left.
   */
  drain(): Promise<void>;
}

interface BunServer {
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunLike {
  serve(options: Record<string, unknown>): BunServer;
}
/** `fetch` for Bun.serve and Deno.serve: native Responses, `Connection: close` once draining. */
function native(fetch: FetchHandler, draining: () => boolean): (request: Request) => Promise<Response> {
  return async (request) => {
    const response = nativeResponse(await fetch(request));
    return draining() ? closing(response) : response;
  };
}

function bunReusePort(bun: BunLike, l: StewardListener, fetch: FetchHandler): Omit<Served, "listener"> {
  let draining = false;
  const server = bun.serve({
    hostname: l.host,
    port: l.port,
    reusePort: true,
    fetch: native(fetch, () => draining),
  });
  return {
    engine: "Bun.serve (reusePort)",
    drain: async () => {
      draining = true;
      await server.stop(false);
    },
  };
}

function listening(server: net.Server, listen: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      resolve();
    });
    listen();
  });
}

async function nodeHttp(l: StewardListener, fetch: FetchHandler, viaNet: boolean): Promise<Omit<Served, "listener">> {
  const { state, listener } = nodeHandler(fetch);
  const app = http.createServer(listener);
  trackConnections(app, state);
  // Under Bun, http.Server.listen({fd}) ignores the descriptor: a plain net.Server adopts
  // it and hands each connection to the HTTP server.
  const acceptor = viaNet ? net.createServer((socket) => app.emit("connection", socket)) : app;
  const where = l.share === "inherit" ? { fd: l.fd! } : { host: l.host!, port: l.port!, reusePort: true };
  await listening(acceptor, () => acceptor.listen(where));
  return {
    engine: `${viaNet ? "node:net + node:http" : "node:http"} ${l.share === "inherit" ? `on fd ${l.fd}` : "(reusePort)"}`,
    drain: async () => {
      state.draining = true;
      // net.Server#close only: http.Server#close would also cut idle kept-alive
      // connections at once, racing a request the client may be sending on one.
      await new Promise<void>((resolve) => net.Server.prototype.close.call(acceptor, () => resolve()));
      await connectionsGone(state);
    },
  };
}

/** Serves `fetch` on a steward listener; resolves once it accepts. */
export async function serve(options: ServeOptions): Promise<Served> {
  const l = pickListener(options.listener);
  const g = globalThis as unknown as { Bun?: BunLike; Deno?: DenoLike };
  let served: Omit<Served, "listener">;
  if (l.share === "reuseport" && g.Bun) served = bunReusePort(g.Bun, l, options.fetch);
  else if (l.share === "reuseport" && g.Deno) served = denoReusePort(g.Deno, l, options.fetch);
  else served = await nodeHttp(l, options.fetch, g.Bun !== undefined && l.share === "inherit");
  const result: Served = { listener: l, ...served };
  if (options.drainOnStop !== false) onStop(() => result.drain());
  // steward's `health` command is answered by default (REFERENCE §5.8)
  await serveCliIfUnserved();
  return result;
}
