/**
 * A steward process under test (its stderr lines, waits on them and on its exit, cleanup)
 * and the TestBed that gives each test a temp dir and kills whatever the test started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { type Mode, stewardCommand } from "./_modes.ts";
import { killQuietly, processesOfMaster, processGroup, sleep, startTicks, uptimeTicks, waitUntil } from "./_process.ts";

export interface Line {
  text: string;
  /** Date.now() when the line was read */
  at: number;
  index: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface Found {
  line: Line;
  match: RegExpExecArray;
}

export interface Worker {
  id: number;
  pid: number;
  generation: number | undefined;
  at: number;
  index: number;
}

export interface Listener {
  name: string;
  url: string;
  fd: number;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const LOG_TAIL = 60;

export class Steward {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly argv: string[];
  /** stderr lines (the master's log, and the workers' stderr, which they inherit) */
  readonly lines: Line[] = [];
  readonly stdout: Line[] = [];
  exit: Exit | undefined;
  /** the master's start time, in clock ticks since boot */
  private readonly spawnedAtTicks: number;
  private readonly changed = new Set<() => void>();
  private readonly settled: Promise<void>;

  constructor(argv: string[], options: { cwd: string; env: Record<string, string> }) {
    this.argv = argv;
    this.child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: options.env,
      // own process group, so cleanup can SIGKILL exactly what this test created
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.on("error", (error) => {
      this.lines.push({ text: `e2e: spawn error: ${error.message}`, at: Date.now(), index: this.lines.length });
      this.exit ??= { code: null, signal: null, at: Date.now() };
      this.notify();
    });
    if (this.child.pid === undefined) throw new Error(`e2e: could not spawn ${argv.join(" ")}`);
    this.pid = this.child.pid;
    this.spawnedAtTicks = startTicks(this.pid) ?? uptimeTicks();
    const stderrEnd = this.collect(this.child.stderr!, this.lines);
    this.collect(this.child.stdout!, this.stdout);
    this.child.on("exit", (code, signal) => {
      this.exit = { code, signal, at: Date.now() };
      this.notify();
    });
    // Lines written just before exit can arrive after the exit event; workers that outlive
    // the master keep the pipe open, so wait for its end only a little.
    this.settled = new Promise((resolve) => {
      const onExit = () => Promise.race([stderrEnd, sleep(500)]).then(() => resolve());
      if (this.exit) onExit();
      else this.child.once("exit", onExit);
    });
  }

  private collect(stream: NodeJS.ReadableStream, into: Line[]): Promise<void> {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      const at = Date.now();
      for (const part of parts) into.push({ text: part.replace(ANSI, "").replace(/\r$/, ""), at, index: into.length });
      this.notify();
    });
    return new Promise((resolve) => {
      const end = () => {
        if (partial !== "") into.push({ text: partial.replace(ANSI, ""), at: Date.now(), index: into.length });
        partial = "";
        this.notify();
        resolve();
      };
      stream.on("end", end);
      stream.on("close", end);
      stream.on("error", end);
    });
  }

  private notify(): void {
    for (const wake of [...this.changed]) wake();
  }

  /** Resolves on the next change (a line, an exit) or after `ms`. */
  private nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.changed.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.changed.add(wake);
    });
  }

  /** The last stderr lines and the exit status, for assertion messages. */
  log(tail = LOG_TAIL): string {
    const shown = this.lines.slice(-tail).map((l) => `  | ${l.text}`).join("\n");
    const status = this.exit ? `exited: code ${this.exit.code}, signal ${this.exit.signal}` : "still running";
    return `\n--- steward (${this.argv.slice(-12).join(" ")}) pid ${this.pid}, ${status}; stderr:\n${shown}\n---`;
  }

  /** The first stderr line from index `from` on that matches `re`, waiting up to `timeoutMs`. */
  async waitForLine(re: RegExp, timeoutMs = 10_000, from = 0): Promise<Found> {
    const deadline = Date.now() + timeoutMs;
    let exitedAt: number | undefined;
    for (let i = from; ; ) {
      for (; i < this.lines.length; i++) {
        const match = re.exec(this.lines[i]!.text);
        if (match) return { line: this.lines[i]!, match };
      }
      if (this.exit) exitedAt ??= Date.now();
      if (exitedAt !== undefined && Date.now() - exitedAt > 500) {
        throw new Error(`steward exited before printing a line matching ${re}${this.log()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs}ms waiting for a line matching ${re}${this.log()}`);
      }
      await this.nextChange(Math.min(100, Math.max(1, deadline - Date.now())));
    }
  }

  /** Every stderr line matching `re`. */
  matching(re: RegExp): Found[] {
    const found: Found[] = [];
    for (const line of this.lines) {
      const match = re.exec(line.text);
      if (match) found.push({ line, match });
    }
    return found;
  }

  async waitForExit(timeoutMs = 10_000): Promise<Exit> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exit) {
      if (Date.now() > deadline) throw new Error(`steward did not exit within ${timeoutMs}ms${this.log()}`);
      await this.nextChange(Math.min(100, Math.max(1, deadline - Date.now())));
    }
    await this.settled;
    return this.exit;
  }

  /** Waits for the exit and asserts its code (and no signal), with the log in the message. */
  async expectExit(code: number, timeoutMs = 10_000): Promise<Exit> {
    const exit = await this.waitForExit(timeoutMs);
    if (exit.code !== code || exit.signal !== null) {
      throw new Error(`expected steward to exit with code ${code}, got code ${exit.code}, signal ${exit.signal}${this.log()}`);
    }
    return exit;
  }

  /** Sends `signal` to the master only (not its group). */
  signal(signal: NodeJS.Signals): void {
    process.kill(this.pid, signal);
  }

  /** Waits for `Loading success.` */
  ready(timeoutMs = 15_000): Promise<Found> {
    return this.waitForLine(/Loading success\./, timeoutMs);
  }

  /** `Listener 'NAME' bound to URL (fd N)` */
  async listener(name: string, timeoutMs = 15_000): Promise<Listener> {
    const re = new RegExp(`Listener '${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}' bound to (\\S+) \\(fd (\\d+)\\)`);
    const { match } = await this.waitForLine(re, timeoutMs);
    return { name, url: match[1]!, fd: Number(match[2]) };
  }

  /** Workers from `Worker ID (PID) started (generation G)` lines, in order. */
  started(): Worker[] {
    return this.matching(/Worker (\d+) \((\d+)\) started(?: \(generation (\d+)\))?/).map(({ line, match }) => ({
      id: Number(match[1]),
      pid: Number(match[2]),
      generation: match[3] === undefined ? undefined : Number(match[3]),
      at: line.at,
      index: line.index,
    }));
  }

  /** Waits until `count` workers have been started and returns them. */
  async waitForWorkers(count: number, timeoutMs = 15_000): Promise<Worker[]> {
    await waitUntil(() => this.started().length >= count || this.exit, timeoutMs, () => `${count} started workers${this.log()}`);
    const workers = this.started();
    if (workers.length < count) throw new Error(`expected ${count} started workers, got ${workers.length}${this.log()}`);
    return workers;
  }

  /**
   * Kills everything this steward started: its process group, then its workers: those
   * whose environment names this master, and those it logged as started that are younger
   * than the master (so a reused PID is never hit).
   */
  async destroy(): Promise<void> {
    if (!this.exit) killQuietly(-this.pid);
    const workers = new Set(processesOfMaster(this.pid));
    for (const { pid } of this.started()) {
      const started = startTicks(pid);
      if (started !== undefined && started >= this.spawnedAtTicks) workers.add(pid);
    }
    for (const pid of workers) {
      if (processGroup(pid) === pid) killQuietly(-pid);
      killQuietly(pid);
    }
    try {
      await this.waitForExit(5_000);
    } catch {
      // reported by the test itself when it matters
    }
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }
}

