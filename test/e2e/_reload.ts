/**
 * Reloads (REFERENCE §5.3–§5.5): asking for one by signal and reading its outcome from the log,
 * the master and its children through /proc, the generation that answers over HTTP, and
 * building or swapping the executable a master runs from (binary upgrade).
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, readlinkSync, renameSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import process from "node:process";
import { collectWorkers, connectOptions, type WorkerReport } from "./_http.ts";
import { NODE, ROOT } from "./_modes.ts";
import { isAlive, waitGone, waitUntil } from "./_process.ts";
import type { Line, Listener, Steward, Worker } from "./_steward.ts";

export interface ReloadOutcome {
  ok: boolean;
  /** the text after `Reload failed: ` */
  reason?: string;
  /** index of the first stderr line after the signal was sent */
  from: number;
  /** the `Loading success.` or `Reload failed:` line */
  line: Line;
  /**
   * N of `Master re-executed (version V); reload N in progress`, when the master re-executed;
   * when it loaded the reload first (same binary and configuration, REFERENCE §5.3), the
   * generation its workers were started in; the re-exec it owes, `Master re-executed
   * (version V) after reload M` (M ≥ N: one re-exec follows a burst), is waited for
   */
  reload?: number;
  /** the master loaded this reload before it re-executed */
  reexecAfter?: boolean;
  version?: string;
  /** workers started by this reload */
  started: Worker[];
}

const OUTCOME = /Loading success\.|Reload failed: (.*)/;
/** the log line of a reload the master loads before it re-executes */
export const LOADED_FIRST = /no preflight; the master re-executes once reloads are quiet/;

/** Reads the outcome of the reload whose log starts at line `from`. */
export async function reloadOutcome(steward: Steward, from: number, timeoutMs = 20_000): Promise<ReloadOutcome> {
  const { line, match } = await steward.waitForLine(OUTCOME, timeoutMs, from);
  const inProgress = steward.lines
    .slice(from, line.index)
    .map((l) => /Master re-executed \(version ([^)]+)\); reload (\d+) in progress/.exec(l.text))
    .find((m) => m !== null);
  let reexec = inProgress ? { version: inProgress[1]!, reload: Number(inProgress[2]) } : undefined;
  const reexecAfter = match[1] === undefined && steward.lines.slice(from, line.index).some((l) => LOADED_FIRST.test(l.text));
  if (reexecAfter) {
    const generation = steward.started().find((w) => w.index >= from && w.index < line.index)?.generation;
    assert.ok(generation !== undefined, `the reload started workers${steward.log()}`);
    const { match: m } = await steward.waitForLine(/Master re-executed \(version ([^)]+)\) after reload (\d+)/, timeoutMs, line.index);
    assert.ok(Number(m[2]) >= generation, `the re-exec owed follows reload ${generation}: ${m[0]}${steward.log()}`);
    reexec = { version: m[1]!, reload: generation };
  }
  return {
    ...(reexecAfter ? { reexecAfter } : {}),
    ok: match[1] === undefined,
    ...(match[1] !== undefined ? { reason: match[1] } : {}),
    from,
    line,
    ...(reexec ?? {}),
    started: steward.started().filter((w) => w.index >= from && w.index < line.index),
  };
}

/** Sends `signal` (SIGUSR2 or SIGHUP) to the master and waits for the outcome of that reload. */
export function reload(steward: Steward, signal: NodeJS.Signals = "SIGUSR2", timeoutMs = 20_000): Promise<ReloadOutcome> {
  const from = steward.lines.length;
  steward.signal(signal);
  return reloadOutcome(steward, from, timeoutMs);
}

/** A reload that must succeed; returns its outcome (with the workers it started). */
export async function expectReloaded(steward: Steward, signal: NodeJS.Signals = "SIGUSR2", timeoutMs = 20_000): Promise<ReloadOutcome> {
  const outcome = await reload(steward, signal, timeoutMs);
  assert.ok(outcome.ok, `reload by ${signal} failed: ${outcome.reason}${steward.log()}`);
  return outcome;
}

