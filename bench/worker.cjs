// The benchmark worker: a plain Node HTTP server. Behind steward it serves every
// inherited listener (fd 3..); alone it binds PORT itself, for the comparison.
const http = require("node:http");
const handler = (req, res) => {
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
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 100).unref();
});
