/**
 * Master-CLI helpers for the mcli*.test.ts files: a master with admin, operator and user
 * sockets serving test/fixtures/cli-worker.cjs; socat as an independent client; a raw
 * node:net session for byte-level abuse; `steward cli` / `steward reload` runs.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { Buffer } from "node:buffer";
import { fixture, which } from "./_modes.ts";
import type { Steward, TestBed } from "./_steward.ts";
import { toml } from "./_config.ts";

export const SOCAT: string = which("socat");

export interface CliMaster {
  steward: Steward;
  /** socket paths by level */
  admin: string;
  operator: string;
  user: string;
  config: string;
}

export interface CliMasterOptions {
  workers?: number;
  global?: Record<string, string | number>;
  /** environment of the workers (cli-worker.cjs knobs: LINGER_MS, NO_CLI) */
  env?: Record<string, string>;
  command?: string[];
  /** extra steward arguments */
  args?: string[];
  listen?: boolean;
}

/** The configuration text the master of `startCliMaster` loads (for rewriting it before a reload). */
export function cliConfig(options: CliMasterOptions = {}): string {
  const worker: Record<string, string[] | Record<string, string>> = { command: options.command ?? fixture("cli-worker.cjs") };
  if (options.env) worker.env = options.env;
  return toml({
    global: { workers: options.workers ?? 2, "ready-timeout": "15s", ...options.global },
    listen: options.listen === false ? [] : [{ name: "http", bind: "tcp://127.0.0.1:0" }],
    worker,
  });
}

/** A master with three CLI sockets (`-S path`, `-S path,level,operator`, `-S path,level,user`), ready. */
export async function startCliMaster(bed: TestBed, options: CliMasterOptions = {}): Promise<CliMaster> {
  const admin = bed.path("admin.sock");
  const operator = bed.path("oper.sock");
  const user = bed.path("user.sock");
  const config = bed.write("steward.toml", cliConfig(options));
  const steward = bed.start(["-f", config, "-S", admin, "-S", `${operator},level,operator`, "-S", `${user},level,user`, ...(options.args ?? [])]);
  await steward.ready(20_000);
  return { steward, admin, operator, user, config };
}

export interface SocatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** socat's address for a unix path or a `HOST:PORT`. */
export function socatAddress(address: string): string {
  return address.startsWith("/") ? `UNIX-CONNECT:${address}` : `TCP:${address}`;
}

/**
 * Sends `input` through socat and returns what came back once the master closed (socat
 * half-closes after its stdin ends and waits up to `waitSeconds` for the rest).
 */
export function socat(address: string, input: string | Uint8Array, waitSeconds = 60, timeoutMs = 90_000): Promise<SocatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(SOCAT, ["-t", String(waitSeconds), "-", socatAddress(address)], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`socat ${address}: no end within ${timeoutMs}ms; got ${JSON.stringify(Buffer.concat(out).toString().slice(0, 500))}`));
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.stdin.on("error", () => {});
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.end(input);
  });
}

/**
 * The replies of a session: each ends with an empty line, so an empty reply (`user`,
 * `prompt`) is an empty line alone. Replies here never hold an empty line themselves.
 */
export function replies(text: string): string[] {
  if (text === "") return [];
  assert.ok(text.endsWith("\n\n"), `a reply ends with an empty line: ${JSON.stringify(text.slice(-200))}`);
  const found: string[] = [];
  let current: string[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    if (line !== "") {
      current.push(line);
      continue;
    }
    found.push(current.join("\n"));
    current = [];
  }
  return found;
}

/**
 * A raw client session: write when you like, read what arrived, see how it ended.
 * For abuse (bytes, long lines, half-open sessions) and timing (concurrent reloads).
 */
export class RawSession {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  error: string | undefined;
  ended = false;
  closed = false;
  readonly connected: Promise<void>;
  private readonly waiters = new Set<() => void>();

