/**
 * steward/worker's node:http adapter (src/worker-lib/node-http.ts, node-request.ts,
 * fast-response.ts) on a real node:http server on 127.0.0.1:0 in this process: what the
 * handler sees of a request (lazy NodeRequest) and what reaches the wire for a FastResponse
 * (written directly) and a standard Response (streamed): status, headers, bodies, HEAD.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { FastResponse, fastParts, nativeResponse } from "../../src/worker-lib/fast-response.ts";
import { nodeHandler, trackConnections } from "../../src/worker-lib/node-http.ts";

interface Wire {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let port = 0;
let seen: { request: Request; body?: string; isRequest: boolean } | undefined;

/** A raw node:http client request, so what the server wrote is seen as written. */
function send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers: { ...headers, connection: "close" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, statusText: res.statusMessage!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const routes: Record<string, (request: Request) => Response | Promise<Response>> = {
  "/fast": () => new FastResponse("héllo\n", { status: 201, statusText: "Made", headers: { "x-one": "1", "set-cookie": "a=1" } }) as unknown as Response,
  "/fast-json": () => FastResponse.json({ ok: true }, { headers: [["x-two", "2"]] }) as unknown as Response,
  "/fast-bytes": () => new FastResponse(new Uint8Array([104, 105])) as unknown as Response,
  "/fast-empty": () => new FastResponse(null, { status: 204 }) as unknown as Response,
  "/fast-touched": async () => {
    const r = new FastResponse("touched", { headers: { "x-three": "3" } });
    r.headers.set("x-four", "4");
    return r as unknown as Response;
  },
  "/standard": () => {
    const headers = new Headers({ "x-std": "s" });
    headers.append("set-cookie", "b=2");
    headers.append("set-cookie", "c=3");
    return new Response("standard body", { status: 202, statusText: "Taken", headers });
  },
  "/stream": () => {
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (n === 3) controller.close();
        else controller.enqueue(new TextEncoder().encode(`chunk${n++};`));
      },
    });
    return new Response(body, { headers: { "content-type": "text/x-chunks" } });
  },
  "/echo": async (request) => {
    const body = await request.text();
    seen = { request, body, isRequest: request instanceof Request };
    return new FastResponse(`${request.method} ${body.length} ${request.headers.get("x-in")}`) as unknown as Response;
  },
  "/look": (request) => {
    seen = { request, isRequest: request instanceof Request };
    return new FastResponse(`${request.method} ${request.url} ${request.headers.get("x-in")}`) as unknown as Response;
  },
};

before(async () => {
  const { state, listener } = nodeHandler((request) => routes[new URL(request.url).pathname]!(request));
  server = http.createServer(listener);
  trackConnections(server, state);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("FastResponse, written directly", () => {
  test("status, status text, headers, set-cookie, a string body with its byte length and default type", async () => {
    const w = await send("GET", "/fast");
    assert.equal(w.status, 201);
    assert.equal(w.statusText, "Made");
    assert.equal(w.headers["x-one"], "1");
    assert.deepEqual(w.headers["set-cookie"], ["a=1"]);
    assert.equal(w.headers["content-type"], "text/plain;charset=UTF-8");
    assert.equal(w.headers["content-length"], String(Buffer.byteLength("héllo\n")));
    assert.equal(w.headers["transfer-encoding"], undefined);
    assert.equal(w.body, "héllo\n");
  });
  test("FastResponse.json, headers given as pairs", async () => {
    const w = await send("GET", "/fast-json");
    assert.equal(w.headers["content-type"], "application/json");
    assert.equal(w.headers["x-two"], "2");
    assert.deepEqual(JSON.parse(w.body), { ok: true });
  });
  test("bytes and no body", async () => {
    assert.equal((await send("GET", "/fast-bytes")).body, "hi");
    const empty = await send("GET", "/fast-empty");
    assert.equal(empty.status, 204);
    assert.equal(empty.body, "");
  });
  test("headers changed through .headers after construction reach the wire (the real Response is used)", async () => {
    const w = await send("GET", "/fast-touched");
    assert.equal(w.headers["x-three"], "3");
    assert.equal(w.headers["x-four"], "4");
    assert.equal(w.body, "touched");
  });
  test("HEAD: the length of the body, no body", async () => {
    const w = await send("HEAD", "/fast");
    assert.equal(w.status, 201);
    assert.equal(w.headers["content-length"], String(Buffer.byteLength("héllo\n")));
    assert.equal(w.body, "");
  });
  test("taken directly only while nothing built its real Response, and only for string, bytes or no body", () => {
    assert.deepEqual(fastParts(new FastResponse("x", { status: 404, headers: { "X-A": "a" } }) as unknown as Response), {
      status: 404,
      statusText: undefined,
      headers: { "x-a": "a", "content-type": "text/plain;charset=UTF-8" },
      body: "x",
    });
    const touched = new FastResponse("x");
    void touched.headers;
    assert.equal(fastParts(touched as unknown as Response), undefined);
    assert.equal(fastParts(new FastResponse(new ReadableStream()) as unknown as Response), undefined);
    assert.equal(fastParts(new Response("x")), undefined);
  });
  test("the runtime's own Response for Bun.serve and Deno.serve", async () => {
    const fast = new FastResponse("native", { status: 203, headers: { "x-n": "n" } });
    const native = nativeResponse(fast as unknown as Response);
    assert.notEqual(native as unknown, fast);
    assert.equal(Object.getPrototypeOf(native), Response.prototype);
    assert.equal(native.status, 203);
    assert.equal(native.headers.get("x-n"), "n");
    assert.equal(await native.text(), "native");
    const plain = new Response("p");
    assert.equal(nativeResponse(plain), plain);
  });
  test("a Response to the handler's code", () => {
    const r = new FastResponse("x", { status: 404 });
    assert.ok((r as unknown) instanceof Response);
    assert.equal(r.status, 404);
    assert.equal(r.ok, false);
  });
});

describe("standard Response", () => {
  test("status, headers, both set-cookies, body", async () => {
    const w = await send("GET", "/standard");
    assert.equal(w.status, 202);
    assert.equal(w.statusText, "Taken");
    assert.equal(w.headers["x-std"], "s");
    assert.deepEqual(w.headers["set-cookie"], ["b=2", "c=3"]);
    assert.equal(w.body, "standard body");
  });
  test("a streamed body arrives whole, chunked", async () => {
    const w = await send("GET", "/stream");
    assert.equal(w.headers["content-type"], "text/x-chunks");
    assert.equal(w.headers["transfer-encoding"], "chunked");
    assert.equal(w.body, "chunk0;chunk1;chunk2;");
  });
  test("HEAD of a standard Response: no body", async () => {
    const w = await send("HEAD", "/standard");
    assert.equal(w.status, 202);
    assert.equal(w.body, "");
  });
});

describe("the request the handler sees", () => {
  test("method, url, headers without touching the body; instanceof Request", async () => {
    const w = await send("GET", "/look?q=1", undefined, { "x-in": "given" });
    assert.equal(w.body, `GET http://127.0.0.1:${port}/look?q=1 given`);
    assert.ok(seen!.isRequest);
  });
  test("a POST body read with text(), then bodyUsed", async () => {
    const payload = "p".repeat(100_000);
    const w = await send("POST", "/echo", payload, { "x-in": "posted" });
    assert.equal(w.body, `POST ${payload.length} posted`);
    assert.equal(seen!.body, payload);
    assert.equal(seen!.request.bodyUsed, true);
  });
});
