/**
 * Helpers for the systemd, daemon, PID 1 and program tests: a stand-in for systemd's
 * notification socket (test/fixtures/notify-listen.py), the process tree through /proc,
 * killing a daemonized master that is not in the test's process group, master-CLI
 * requests, and `[[program]]` sections in TOML.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import process from "node:process";
import { FIXTURES } from "./_modes.ts";
import { isAlive, killQuietly, processGroup, sleep, waitUntil } from "./_process.ts";
import type { TestBed } from "./_steward.ts";

/** Python with no shim in between (a pyenv shim would be one more process). */
export const PYTHON: string = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

// ---- /proc --------------------------------------------------------------------------

export interface Stat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

export function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  return {
    pid,
    comm: text.slice(text.indexOf("(") + 1, close),
    state: fields[0]!,
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
  };
}

/** Direct children of `pid` (every thread's list: a child belongs to the thread that forked it). */
export function childrenOf(pid: number): number[] {
  const found = new Set<number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const task of tasks) {
    try {
      for (const word of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(/\s+/)) {
        if (word !== "") found.add(Number(word));
      }
    } catch {
      // thread gone
    }
  }
  return [...found];
}

/** Children by the ppid field of every /proc/N/stat (catches what a children list may miss). */
export function childrenByPpid(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    if (stat(Number(entry))?.ppid === pid) found.push(Number(entry));
  }
  return found;
}

/** Every descendant of `pid`, parents before children. */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    for (const child of new Set([...childrenOf(next), ...childrenByPpid(next)])) {
      if (!out.includes(child)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** Zombie children of `pid`, with their command names. */
export function zombiesOf(pid: number): Stat[] {
  return childrenByPpid(pid).map(stat).filter((s): s is Stat => s !== undefined && s.state === "Z");
}

export function statusField(pid: number, field: string): string | undefined {
  try {
    const m = new RegExp(`^${field}:\\s*(.*)$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? m[1]!.trim() : undefined;
  } catch {
    return undefined;
  }
}

export function environOf(pid: number): Record<string, string> | undefined {
  try {
    return parseEnviron(readFileSync(`/proc/${pid}/environ`, "latin1"));
  } catch {
    return undefined;
  }
}

export function parseEnviron(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

export function fdTargets(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The PIDs of processes whose command line contains `needle` (e.g. a test's temp dir). */
export function processesWithArg(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/**
 * SIGKILLs `pid` and everything below it (children first collected, then killed with
 * their process groups), for a master outside the test's own process group (-D).
 */
export async function killTree(pid: number): Promise<void> {
  const below = descendantsOf(pid);
  killQuietly(pid, "SIGSTOP"); // no restarts while the children go
  for (const child of below) {
    if (processGroup(child) === child) killQuietly(-child);
    killQuietly(child);
  }
  killQuietly(pid);
  try {
    await waitUntil(() => ![pid, ...below].some(isAlive), 3_000, "killed processes to be gone");
  } catch {
    // best effort
  }
}

// ---- sd_notify receiver ---------------------------------------------------------------

export interface Datagram {
  text: string;
  /** the sender, from SCM_CREDENTIALS */
  pid: number | null;
  uid: number | null;
  /** CLOCK_MONOTONIC when it was received */
  monotonic_usec: number;
}

export class NotifySink {
  readonly address: string;
  readonly file: string;
  private readonly child: ChildProcess;

  private constructor(address: string, file: string, child: ChildProcess) {
    this.address = address;
    this.file = file;
    this.child = child;
  }

  /** Binds `address` (a path, or `@name`) and waits until it is bound; stopped at cleanup. */
  static async open(bed: TestBed, address: string): Promise<NotifySink> {
    const file = bed.path(`notify-${Math.random().toString(36).slice(2, 8)}.jsonl`);
    const child = spawn(PYTHON, [join(FIXTURES, "notify-listen.py"), address, file], { stdio: ["ignore", "pipe", "inherit"] });
    const sink = new NotifySink(address, file, child);
    bed.onCleanup(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      child.stdout?.destroy();
    });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => (out += d));
    await waitUntil(
      () => out.includes("listening") || child.exitCode !== null,
      5_000,
      `notify-listen.py to bind ${address}`,
    );
    if (!out.includes("listening")) throw new Error(`notify-listen.py could not bind ${address} (exit ${child.exitCode})`);
    return sink;
  }

  datagrams(): Datagram[] {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return [];
    }
    return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Datagram);
  }

  texts(filter: (d: Datagram) => boolean = () => true): string[] {
    return this.datagrams().filter(filter).map((d) => d.text);
  }

  /** Waits until `count` datagrams (passing `filter`) have arrived; returns them all. */
  async waitFor(count: number, timeoutMs = 10_000, filter: (d: Datagram) => boolean = () => true): Promise<Datagram[]> {
    await waitUntil(() => this.datagrams().filter(filter).length >= count, timeoutMs, () =>
      `${count} datagram(s) on ${this.address}; got ${JSON.stringify(this.texts(filter))}`);
    return this.datagrams().filter(filter);
  }

  describe(): string {
    return `\n--- datagrams on ${this.address}:\n${this.datagrams().map((d) => `  | ${JSON.stringify(d.text)} from ${d.pid}`).join("\n")}\n---`;
  }
}

// ---- master CLI -----------------------------------------------------------------------

/** Sends `command` on a fresh master-CLI connection, half-closes, returns the whole reply. */
export function cliRequest(path: string, command: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`master CLI ${path}: no complete reply to '${command}' within ${timeoutMs}ms (so far: ${JSON.stringify(reply)})`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (d: string) => (reply += d));
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`master CLI ${path}: ${e.message}`));
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}

// ---- configuration --------------------------------------------------------------------

export interface ProgramSection {
  name: string;
  command: string[];
  env?: Record<string, string>;
  "start-on-reload"?: boolean;
  "on-failure"?: string;
}

/** `[[program]]` sections in TOML, to append to a configuration. */
export function programs(sections: ProgramSection[]): string {
  return sections.map((p) => {
    const lines = [`[[program]]`, `name = ${JSON.stringify(p.name)}`, `command = [${p.command.map((c) => JSON.stringify(c)).join(", ")}]`];
    if (p.env) lines.push(`env = { ${Object.entries(p.env).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`).join(", ")} }`);
    if (p["start-on-reload"] !== undefined) lines.push(`start-on-reload = ${p["start-on-reload"]}`);
    if (p["on-failure"] !== undefined) lines.push(`on-failure = ${JSON.stringify(p["on-failure"])}`);
    return lines.join("\n") + "\n";
  }).join("\n");
}

export { sleep };
