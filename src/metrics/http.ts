/**
 * A minimal HTTP/1.1 responder for `GET /metrics` on a socket the master owns.
 *
 * Hand-written because the listener must be the master's own FFI socket, kept open across
 * execve with its accepted connections and serviced on SIGIO like the master CLI
 * (mcli/server.ts): neither runtime's HTTP server can adopt such a descriptor
 * (neither Bun's nor Deno's native server takes a descriptor) or hand its connections to a new image.
 *
 * Invariants: every descriptor is non-blocking with O_ASYNC, so nothing polls while no
 * client is there; one request is answered at a time per connection (a pipelining client
 * that does not read cannot make the master buffer without bound); a connection is
 * closed only after its input was read (half-close, then read to EOF, bounded), so a
 * client never loses a response to a reset.
 */
import { Buffer } from "node:buffer";
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, SHUT_WR } from "../sys/constants.ts";
import type { Posix } from "../sys/posix.ts";
import { CONTENT_TYPE } from "./format.ts";

/** request line and headers, at most */
export const MAX_HEAD = 8 * 1024;
/** connections served at once (closing ones aside); more are answered 503 and closed */
export const MAX_SESSIONS = 32;
/** a keep-alive connection with no request for this long is closed (Prometheus keeps its own for 5 min) */
export const IDLE_TIMEOUT_MS = 5 * 60_000;
const LINGER_MS = 2_000;

/** What a connection carries across a re-exec. */
export interface HandedHttpSession {
  fd: number;
  /** bytes received and not yet answered, base64 */
  input: string;
  /** response bytes not yet written, base64 */
  output: string;
  closeAfterOutput: boolean;
}

interface HttpSession {
  fd: number;
  input: Buffer;
  out: Uint8Array[];
  /** close once `out` is written */
  closeAfterOutput: boolean;
  /** the client sent EOF */
  peerClosed: boolean;
  /** half-closed: reading to EOF before the close */
  lingering?: ReturnType<typeof setTimeout>;
  idle?: ReturnType<typeof setTimeout>;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/** The answer to one request head (request line and headers, without the blank line). */
export function respond(head: string, metrics: () => string): { response: HttpResponse; keepAlive: boolean; head: boolean } {
  const [requestLine = "", ...headerLines] = head.split(/\r?\n/);
  const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (!m) return { response: { status: 400, body: "Bad request line.\n" }, keepAlive: false, head: false };
  const [, method, target, minor] = m;
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim().toLowerCase());
  }
  const connection = headers.get("connection") ?? "";
  const keepAlive = minor === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  if (headers.has("transfer-encoding") || Number(headers.get("content-length") ?? "0") !== 0) {
    return { response: { status: 400, body: "Request bodies are not accepted.\n" }, keepAlive: false, head: false };
  }
  if (method !== "GET" && method !== "HEAD") {
    return { response: { status: 405, headers: { Allow: "GET, HEAD" }, body: `Method ${method} not allowed: use GET.\n` }, keepAlive, head: false };
  }
  const path = target!.split("?")[0];
  if (path !== "/metrics") return { response: { status: 404, body: "Not found: metrics are at /metrics.\n" }, keepAlive, head: method === "HEAD" };
  return { response: { status: 200, headers: { "Content-Type": CONTENT_TYPE }, body: metrics() }, keepAlive, head: method === "HEAD" };
}

export function encodeResponse(r: HttpResponse, keepAlive: boolean, headOnly: boolean): Uint8Array {
  const body = Buffer.from(r.body, "utf8");
  const lines = [`HTTP/1.1 ${r.status} ${REASONS[r.status] ?? ""}`];
  const headers = { "Content-Type": "text/plain; charset=utf-8", ...r.headers };
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push(`Content-Length: ${body.length}`, `Connection: ${keepAlive ? "keep-alive" : "close"}`, "", "");
  const head = Buffer.from(lines.join("\r\n"), "latin1");
  return headOnly ? head : Buffer.concat([head, body]);
}

export class MetricsHttpServer {
  private listenerFd?: number;
  readonly sessions = new Map<number, HttpSession>();
  private readonly buf = new Uint8Array(16 * 1024);

  constructor(
    private readonly px: Posix,
    private readonly metrics: () => string,
    private readonly warn: (message: string) => void,
  ) {}