/** A reload that must fail with a reason matching `reason`. */
export async function expectReloadFailed(steward: Steward, reason: RegExp, timeoutMs = 20_000): Promise<ReloadOutcome> {
  const outcome = await reload(steward, "SIGUSR2", timeoutMs);
  assert.ok(!outcome.ok, `the reload was expected to fail (${reason}) but succeeded${steward.log()}`);
  assert.match(outcome.reason!, reason, steward.log());
  return outcome;
}

/** The workers the log says generation `generation` started. */
export function workersOf(steward: Steward, generation: number): Worker[] {
  return steward.started().filter((w) => w.generation === generation);
}

/**
 * Requests to `url` until every PID of `pids` has answered; fails when any other PID
 * answers or any answer carries another STEWARD_GENERATION than `generation`.
 */
export async function expectServedBy(
  url: string,
  pids: number[],
  generation: number,
  context: () => string = () => "",
  timeoutMs = 10_000,
): Promise<Map<number, WorkerReport>> {
  const want = new Set(pids);
  const byPid = await collectWorkers(url, (seen) => {
    for (const pid of seen.keys()) {
      if (!want.has(pid)) throw new Error(`PID ${pid} answered on ${url}; expected only ${pids.join(", ")}${context()}`);
    }
    return pids.every((pid) => seen.has(pid));
  }, timeoutMs);
  for (const [pid, report] of byPid) {
    assert.equal(report.env.STEWARD_GENERATION, String(generation), `STEWARD_GENERATION of ${pid}${context()}`);
  }
  return byPid;
}

/**
 * After the failed reload `failed`: the master is alive; the workers the failed reload
 * started are gone; `current` (generation `generation`) were not asked to stop, are the
 * master's only live children, and answer on `http` with their STEWARD_GENERATION.
 */
export async function stillServing(
  steward: Steward,
  http: Listener,
  current: Worker[],
  failed: ReloadOutcome,
  generation = 0,
): Promise<void> {
  const master = steward.pid;
  assert.ok(isAlive(master) && !steward.exit, `the master is alive after the failed reload${steward.log()}`);
  await waitReaped(master, failed.started.map((w) => w.pid), 5_000);
  const pids = current.map((w) => w.pid).sort((a, b) => a - b);
  await waitUntil(
    () => liveChildrenOf(master).map((p) => p.pid).sort((a, b) => a - b).join(" ") === pids.join(" "),
    3_000,
    () => `the master's live children to be generation ${generation} only (${pids.join(", ")}), got ` +
      liveChildrenOf(master).map((p) => `${p.pid} (${p.cmdline})`).join("; ") + steward.log(),
  );
  for (const w of current) {
    assert.equal(steward.matching(new RegExp(`Old worker \\d+ \\(${w.pid}\\)`)).length, 0, `worker ${w.pid} was not asked to stop${steward.log()}`);
  }
  await expectServedBy(http.url, pids, generation, () => steward.log());
}

/**
 * The good reload after a failed one: it succeeds, its workers (as many as `previous`)
 * replace `previous`, and answer with their generation. Returns the new workers.
 */
export async function goodReloadAfterFailure(steward: Steward, http: Listener, previous: Worker[]): Promise<Worker[]> {
  const outcome = await expectReloaded(steward);
  const generations = new Set(outcome.started.map((w) => w.generation));
  assert.equal(outcome.started.length, previous.length, `the good reload started ${previous.length} workers${steward.log()}`);
  assert.equal(generations.size, 1, steward.log());
  const [generation] = generations;
  assert.equal(generation, outcome.reload, `workers of reload ${outcome.reload} are generation ${generation}${steward.log()}`);
  await waitReaped(steward.pid, previous.map((w) => w.pid));
  await expectServedBy(http.url, outcome.started.map((w) => w.pid), generation!, () => steward.log());
  return outcome.started;
}

