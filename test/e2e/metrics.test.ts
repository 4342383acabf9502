/**
 * Metrics (issue 12): `show metrics` on the master CLI and GET /metrics on the
 * `[metrics]` listener, read by parse-prometheus-text-format as a scraper would. They
 * move (reloads, a killed worker, generations), their counters survive the re-exec, and
 * the listener keeps its socket and connections across reloads.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import process from "node:process";
import { describe, test } from "node:test";
import {
  connectError, e2e, expectReloaded, expectReloadFailed, fixture, MODES, request, type Steward, type TestBed, toml, waitUntil,
} from "./_harness.ts";
import { replies, socat } from "./_mcli.ts";
import { type Families, parseMetrics, total, value } from "./_prometheus.ts";

const HTTP_WORKER = fixture("http-worker.cjs");

function config(metricsBind: string | undefined, global: Record<string, string | number> = {}): string {
  const text = toml({
    global: { workers: 2, "ready-timeout": "15s", "on-failure": "restart", ...global },
    listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
    worker: { command: HTTP_WORKER },
  });
  return metricsBind === undefined ? text : `${text}\n[metrics]\nbind = "${metricsBind}"\n`;
}

interface MetricsMaster {
  steward: Steward;
  /** `127.0.0.1:PORT` of the metrics listener */
  address: string;
  /** operator-level master CLI socket */
  cli: string;
  file: string;
}

async function startMetricsMaster(bed: TestBed, global: Record<string, string | number> = {}): Promise<MetricsMaster> {
  const cli = bed.path("oper.sock");
  const file = bed.write("steward.toml", config("127.0.0.1:0", global));
  const steward = bed.start(["-f", file, "-S", `${cli},level,operator`]);
  const { match } = await steward.waitForLine(/Metrics listening on http:\/\/(127\.0\.0\.1:\d+)\/metrics/, 20_000);
  await steward.ready(20_000);
  return { steward, address: match[1]!, cli, file };
}

async function scrape(m: MetricsMaster): Promise<Families> {
  const reply = await request(`tcp://${m.address}`, "/metrics");
  assert.equal(reply.status, 200, reply.body);
  assert.match(reply.headers, /^Content-Type: text\/plain; version=0\.0\.4; charset=utf-8$/im);
  return parseMetrics(reply.body);
}

async function showMetrics(m: MetricsMaster): Promise<Families> {
  const r = replies((await socat(m.cli, "show metrics\n")).stdout);
  assert.equal(r.length, 1, JSON.stringify(r));
  return parseMetrics(`${r[0]}\n`);
}

/** Scrapes until `ok` holds of the result (the state a log line announced may take a moment: old workers exit). */
async function scrapeUntil(m: MetricsMaster, ok: (f: Families) => boolean, what: string): Promise<Families> {
  let last: Families | undefined;
  await waitUntil(async () => ok((last = await scrape(m))), 15_000, () => `${what}; last scrape: ${JSON.stringify([...(last?.values() ?? [])].filter((f) => /workers|exits|reloads|starts|restarts/.test(f.name)))}${m.steward.log()}`);
  return last!;
}

function workersOfGeneration(f: Families, generation: number): number {
  return total(f, "steward_workers", { generation: String(generation) });
}

/** One HTTP/1.1 connection kept open: requests on it one after the other. */
class KeepAlive {
  private readonly socket: net.Socket;
  private buffered = Buffer.alloc(0);
  private wake?: () => void;
  closed = false;