// One test's bed: a temp dir, the stewards it started, cleanup

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  steward: Steward;
}

/** Variables of the test runner's own environment that must not steer the master. */
const SCRUBBED = /^(STEWARD_|LISTEN_|NOTIFY_SOCKET$|WATCHDOG_|FORCE_COLOR$|NODE_OPTIONS$)/;

export class TestBed {
  readonly mode: Mode;
  readonly dir: string;
  private readonly stewards: Steward[] = [];
  private readonly cleanups: Array<() => void | Promise<void>> = [];

  constructor(mode: Mode) {
    this.mode = mode;
    // short: unix socket paths must fit in 107 bytes
    this.dir = mkdtempSync(existsSync("/tmp") ? "/tmp/stw-" : join(process.env.TMPDIR ?? ".", "stw-"));
  }

  /** `$RUNTIME_DIRECTORY` of the masters this bed starts (host/rundir.ts), made on first use. */
  runtimeDir(): string {
    const dir = this.path("run");
    // 0711: a worker running as `user =` can go through to its own directory (host/userdirs.ts)
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    return dir;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, content: string): string {
    const path = this.path(name);
    writeFileSync(path, content);
    return path;
  }

  /**
   * Starts steward with `args` (after the mode's prefix, or after `command` when given,
   * e.g. a copy of the binary), cwd = the temp dir.
   */
  start(args: string[], options: { env?: Record<string, string>; cwd?: string; command?: string[] } = {}): Steward {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !SCRUBBED.test(key)) env[key] = value;
    }
    env.NO_COLOR = "1";
    // The master's run directory in this test's own dir, removed with it even when the
    // master is SIGKILLed (as root it would otherwise be under /run/steward).
    env.RUNTIME_DIRECTORY = this.runtimeDir();
    Object.assign(env, options.env);
    const steward = new Steward([...(options.command ?? stewardCommand(this.mode)), ...args], { cwd: options.cwd ?? this.dir, env });
    this.stewards.push(steward);
    return steward;
  }

  /** Starts steward with a configuration file (written from `text` as `name`). */
  startWith(
    text: string,
    name = "steward.toml",
    options: { env?: Record<string, string>; args?: string[]; command?: string[] } = {},
  ): Steward {
    const file = this.write(name, text);
    return this.start(["-f", file, ...(options.args ?? [])], { env: options.env, command: options.command });
  }

  /** Runs a short-lived steward command to its end. */
  async run(args: string[], options: { env?: Record<string, string>; timeoutMs?: number; command?: string[] } = {}): Promise<RunResult> {
    const steward = this.start(args, { env: options.env, command: options.command });
    const exit = await steward.waitForExit(options.timeoutMs ?? 15_000);
    return {
      code: exit.code,
      signal: exit.signal,
      stdout: steward.stdout.map((l) => l.text).join("\n"),
      stderr: steward.lines.map((l) => l.text).join("\n"),
      steward,
    };
  }

  onCleanup(fn: () => void | Promise<void>): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning
      }
    }
    await Promise.all(this.stewards.map((s) => s.destroy()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Wraps a test body: a fresh TestBed for `mode`, always cleaned up. */
export function e2e(mode: Mode, body: (bed: TestBed) => Promise<void>): () => Promise<void> {
  return async () => {
    const bed = new TestBed(mode);
    try {
      await body(bed);
    } finally {
      await bed.cleanup();
    }
  };
}