/** Waits until `pids` are gone and the master has reaped them (no zombie child left). */
export async function waitReaped(masterPid: number, pids: number[], timeoutMs = 10_000): Promise<void> {
  await waitGone(pids, timeoutMs);
  await waitUntil(() => zombiesOf(masterPid).length === 0, 2_000, () => `the master to reap ${zombiesOf(masterPid).join(", ")}`);
}

// ---- /proc ---------------------------------------------------------------------------

/** `readlink /proc/PID/fd/FD` (e.g. `socket:[1234]`), or undefined when it is not open. */
export function fdTarget(pid: number, fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** The descriptor table of `pid`: fd → target. */
export function fdTable(pid: number): Map<number, string> {
  const table = new Map<number, string>();
  for (const entry of readdirSync(`/proc/${pid}/fd`)) {
    const target = fdTarget(pid, Number(entry));
    if (target !== undefined) table.set(Number(entry), target);
  }
  return table;
}

export function showFds(table: Map<number, string>): string {
  return [...table].sort((a, b) => a[0] - b[0]).map(([fd, target]) => `${fd} -> ${target}`).join(", ");
}

/** `readlink /proc/PID/exe` */
export function exeOf(pid: number): string {
  return readlinkSync(`/proc/${pid}/exe`);
}

export interface ProcInfo {
  pid: number;
  state: string;
  ppid: number;
  cmdline: string;
}

/** Every process whose parent is `ppid`, zombies included. */
export function childrenOf(ppid: number): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== ppid) continue;
      let cmdline = "";
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      } catch {
        // a zombie has none
      }
      found.push({ pid: Number(entry), state: fields[0]!, ppid, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** PIDs of zombie children of `ppid` (exited, not yet reaped). */
export function zombiesOf(ppid: number): number[] {
  return childrenOf(ppid).filter((p) => p.state === "Z").map((p) => p.pid);
}

/** Live (not zombie) children of `ppid`. */
export function liveChildrenOf(ppid: number): ProcInfo[] {
  return childrenOf(ppid).filter((p) => p.state !== "Z" && p.state !== "X" && isAlive(p.pid));
}

export function cmdlineOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
}

// ---- sockets -------------------------------------------------------------------------

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Tries to connect; resolves with the error code (e.g. ECONNREFUSED), or undefined if it connected. */
export function connectError(url: string | number, timeoutMs = 2_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(connectOptions(url));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("timeout");
    }, timeoutMs);
    socket.on("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
}

// ---- executables ---------------------------------------------------------------------

/** Puts a copy of `source` at `dest` by atomic rename (a running master keeps its old inode). */
/**
 * Executables are written by a child process (cp, or sh for a script), never by this
 * one: the test runner forks children all the time from other threads, and a child forked
 * while this process held the new file open for writing keeps that descriptor until its
 * own exec, so executing the file could fail with ETXTBSY (the same race as golang/go#22315).
 */
function writeExecutable(tmp: string, from: { file: string } | { text: string }): void {
  if ("file" in from) execFileSync("cp", [from.file, tmp]);
  else execFileSync("sh", ["-c", 'cat > "$1"', "sh", tmp], { input: from.text });
  chmodSync(tmp, 0o755);
}

export function installCopy(source: string, dest: string): void {
  const tmp = `${dest}.new`;
  writeExecutable(tmp, { file: source });
  renameSync(tmp, dest);
}

/** Puts an executable script at `dest` by atomic rename. */
export function installScript(dest: string, text: string): void {
  const tmp = `${dest}.new`;
  writeExecutable(tmp, { text });
  renameSync(tmp, dest);
}

/** Builds steward as `version` into `outfile` with scripts/build.mjs (binary only, ~1 s). */
export function buildSteward(version: string, outfile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      NODE,
      [join(ROOT, "scripts", "build.mjs")],
      {
        cwd: ROOT,
        env: { ...process.env, STEWARD_BUILD_ONLY_BINARY: "1", STEWARD_BUILD_VERSION: version, STEWARD_BUILD_OUTFILE: outfile },
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`building steward ${version} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(outfile);
      },
    );
  });
}