  constructor(address: string) {
    const [, host, port] = /^(.*):(\d+)$/.exec(address) ?? [];
    this.socket = address.startsWith("/") ? net.connect({ path: address }) : net.connect({ host: host!, port: Number(port) });
    this.connected = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.on("data", (d: Buffer) => {
      this.chunks.push(d);
      this.wake();
    });
    this.socket.on("error", (e: NodeJS.ErrnoException) => {
      this.error ??= e.code ?? e.message;
      this.wake();
    });
    this.socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Waits until `condition(text)` holds, the session closes, or the deadline passes (then throws). */
  async until(condition: (text: string) => boolean, timeoutMs = 10_000, what = "a reply"): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.text)) {
      if (this.closed) throw new Error(`session closed (${this.error ?? "EOF"}) before ${what}; got ${JSON.stringify(this.text.slice(-300))}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; got ${JSON.stringify(this.text.slice(-300))}`);
      await new Promise<void>((resolve) => {
        const w = () => {
          clearTimeout(t);
          this.waiters.delete(w);
          resolve();
        };
        const t = setTimeout(w, 50);
        this.waiters.add(w);
      });
    }
    return this.text;
  }

  /** Waits for the master to close the session. */
  async untilClosed(timeoutMs = 10_000): Promise<string> {
    await this.until(() => this.closed, timeoutMs, "the end of the session").catch((e) => {
      if (!this.closed) throw e;
    });
    return this.text;
  }

  end(data?: string | Uint8Array): void {
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Connects, retrying while the listen backlog is full (EAGAIN on a non-blocking unix connect). */
export async function connectRetrying(address: string, deadline: number): Promise<RawSession> {
  for (;;) {
    const s = new RawSession(address);
    try {
      await s.connected;
      return s;
    } catch (e) {
      s.destroy();
      if (Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** The line a session gets when it is closed, idle, to make room for a new client (src/mcli/sessions.ts). */
export const EVICTED = /^\n?Closing this session: idle for \d+s while all 64 sessions of this listener are in use, and a new client needs one\.\n$/;

/** One full exchange over a raw session: write `input`, half-close, read until closed. */
export async function exchange(address: string, input: string | Uint8Array, timeoutMs = 15_000): Promise<{ text: string; error?: string }> {
  const s = new RawSession(address);
  await s.connected;
  s.end(Buffer.from(input));
  const text = await s.untilClosed(timeoutMs);
  return s.error === undefined ? { text } : { text, error: s.error };
}

/** `show info` as cli-worker.cjs answers it. */
export interface WorkerInfo {
  pid: number;
  worker: number;
  generation: number;
  level: string;
}

export function parseInfo(reply: string): WorkerInfo {
  const field = (name: string) => {
    const m = new RegExp(`^${name}: (\\S+)$`, "m").exec(reply);
    assert.ok(m, `'${name}:' in ${JSON.stringify(reply)}`);
    return m[1]!;
  };
  return { pid: Number(field("pid")), worker: Number(field("worker")), generation: Number(field("generation")), level: field("level") };
}

/** The process lines of `show proc` by section: each row's five columns, then its markers (`[not listening]`, `[probation]`) if it has any. */
export interface ProcTable {
  header: string;
  master: string[];
  workers: string[][];
  oldWorkers: string[][];
  programs: string[][];
}

/** Parses `show proc`, asserting the layout: 15-character columns, the sections in order. */
export function parseShowProc(text: string): ProcTable {
  const lines = text.replace(/\n\n$/, "").split("\n");
  assert.equal(lines[0], "#<PID>          <type>          <reloads>       <uptime>        <version>", text);
  // markers after the version: `[not listening]` (a current worker holding none of the
  // listeners), `[probation]` (its worker) and `[probation: generation G until T]` (the master)
  const ROW = /^(\d+) +(\S+) +(\d+(?: \[failed: \d+\])?) +(\d+d\d\dh\d\dm\d\ds) +(\S+)(?: (\[(?:not listening|probation(?:: generation \d+ until \S+)?)\](?: \[not listening\])?))?$/;
  const columns = (line: string) => {
    const m = ROW.exec(line);
    assert.ok(m, `a process line: ${JSON.stringify(line)}`);
    for (const end of [15, 31, 47, 63]) assert.equal(line[end], " ", `15-character columns in ${JSON.stringify(line)}`);
    for (const start of [16, 32, 48, 64]) assert.notEqual(line[start], " ", `15-character columns in ${JSON.stringify(line)}`);
    return m[6] === undefined ? m.slice(1, 6) : m.slice(1);
  };
  const master = columns(lines[1]!);
  assert.equal(master[1], "master");
  const sections = ["# workers", "# old workers", "# programs"];
  const at = sections.map((s) => lines.indexOf(s));
  assert.deepEqual(at, [...at].sort((a, b) => a - b), `sections in order: ${text}`);
  assert.equal(at[0], 2, text);
  const rows = (from: number, to: number) => lines.slice(from + 1, to).map(columns);
  return {
    header: lines[0]!,
    master,
    workers: rows(at[0]!, at[1]!),
    oldWorkers: rows(at[1]!, at[2]!),
    programs: rows(at[2]!, lines.length),
  };
}

/** A TCP port on 127.0.0.1 nothing listens on right now (bound and released). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