  constructor(address: string) {
    const [host, port] = address.split(":");
    this.socket = net.connect({ host: host!, port: Number(port) });
    this.socket.on("data", (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.wake?.();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    this.socket.on("error", () => {});
  }

  async get(path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: e2e\r\n\r\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.buffered.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const length = /Content-Length: (\d+)/i.exec(text.slice(0, end));
      if (end >= 0 && length && this.buffered.length >= end + 4 + Number(length[1])) {
        const body = this.buffered.subarray(end + 4, end + 4 + Number(length[1])).toString("utf8");
        this.buffered = this.buffered.subarray(end + 4 + Number(length[1]));
        return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body };
      }
      if (this.closed) throw new Error(`keep-alive connection closed; got ${JSON.stringify(text.slice(0, 200))}`);
      if (Date.now() > deadline) throw new Error(`no answer on the keep-alive connection within ${timeoutMs}ms`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sends `input` on a fresh connection and reads until the master closes it (or `timeoutMs`). */
function exchangeRaw(address: string, input: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const [host, port] = address.split(":");
    const s = net.connect({ host: host!, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs}ms; got ${JSON.stringify(Buffer.concat(chunks).toString().slice(0, 300))}`));
    }, timeoutMs);
    s.on("connect", () => s.write(input));
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

for (const mode of MODES) {
  describe(`metrics [${mode}]`, () => {
    test("show metrics and GET /metrics parse and move: a killed worker, reloads good and bad, generations; counters survive the re-exec", e2e(mode, async (bed) => {
      const m = await startMetricsMaster(bed);
      const first = m.steward.started();
      let f = await scrape(m);
      const viaCli = await showMetrics(m);
      assert.deepEqual([...viaCli.keys()], [...f.keys()], "the CLI and HTTP show the same families");
      assert.equal(value(viaCli, "steward_worker_starts_total"), 2);
      assert.equal(value(f, "steward_reloads_total"), 0);
      assert.equal(value(f, "steward_generation"), 0);
      assert.equal(value(f, "steward_worker_starts_total"), 2);
      assert.equal(value(f, "steward_workers", { state: "ready", generation: "0" }), 2);
      for (const w of first) {
        assert.ok(value(f, "steward_worker_resident_memory_bytes", { pid: String(w.pid), id: String(w.id), generation: "0" })! > 1_000_000);
        assert.ok(value(f, "steward_worker_cpu_seconds_total", { pid: String(w.pid) })! >= 0);
      }
      assert.ok(value(f, "steward_master_resident_memory_bytes")! > 1_000_000);
      assert.ok(value(f, "steward_master_open_fds")! >= 5);
      assert.equal(f.get("steward_build_info")?.metrics.length, 1);

      // a killed worker: an exit with its reason, then a restart
      process.kill(first[0]!.pid, "SIGKILL");
      f = await scrapeUntil(m, (x) => value(x, "steward_restarts_total", { kind: "worker" }) === 1 && value(x, "steward_workers", { state: "ready", generation: "0" }) === 2, "the killed worker restarted and ready");
      assert.equal(value(f, "steward_worker_exits_total", { role: "current", reason: "killed", signal: "SIGKILL" }), 1);
      assert.equal(value(f, "steward_worker_starts_total"), 3);

      // a reload: the master re-executes, the counters go on from where they were
      const reloaded = await expectReloaded(m.steward);
      assert.equal(reloaded.reload, 1, `the master re-executed${m.steward.log()}`);
      f = await scrapeUntil(m, (x) => workersOfGeneration(x, 0) === 0, "no worker of generation 0 left");
      assert.equal(value(f, "steward_reloads_total"), 1);
      assert.equal(value(f, "steward_generation"), 1);
      assert.equal(value(f, "steward_workers", { state: "ready", generation: "1" }), 2);
      assert.equal(value(f, "steward_worker_exits_total", { role: "current", reason: "killed", signal: "SIGKILL" }), 1, "kept across the re-exec");
      assert.equal(value(f, "steward_restarts_total", { kind: "worker" }), 1, "kept across the re-exec");
      assert.equal(value(f, "steward_worker_starts_total"), 5);
      assert.equal(value(f, "steward_worker_exits_total", { role: "old", reason: "exited" }), 2);
      assert.equal(f.get("steward_reload_duration_seconds")?.metrics[0]?.count, "1");
      assert.ok(Number(f.get("steward_reload_duration_seconds")?.metrics[0]?.sum) > 0);
      assert.equal(value(await showMetrics(m), "steward_reloads_total"), 1, "the CLI agrees");

      // a failed reload: counted; the serving generation and its counters stay
      bed.write("steward.toml", "[global\n");
      await expectReloadFailed(m.steward, /steward\.toml/);
      f = await scrape(m);
      assert.equal(value(f, "steward_reload_failures_total"), 1);
      assert.equal(value(f, "steward_reload_consecutive_failures"), 1);
      assert.equal(value(f, "steward_reloads_total"), 1);
      assert.equal(value(f, "steward_workers", { state: "ready", generation: "1" }), 2);
      assert.equal(f.get("steward_reload_duration_seconds")?.metrics[0]?.count, "2");
    }));

    test("the listener answers across reloads: same port, no refused connection, a keep-alive connection carried over; 404 and 405", e2e(mode, async (bed) => {
      const m = await startMetricsMaster(bed);
      const kept = new KeepAlive(m.address);
      bed.onCleanup(() => kept.close());
      const before = await kept.get("/metrics");
      assert.equal(before.status, 200);
      assert.equal(value(parseMetrics(before.body), "steward_reloads_total"), 0);

      // scrape without pause on fresh connections while the master reloads three times
      let stop = false;
      const seen: number[] = [];
      const errors: string[] = [];
      const scraper = (async () => {
        while (!stop) {
          try {
            const r = await request(`tcp://${m.address}`, "/metrics");
            if (r.status !== 200) errors.push(`status ${r.status}`);
            else seen.push(value(parseMetrics(r.body), "steward_reloads_total")!);
          } catch (e) {
            errors.push((e as Error).message);
          }
        }
      })();
      for (let i = 1; i <= 3; i++) {
        const outcome = await expectReloaded(m.steward);
        assert.equal(outcome.reload, i);
        const n = seen.length;
        await waitUntil(() => seen.length > n + 2, 10_000, () => `scrapes after reload ${i}`);
      }
      stop = true;
      await scraper;
      assert.deepEqual(errors, [], `every scrape answered during the reloads${m.steward.log()}`);
      assert.ok(seen.length > 10, `scrapes: ${seen.length}`);
      assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]!), `the reload counter never goes back: ${seen.join(",")}`);
      assert.deepEqual([...new Set(seen)], [0, 1, 2, 3].filter((v) => seen.includes(v)));
      assert.equal(seen[seen.length - 1], 3);
      assert.equal(m.steward.matching(/Metrics listening on/).length, 1, "bound once, never again");

      // the connection opened before the first reload was handed to each new image
      const after = await kept.get("/metrics");
      assert.equal(after.status, 200);
      assert.equal(value(parseMetrics(after.body), "steward_reloads_total"), 3);
      assert.equal((await kept.get("/nope")).status, 404);

      const notFound = await request(`tcp://${m.address}`, "/");
      assert.equal(notFound.status, 404);
      assert.match(notFound.body, /metrics are at \/metrics/);
      const post = await new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: "127.0.0.1", port: Number(m.address.split(":")[1]) });
        const chunks: Buffer[] = [];
        s.on("connect", () => s.end("POST /metrics HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n"));
        s.on("data", (d: Buffer) => chunks.push(d));
        s.on("end", () => resolve(Buffer.concat(chunks).toString()));
        s.on("error", reject);
      });
      assert.match(post, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
      assert.match(post, /\r\nAllow: GET, HEAD\r\n/);
    }));

    test("a reload adds, keeps or removes the listener; a bad [metrics] bind fails the reload and changes nothing", e2e(mode, async (bed) => {
      const file = bed.write("steward.toml", config(undefined));
      const steward = bed.start(["-f", file]);
      await steward.ready(20_000);
      assert.equal(steward.matching(/Metrics listening/).length, 0, "no [metrics], no listener");

      bed.write("steward.toml", config("127.0.0.1:0"));
      await expectReloaded(steward);
      const { match } = await steward.waitForLine(/Metrics listening on http:\/\/(127\.0\.0\.1:\d+)\/metrics/);
      const m: MetricsMaster = { steward, address: match[1]!, cli: "", file };
      assert.equal(value(await scrape(m), "steward_reloads_total"), 1);

      bed.write("steward.toml", config("localhost"));
      await expectReloadFailed(steward, /metrics\.bind: missing port/);
      const f = await scrape(m);
      assert.equal(value(f, "steward_reload_failures_total"), 1, "the listener still answers, with the failure counted");
      assert.equal(value(f, "steward_workers", { state: "ready", generation: "1" }), 2);

      bed.write("steward.toml", config(undefined));
      await expectReloaded(steward);
      await steward.waitForLine(/Metrics listener tcp:\/\/127\.0\.0\.1:\d+ closed: no longer configured/);
      assert.equal(await connectError(`tcp://${m.address}`), "ECONNREFUSED");
    }));

    test("bad clients: pipelined requests, an oversized head, garbage, too many connections; the master keeps serving", e2e(mode, async (bed) => {
      const m = await startMetricsMaster(bed);
      const pipelined = await exchangeRaw(m.address, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      assert.deepEqual([...pipelined.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((x) => x[1]), ["200", "404"]);
      assert.match(await exchangeRaw(m.address, `GET /metrics HTTP/1.1\r\nX-Big: ${"a".repeat(10_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
      assert.match(await exchangeRaw(m.address, "\x00\x01\x02 hello\r\n\r\n"), /^HTTP\/1\.1 400 /);
      assert.match(await exchangeRaw(m.address, "GET /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"), /^HTTP\/1\.1 400 /);

      // 40 connections held open: those beyond 32 are told 503 and closed; the others stay served
      const [host, port] = m.address.split(":");
      const held = await Promise.all(Array.from({ length: 40 }, () => new Promise<{ socket: net.Socket; text: () => string }>((resolve, reject) => {
        const socket = net.connect({ host: host!, port: Number(port) });
        let text = "";
        socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
        socket.on("error", () => {});
        socket.on("connect", () => resolve({ socket, text: () => text }));
        socket.on("error", reject);
      })));
      bed.onCleanup(() => held.forEach((h) => h.socket.destroy()));
      await waitUntil(() => held.filter((h) => /^HTTP\/1\.1 503 /.test(h.text())).length === 8, 10_000, () => `8 connections told 503: ${held.map((h) => h.text().slice(0, 12)).join("|")}`);
      const served = held.find((h) => h.text() === "")!;
      served.socket.write("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
      await waitUntil(() => /^HTTP\/1\.1 200 [^]*steward_master_open_fds \d+\n$/.test(served.text()), 10_000, "a held connection within the limit is served");
      for (const h of held) h.socket.destroy();
      await waitUntil(async () => (await request(`tcp://${m.address}`, "/metrics")).status === 200, 10_000, "served again once the connections closed");
      assert.equal(value(await scrape(m), "steward_reloads_total"), 0);
      assert.equal(m.steward.exit, undefined, "the master kept running");
    }));

    test("a bad [metrics] bind is a one-line configuration error; a taken port fails the start in one line", e2e(mode, async (bed) => {
      const bad = bed.write("bad.toml", config("localhost"));
      const result = await bed.run(["-f", bad]);
      assert.equal(result.code, 1, result.steward.log());
      const lines = result.steward.lines.filter((l) => l.text.includes("metrics.bind"));
      assert.equal(lines.length, 1, result.steward.log());
      assert.match(lines[0]!.text, /bad\.toml:\d+: metrics\.bind: missing port .*\(got "localhost"\)/);
      assert.equal(result.steward.started().length, 0);

      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
      bed.onCleanup(() => new Promise<void>((resolve) => holder.close(() => resolve())));
      const port = (holder.address() as net.AddressInfo).port;
      const taken = await bed.run(["-f", bed.write("taken.toml", config(`127.0.0.1:${port}`))]);
      assert.equal(taken.code, 1, taken.steward.log());
      const named = taken.steward.lines.filter((l) => l.text.includes(`127.0.0.1:${port}`));
      assert.equal(named.length, 1, taken.steward.log());
      assert.match(named[0]!.text, /metrics.*in use/i);
    }));
  });
}