  /** Serves connections arriving on `fd` (undefined: none any more; the owner closes the listener). */
  setListener(fd: number | undefined): void {
    this.listenerFd = fd;
    if (fd !== undefined) this.px.signalWhenReadable(fd);
  }

  get listening(): number | undefined {
    return this.listenerFd;
  }

  /** Called on SIGIO: accept, read, answer, write. */
  service(): void {
    const sessions = [...this.sessions.values()];
    const listener = this.listenerFd;
    const count = sessions.length + (listener !== undefined ? 1 : 0);
    if (count === 0) return;
    const pollfds = new Int32Array(count * 2); // struct pollfd { int fd; short events; short revents; }
    sessions.forEach((s, i) => {
      pollfds[i * 2] = s.fd;
      pollfds[i * 2 + 1] = POLLIN | (s.out.length > 0 ? POLLOUT : 0);
    });
    if (listener !== undefined) {
      pollfds[sessions.length * 2] = listener;
      pollfds[sessions.length * 2 + 1] = POLLIN;
    }
    if (this.px.fn.poll(pollfds, count, 0) < 0) return; // EINTR: the next SIGIO comes back here
    const revents = (i: number) => (pollfds[i * 2 + 1]! >>> 16) & 0xffff;
    sessions.forEach((s, i) => {
      const r = revents(i);
      if (r & POLLNVAL) return this.drop(s);
      if (r & (POLLIN | POLLHUP | POLLERR)) this.readAll(s);
      if (this.alive(s)) this.flush(s);
    });
    if (listener !== undefined && revents(sessions.length) & POLLIN) this.acceptAll(listener);
  }

  private acceptAll(listener: number): void {
    for (let i = 0; i < 256; i++) {
      let fd: number | null;
      try {
        fd = this.px.accept(listener);
      } catch (e) {
        this.warn(`metrics listener: ${(e as Error).message}`);
        return;
      }
      if (fd === null) return;
      // This loop answers each connection as it accepts it, so a fast client can keep it
      // going while the connections it already closed wait here unread: take their EOF now.
      if (this.sessions.size >= MAX_SESSIONS * 2) this.reapLingering();
      if (this.sessions.size >= MAX_SESSIONS * 2) {
        this.px.close(fd); // far over the limit: no state at all for it
        continue;
      }
      this.px.signalWhenReadable(fd);
      const s = this.open(fd, Buffer.alloc(0));
      // closing connections (bounded by LINGER_MS) do not count: they are served already
      if ([...this.sessions.values()].filter((x) => x.lingering === undefined).length > MAX_SESSIONS) {
        this.send(s, encodeResponse({ status: 503, body: `Too many connections (at most ${MAX_SESSIONS}).\n` }, false, false), true);
      }
      this.readAll(s); // input that arrived before O_ASYNC was set raised no SIGIO
    }
    setTimeout(() => this.service(), 0); // more waiting: after the others had their turn
  }

  /** Reads the connections already answered and half-closed: those whose client is gone are dropped. */
  private reapLingering(): void {
    for (const s of [...this.sessions.values()]) if (s.lingering !== undefined) this.readAll(s);
  }

  private open(fd: number, input: Buffer): HttpSession {
    const s: HttpSession = { fd, input, out: [], closeAfterOutput: false, peerClosed: false };
    this.sessions.set(fd, s);
    this.touch(s);
    return s;
  }

  private touch(s: HttpSession): void {
    if (s.idle !== undefined) clearTimeout(s.idle);
    s.idle = setTimeout(() => this.drop(s), IDLE_TIMEOUT_MS);
  }

  private readAll(s: HttpSession): void {
    const end = this.px.readAvailable(s.fd, this.buf, (chunk) => {
      if (s.lingering !== undefined || s.closeAfterOutput) return; // read and discarded
      s.input = Buffer.concat([s.input, chunk]);
    });
    if (end === "error") return this.drop(s);
    if (end === "eof") s.peerClosed = true;
    if (s.lingering !== undefined && s.peerClosed) return this.drop(s);
    this.answer(s);
    // the client is gone or done sending: nothing more will come
    if (s.peerClosed && this.alive(s)) {
      if (s.out.length === 0) return this.drop(s);
      s.closeAfterOutput = true;
    }
  }

