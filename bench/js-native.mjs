// The runtime's own HTTP server on HOST:PORT (Bun.serve, Deno.serve, node:http), with
// reusePort, answering "hello\n": alone on its own port, or behind steward with
// share = "reuseport" (same file, same options). On SIGTERM it stops accepting, finishes
// what is in flight and exits 0.
import http from "node:http";
import process from "node:process";

const hostname = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT);
const body = "hello\n";
// Bun.serve closes a `Connection: close` request's connection without saying so in the
// answer, which wrk counts as a read error: the answer says it.
const closing = { headers: { connection: "close" } };
const answer = (request) => new Response(body, request.headers.get("connection") === "close" ? closing : undefined);
let stop;
if (globalThis.Bun) {
  const server = globalThis.Bun.serve({ hostname, port, reusePort: true, fetch: answer });
  stop = () => server.stop();
} else if (globalThis.Deno) {
  const server = globalThis.Deno.serve({ hostname, port, reusePort: true, onListen() {} }, answer);
  stop = () => server.shutdown();
} else {
  const server = http.createServer((_req, res) => res.end(body)).listen({ host: hostname, port });
  stop = () => new Promise((resolve) => server.close(resolve));
}
process.on("SIGTERM", async () => {
  await stop();
  process.exit(0);
});
