// The runtime's own HTTP server on HOST:PORT (Bun.serve, Deno.serve, node:http), with
// reusePort, answering "hello\n": alone on its own port, or behind steward with
// share = "reuseport" (same file, same options). On SIGTERM it stops accepting, finishes
// what is in flight and exits 0.
import http from "node:http";
import process from "node:process";

const hostname = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT);
const body = "hello\n";
let stop;
if (globalThis.Bun) {
  const server = globalThis.Bun.serve({ hostname, port, reusePort: true, fetch: () => new Response(body) });
  stop = () => server.stop();
} else if (globalThis.Deno) {
  const server = globalThis.Deno.serve({ hostname, port, reusePort: true, onListen() {} }, () => new Response(body));
  stop = () => server.shutdown();
} else {
  const server = http.createServer((_req, res) => res.end(body)).listen({ host: hostname, port });
  stop = () => new Promise((resolve) => server.close(resolve));
}
process.on("SIGTERM", async () => {
  await stop();
  process.exit(0);
});
