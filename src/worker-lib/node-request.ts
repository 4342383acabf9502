/**
 * A `Request` for a node:http request that builds the runtime's real `Request` only when the
 * handler needs it (its body, signal, clone()...): `method`, `url` and `headers` come from
 * node:http's own parse. Constructing an undici `Request` (URL parse, Headers copy, body
 * stream) per request cost more than node:http itself (bench/js-servers.mjs, part B); srvx
 * (h3js/srvx, src/adapters/_node/request.ts) does the same. `instanceof Request` holds.
 */
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";

export class NodeRequest {
  readonly #req: IncomingMessage;
  #url: string | undefined;
  #headers: Headers | undefined;
  #request: Request | undefined;

  constructor(req: IncomingMessage) {
    this.#req = req;
  }

  get method(): string {
    return this.#req.method ?? "GET";
  }

  get url(): string {
    return (this.#url ??= `http://${this.#req.headers.host ?? "localhost"}${this.#req.url ?? "/"}`);
  }

  get headers(): Headers {
    // node:http has parsed and combined them already; only set-cookie stays an array (and
    // never comes in a request)
    return (this.#headers ??= new Headers(this.#req.headers as Record<string, string>));
  }

  /** The real Request, built once, reading the body from node:http as a stream. */
  #real(): Request {
    if (this.#request) return this.#request;
    const method = this.method;
    const init: RequestInit & { duplex?: "half" } = { method, headers: this.headers };
    if (method !== "GET" && method !== "HEAD") {
      init.body = Readable.toWeb(this.#req) as unknown as ReadableStream<Uint8Array>;
      init.duplex = "half";
    }
    return (this.#request = new Request(this.url, init));
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#real().body;
  }
  get bodyUsed(): boolean {
    return this.#request?.bodyUsed ?? false;
  }
  get signal(): AbortSignal {
    return this.#real().signal;
  }
  get cache(): Request["cache"] {
    return this.#real().cache;
  }
  get credentials(): Request["credentials"] {
    return this.#real().credentials;
  }
  get destination(): Request["destination"] {
    return this.#real().destination;
  }
  get integrity(): string {
    return this.#real().integrity;
  }
  get keepalive(): boolean {
    return this.#real().keepalive;
  }
  get mode(): Request["mode"] {
    return this.#real().mode;
  }
  get redirect(): Request["redirect"] {
    return this.#real().redirect;
  }
  get referrer(): string {
    return this.#real().referrer;
  }
  get referrerPolicy(): Request["referrerPolicy"] {
    return this.#real().referrerPolicy;
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#real().arrayBuffer();
  }
  blob(): Promise<Blob> {
    return this.#real().blob();
  }
  bytes(): Promise<Uint8Array> {
    const real = this.#real() as Request & { bytes?: () => Promise<Uint8Array> };
    return real.bytes ? real.bytes() : real.arrayBuffer().then((b) => new Uint8Array(b));
  }
  formData(): ReturnType<Request["formData"]> {
    return this.#real().formData();
  }
  json(): Promise<unknown> {
    return this.#real().json();
  }
  text(): Promise<string> {
    return this.#real().text();
  }
  clone(): ReturnType<Request["clone"]> {
    return this.#real().clone();
  }
}
Object.setPrototypeOf(NodeRequest.prototype, Request.prototype);

/** `req` as a Request (a NodeRequest: see above). */
export function toRequest(req: IncomingMessage): Request {
  return new NodeRequest(req) as unknown as Request;
}
