// How far Bun.listen({ fd: 3 }) gets: raw TCP on the inherited descriptor with a minimal
// HTTP/1.1 responder (one fixed answer per request head; no parser, no fetch handler).
// Not a server anyone should write: it bounds what Bun.serve could do on an fd
// (oven-sh/bun#22559).
const answer = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nhello\n";
globalThis.Bun.listen({
  fd: 3,
  socket: {
    data(socket, chunk) {
      let count = 0;
      for (let i = chunk.indexOf("\r\n\r\n"); i >= 0; i = chunk.indexOf("\r\n\r\n", i + 4)) count++;
      if (count > 0) socket.write(answer.repeat(count));
    },
  },
});
