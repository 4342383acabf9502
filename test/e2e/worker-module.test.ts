/**
 * steward/worker (dist/worker.mjs) inside real workers under Node, Deno and Bun
 * (test/fixtures/fetch-worker.mjs): serve({ fetch }) answers on the inherited listener,
 * ready() reaches the master (Bun, Deno through FFI; Node through systemd-notify), and on
 * the stop signal the worker drains: the
 * request in flight completes, the next request on a kept-alive connection is answered
 * with `Connection: close`, and the worker exits 0. Build first (`npm run build`).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { connectOptions, e2e, expectReloaded, FIXTURES, MODES, NODE, request, ROOT, toml } from "./_harness.ts";

const WORKER = join(FIXTURES, "fetch-worker.mjs");
const RUNTIMES: Record<string, string[]> = {
  node: [NODE],
  deno: [join(ROOT, "node_modules", ".bin", "deno"), "run", "-A"],
  bun: [join(ROOT, "node_modules", ".bin", "bun")],
};

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 connection kept alive across requests (responses framed by Content-Length). */
class KeptAlive {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  closed = false;
  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on("error", () => {});
  }

  static open(url: string): Promise<KeptAlive> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(connectOptions(url), () => resolve(new KeptAlive(socket)));
      socket.once("error", reject);
    });
  }

  async get(path: string, timeoutMs = 10_000): Promise<Answer> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: e2e\r\n\r\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = this.buffer.subarray(0, end).toString();
        const [statusLine, ...lines] = head.split("\r\n");
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(":");
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers["content-length"] ?? -1);
        if (length >= 0 && this.buffer.length >= end + 4 + length) {
          const body = this.buffer.subarray(end + 4, end + 4 + length).toString();
          this.buffer = this.buffer.subarray(end + 4 + length);
          return { status: Number(statusLine!.split(" ")[1]), headers, body };
        }
      }
      if (this.closed) throw new Error(`connection closed before a whole answer to ${path}`);
      if (Date.now() > deadline) throw new Error(`no answer to ${path} within ${timeoutMs}ms`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(this.closed, "the server closed the kept-alive connection");
  }

  destroy(): void {
    this.socket.destroy();
  }
}

for (const mode of MODES) {
  describe(`steward/worker serve [${mode}]`, () => {
    // each runtime on an inherited descriptor, and Deno on a reuse-port address (its own
    // accept loop, src/worker-lib/deno-serve.ts)
    const cases = [
      ...Object.entries(RUNTIMES).map(([runtime, command]) => ({ runtime, command, share: "inherit" })),
      { runtime: "deno", command: [...RUNTIMES.deno!, "--unstable-net"], share: "reuseport" },
    ];
    for (const { runtime, command, share } of cases) {
      test(`${runtime}${share === "inherit" ? "" : ` (share = "${share}")`}: serve({ fetch }) answers, and drains on the stop signal`, e2e(mode, async (bed) => {
        assert.ok(existsSync(join(ROOT, "dist", "worker.mjs")), "dist/worker.mjs: run `npm run build` first");
        // ready(): through FFI under Bun and Deno, through systemd-notify under Node
        const steward = bed.startWith(toml({
          global: { workers: 1, "ready-timeout": "20s", ready: "notify" },
          listen: [{ name: "http", bind: "tcp://127.0.0.1:0", ...(share === "inherit" ? {} : { share }) }],
          worker: { command: [...command, WORKER], env: { NOTIFY: "1" } },
        }));
        const http = await steward.listener("http");
        await steward.ready();
        const [worker] = await steward.waitForWorkers(1);
        const first = JSON.parse((await request(http.url)).body) as { pid: number; runtime: string; engine: string };
        assert.equal(first.pid, worker!.pid);
        assert.match(first.runtime, new RegExp(`^${runtime} `));
        assert.match(first.engine, share === "inherit" ? / on fd 3$/ : /\(reusePort\)$/);
        const fast = await request(http.url, "/?fast=1");
        assert.equal(fast.status, 200);
        assert.match(fast.headers, /^x-fast: 1$/im);
        assert.match(fast.headers, /^content-type: application\/json$/im);
        assert.match(fast.headers, new RegExp(`^content-length: ${Buffer.byteLength(fast.body)}$`, "im"));
        assert.equal((JSON.parse(fast.body) as { fast: boolean; pid: number }).pid, worker!.pid);

        const kept = await KeptAlive.open(http.url);
        const before = await kept.get("/");
        assert.equal(before.status, 200);
        assert.notEqual(before.headers.connection, "close", "kept alive before the stop signal");
        assert.equal((JSON.parse(before.body) as { pid: number }).pid, worker!.pid);
        const heldConnection = await KeptAlive.open(http.url);
        const held = heldConnection.get("/?hold=300", 20_000);
        await steward.waitForLine(new RegExp(`fetch-worker ${worker!.pid} holding a request`));

        await expectReloaded(steward);
        await steward.waitForLine(new RegExp(`fetch-worker ${worker!.pid} draining`));
        // the next request on the kept-alive connection: answered by the draining worker, then closed
        const after = await kept.get("/");
        assert.equal(after.status, 200);
        assert.equal((JSON.parse(after.body) as { pid: number }).pid, worker!.pid, "answered by the draining worker");
        assert.equal(after.headers.connection, "close", `the draining worker closes the connection${steward.log()}`);
        // closed after that answer, not later by an idle timeout (5 s under Deno reuse-port)
        await kept.waitClosed(4_000);
        const heldAnswer = await held;
        assert.equal(heldAnswer.status, 200, "the request in flight completed");
        assert.equal(heldAnswer.headers.connection, "close");
        heldConnection.destroy();
        await steward.waitForLine(new RegExp(`Old worker 1 \\(${worker!.pid}\\) exited with code 0`), 15_000);
        assert.equal(steward.matching(/fetch-worker \d+ exiting 1/).length, 0);
      }));
    }
    for (const runtime of ["bun", "deno"]) {
      test(`${runtime}: share = "reuseport": serve() on the runtime's own server answers a Response and a FastResponse`, e2e(mode, async (bed) => {
        const command = runtime === "deno" ? [...RUNTIMES.deno!, "--unstable-net"] : RUNTIMES.bun!;
        const steward = bed.startWith(toml({
          global: { workers: 1, "ready-timeout": "20s" },
          listen: [{ name: "http", bind: "tcp://127.0.0.1:0", share: "reuseport" }],
          worker: { command: [...command, WORKER] },
        }));
        const http = await steward.listener("http");
        await steward.ready();
        const plain = JSON.parse((await request(http.url)).body) as { engine: string };
        assert.match(plain.engine, /\(reusePort\)$/);
        const fast = await request(http.url, "/?fast=1");
        assert.equal(fast.status, 200, `a FastResponse reaches ${plain.engine}${steward.log()}`);
        assert.match(fast.headers, /^x-fast: 1$/im);
        assert.equal((JSON.parse(fast.body) as { fast: boolean }).fast, true);
      }));
    }
  });
}
