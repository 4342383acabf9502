// A benchmark worker that drains the way a good server does (bench/BENCH.md, "Reload
// under load"). Behind steward it serves every inherited listener (fd 3..); alone it binds
// PORT itself (HAProxy's backend in bench/reload-under-load.mjs).
//
// On the stop signal (SIGTERM):
// - stop accepting: only the listening handle is closed (net.Server#close). http.Server#close
//   is not used because since Node 19 it also closes idle keep-alive connections at once,
//   which is what makes a client sending on one of them at that moment see a read error;
// - every request answered from then on (those in flight and the next request on each
//   keep-alive connection) gets `Connection: close`, and Node closes the connection after
//   that response;
// - idle keep-alive connections are left alone: the client closes them, or Node does once
//   they have been idle past keepAliveTimeout (5 s), as it would anyway;
// - exit 0 once no connection is left, or after DRAIN_MAX_MS (default 10000) at the latest.
const http = require("node:http");
const net = require("node:net");

const drainMaxMs = Number(process.env.DRAIN_MAX_MS || 10000);
let draining = false;

const handler = (req, res) => {
  if (draining) res.setHeader("connection", "close");
  res.setHeader("content-type", "text/plain");
  res.end("hello\n");
};

const n = Number(process.env.LISTEN_FDS || 0);
const servers = [];
if (n > 0) {
  for (let i = 0; i < n; i++) servers.push(http.createServer(handler).listen({ fd: 3 + i }));
} else {
  servers.push(http.createServer(handler).listen(Number(process.env.PORT), process.env.HOST || "127.0.0.1"));
}

process.on("SIGTERM", () => {
  if (draining) return;
  draining = true;
  setTimeout(() => process.exit(0), drainMaxMs).unref();
  let open = servers.length;
  for (const s of servers) {
    // net.Server#close: stops listening; the callback runs once every connection is gone.
    net.Server.prototype.close.call(s, () => {
      if (--open === 0) process.exit(0);
    });
  }
});