  /** Answers the next complete request, if the previous answer is written. */
  private answer(s: HttpSession): void {
    if (!this.alive(s) || s.out.length > 0 || s.closeAfterOutput || s.lingering !== undefined) return;
    const text = s.input.toString("latin1");
    const end = /\r?\n\r?\n/.exec(text);
    if (!end) {
      if (s.input.length > MAX_HEAD) this.send(s, encodeResponse({ status: 431, body: `Request head over ${MAX_HEAD} bytes.\n` }, false, false), true);
      return;
    }
    if (end.index > MAX_HEAD) {
      this.send(s, encodeResponse({ status: 431, body: `Request head over ${MAX_HEAD} bytes.\n` }, false, false), true);
      return;
    }
    s.input = s.input.subarray(end.index + end[0].length);
    const { response, keepAlive, head } = respond(text.slice(0, end.index), this.metrics);
    this.touch(s);
    this.send(s, encodeResponse(response, keepAlive, head), !keepAlive);
  }

  private send(s: HttpSession, data: Uint8Array, close: boolean): void {
    s.out.push(data);
    if (close) s.closeAfterOutput = true;
    this.flush(s);
  }

  private flush(s: HttpSession): void {
    const end = this.px.writeQueued(s.fd, s.out);
    if (end === "error") return this.drop(s);
    if (end === "full") return; // SIGIO tells when there is room again
    if (s.closeAfterOutput) this.linger(s);
    else this.answer(s); // a request that waited behind this answer
  }

  /** Half-close, then read to EOF (bounded) before the close: unread input would make the kernel reset the connection. */
  private linger(s: HttpSession): void {
    if (s.lingering !== undefined || !this.alive(s)) return;
    if (s.peerClosed) return this.drop(s);
    this.px.fn.shutdown(s.fd, SHUT_WR);
    s.input = Buffer.alloc(0);
    s.lingering = setTimeout(() => this.drop(s), LINGER_MS);
  }

  private alive(s: HttpSession): boolean {
    return this.sessions.get(s.fd) === s;
  }

  private drop(s: HttpSession): void {
    if (!this.alive(s)) return;
    this.sessions.delete(s.fd);
    if (s.lingering !== undefined) clearTimeout(s.lingering);
    if (s.idle !== undefined) clearTimeout(s.idle);
    this.px.close(s.fd);
  }

  /**
   * Before execve: no SIGIO (the new image has no handler yet, and SIGIO's default action
   * ends the process) and no close-on-exec, for the listener and every connection; those
   * already closing end here. Returns the connections for the handover.
   */
  prepareExec(): HandedHttpSession[] {
    if (this.listenerFd !== undefined) this.px.stopSignalWhenReadable(this.listenerFd);
    const handed: HandedHttpSession[] = [];
    for (const s of [...this.sessions.values()]) {
      if (s.lingering !== undefined) {
        this.drop(s);
        continue;
      }
      this.px.stopSignalWhenReadable(s.fd);
      this.px.setCloexec(s.fd, false);
      handed.push({
        fd: s.fd,
        input: s.input.toString("base64"),
        output: Buffer.concat(s.out).toString("base64"),
        closeAfterOutput: s.closeAfterOutput,
      });
    }
    return handed;
  }

  /** The exec did not happen: back to serving in this image. */
  execFailed(): void {
    if (this.listenerFd !== undefined) this.px.signalWhenReadable(this.listenerFd);
    for (const s of this.sessions.values()) {
      this.px.setCloexec(s.fd, true);
      this.px.signalWhenReadable(s.fd);
    }
    this.service();
  }

  /** A connection the previous image handed over. */
  adopt(h: HandedHttpSession): void {
    this.px.setCloexec(h.fd, true);
    this.px.signalWhenReadable(h.fd);
    const s = this.open(h.fd, Buffer.from(h.input, "base64"));
    const output = Buffer.from(h.output, "base64");
    if (output.length > 0) s.out.push(output);
    s.closeAfterOutput = h.closeAfterOutput;
  }

  /** Closes every connection (the listener is its owner's to close). */
  closeAll(): void {
    for (const s of [...this.sessions.values()]) this.drop(s);
  }
}
