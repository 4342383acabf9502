/**
 * `FastResponse`: a `Response` that keeps what it was built from (a string, bytes or no body;
 * status; headers) so that serve() on node:http writes it in one `writeHead` + `end`,
 * without the runtime's Response, Headers and body stream. Touching anything else (`body`,
 * `text()`, `clone()`, ...) builds the real Response once and defers to it, so it is a
 * Response to the handler's own code (`instanceof Response` holds). srvx exports the same
 * (h3js/srvx `FastResponse`); @hono/node-server installs one as the global Response. Other
 * bodies (streams, Blob, FormData, ...) take the real Response's path.
 */
type HeadersInit = ConstructorParameters<typeof Headers>[0];
type BodyInit = ConstructorParameters<typeof Response>[0];
type Init = ResponseInit & { headers?: HeadersInit };

/** What serve() writes directly: status, headers as node:http takes them, body. */
export interface FastParts {
  status: number;
  statusText: string | undefined;
  headers: Record<string, string | string[]>;
  body: string | Uint8Array | null;
}

const parts = new WeakMap<object, () => FastParts | undefined>();
let real: (r: FastResponse) => Response;

export class FastResponse {
  readonly #body: unknown;
  readonly #init: Init | undefined;
  #response: Response | undefined;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    this.#body = body ?? null;
    this.#init = init as Init | undefined;
    parts.set(this, () => (this.#response ? undefined : direct(this.#body, this.#init)));
  }

  static json(data: unknown, init?: ResponseInit): FastResponse {
    const headers = new Headers(init?.headers as HeadersInit | undefined);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new FastResponse(JSON.stringify(data), { ...init, headers });
  }
  static error(): Response {
    return Response.error();
  }
  static redirect(url: string | URL, status?: number): Response {
    return Response.redirect(String(url), status);
  }

  #real(): Response {
    return (this.#response ??= new Response(this.#body as BodyInit | null, this.#init));
  }
  static {
    real = (r) => r.#real();
  }
  get status(): number {
    return this.#response?.status ?? this.#init?.status ?? 200;
  }
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  get statusText(): string {
    return this.#real().statusText;
  }
  get headers(): Headers {
    return this.#real().headers;
  }
  get body(): ReadableStream<Uint8Array> | null {
    return this.#real().body;
  }
  get bodyUsed(): boolean {
    return this.#response?.bodyUsed ?? false;
  }
  get redirected(): boolean {
    return this.#real().redirected;
  }
  get type(): Response["type"] {
    return this.#real().type;
  }
  get url(): string {
    return this.#real().url;
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#real().arrayBuffer();
  }
  blob(): Promise<Blob> {
    return this.#real().blob();
  }
  bytes(): Promise<Uint8Array> {
    const real = this.#real() as Response & { bytes?: () => Promise<Uint8Array> };
    return real.bytes ? real.bytes() : real.arrayBuffer().then((b) => new Uint8Array(b));
  }
  formData(): ReturnType<Response["formData"]> {
    return this.#real().formData();
  }
  json(): Promise<unknown> {
    return this.#real().json();
  }
  text(): Promise<string> {
    return this.#real().text();
  }
  clone(): ReturnType<Response["clone"]> {
    return this.#real().clone();
  }
}
Object.setPrototypeOf(FastResponse.prototype, Response.prototype);
Object.setPrototypeOf(FastResponse, Response);

/** Headers as node:http's writeHead takes them (set-cookie kept apart, the rest combined). */
function headerRecord(init: HeadersInit | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (init === undefined) return out;
  const add = (key: string, value: string) => {
    const k = key.toLowerCase();
    const had = out[k];
    if (had === undefined) out[k] = value;
    else if (k === "set-cookie") out[k] = Array.isArray(had) ? [...had, value] : [had, value];
    else out[k] = `${had}, ${value}`;
  };
  if (init instanceof Headers) {
    init.forEach((value, key) => add(key, value));
    const cookies = init.getSetCookie();
    if (cookies.length) out["set-cookie"] = cookies;
  } else if (Array.isArray(init)) for (const [k, v] of init as [string, string][]) add(k, v);
  else for (const [k, v] of Object.entries(init as Record<string, string>)) add(k, v);
  return out;
}

function direct(body: unknown, init: Init | undefined): FastParts | undefined {
  let value: string | Uint8Array | null;
  if (body === null || typeof body === "string" || body instanceof Uint8Array) value = body;
  else if (body instanceof ArrayBuffer) value = new Uint8Array(body);
  else return undefined;
  const headers = headerRecord(init?.headers);
  // as the fetch standard's Response constructor does for a string body
  if (typeof value === "string" && headers["content-type"] === undefined) headers["content-type"] = "text/plain;charset=UTF-8";
  return { status: init?.status ?? 200, statusText: init?.statusText, headers, body: value };
}

/** What to write for `response` directly, or undefined when it must go through its real Response. */
export function fastParts(response: Response): FastParts | undefined {
  return parts.get(response)?.();
}

/**
 * `response` as the runtime's own Response: Bun.serve and Deno.serve take only those (a
 * FastResponse has Response's prototype, not its internal slots).
 */
export function nativeResponse(response: Response): Response {
  return parts.has(response) ? real(response as unknown as FastResponse) : response;
}
