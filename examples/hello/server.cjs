// A real worker for steward: a Node HTTP server on the listener steward passes as fd 3.
// It drains the way a good server does: on SIGTERM it stops accepting, answers requests
// in flight with `Connection: close`, and exits once they are done.
const http = require("node:http");

const server = http.createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  if (stopping) res.setHeader("connection", "close");
  res.end(
    JSON.stringify({
      hello: "from steward",
      worker: Number(process.env.STEWARD_WORKER_ID),
      generation: Number(process.env.STEWARD_GENERATION),
      pid: process.pid,
    }) + "\n",
  );
});
let stopping = false;
server.listen({ fd: 3 });

process.on("SIGTERM", () => {
  stopping = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 10_000).unref();
});
