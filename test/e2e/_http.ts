/** HTTP/1.0 over steward's listeners (tcp, IPv6, unix), one fresh connection per request. */
import { Buffer } from "node:buffer";
import net from "node:net";

export interface Reply {
  status: number;
  headers: string;
  body: string;
}

/** What http-worker.cjs (and notify-ready.py) answer. */
export interface WorkerReport {
  pid: number;
  listener?: string;
  /** the worker's arguments (http-worker.cjs) */
  argv?: string[];
  env: Record<string, string>;
}

/**
 * Connect options for a listener URL as steward prints it (tcp://H:P, tcp://[V6]:P,
 * unix:///path), or a port number on 127.0.0.1.
 */
export function connectOptions(url: string | number): net.NetConnectOpts {
  if (typeof url === "number") return { host: "127.0.0.1", port: url };
  if (url.startsWith("unix://")) return { path: url.slice("unix://".length) };
  const m = /^tcp:\/\/(?:\[([^\]]+)\]|([^:/]+)):(\d+)$/.exec(url);
  if (!m) throw new Error(`e2e: can't connect to listener URL '${url}'`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** One HTTP/1.0 GET on a fresh connection (so every request may reach another worker). */
export function request(url: string | number, path = "/", timeoutMs = 5_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(connectOptions(url));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`GET ${url}${path}: no complete answer within ${timeoutMs}ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.0\r\nHost: steward-e2e\r\nConnection: close\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`GET ${url}${path}: ${error.message}`));
    });
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (split < 0 || !status) {
        reject(new Error(`GET ${url}${path}: not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      resolve({ status: Number(status[1]), headers: text.slice(0, split), body: text.slice(split + 4) });
    });
  });
}

/** GET and parse a worker's JSON report; any other answer fails. */
export async function ask(url: string | number, path = "/"): Promise<WorkerReport> {
  const reply = await request(url, path);
  if (reply.status !== 200) throw new Error(`GET ${url}${path}: status ${reply.status}: ${reply.body}`);
  return JSON.parse(reply.body) as WorkerReport;
}

/**
 * Sends rounds of concurrent requests (each worker spins `busyMs` per request, so a busy
 * worker leaves the next connections to the others) until `want(reports)` holds; returns
 * the last report of each PID. Fails after `timeoutMs` with the PIDs it did see.
 */
export async function collectWorkers(
  url: string,
  want: (byPid: Map<number, WorkerReport>) => boolean,
  timeoutMs = 10_000,
  busyMs = 15,
): Promise<Map<number, WorkerReport>> {
  const byPid = new Map<number, WorkerReport>();
  const deadline = Date.now() + timeoutMs;
  while (!want(byPid)) {
    if (Date.now() > deadline) {
      throw new Error(`after ${timeoutMs}ms of requests to ${url}, answers came only from PIDs ${[...byPid.keys()].join(", ")}`);
    }
    const round = await Promise.all(Array.from({ length: 12 }, () => ask(url, `/?busy=${busyMs}`)));
    for (const report of round) byPid.set(report.pid, report);
  }
  return byPid;
}

/** Until `count` distinct PIDs have answered. */
export function collectPids(url: string, count: number, timeoutMs = 10_000): Promise<Map<number, WorkerReport>> {
  return collectWorkers(url, (byPid) => byPid.size >= count, timeoutMs);
}

/** Until `pid` has answered; returns its report. */
export async function reachPid(url: string, pid: number, timeoutMs = 10_000): Promise<WorkerReport> {
  return (await collectWorkers(url, (byPid) => byPid.has(pid), timeoutMs)).get(pid)!;
}
