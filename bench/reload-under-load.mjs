#!/usr/bin/env node
// Reloads under load: wrk (2 threads, 50 connections) on 127.0.0.1 while the master is sent
// SIGUSR2 every 200 ms, then every 50 ms; steward with a Node worker (bench/drain-worker.cjs)
// vs HAProxy 2.6 in master-worker mode (-W -S) in front of the same Node server, which
// stays up. Two client modes, reported separately (bench/BENCH.md):
//   close      new connection per request (-H 'Connection: close'): every request goes
//              through accept() on the listener; any error here is the master's;
//   keepalive  also measures how the worker drains.
//
// Reloader: one SIGUSR2, then wait for the master's `Loading success.` (or a failure line)
// on its stderr; the next signal goes at sent + interval, or at once if the reload took
// longer than the interval (a signal sent during a reload would only be merged into one
// more reload, or dropped). HAProxy 2.6 drops a SIGUSR2 that arrives in the ~10-20 ms
// after its `Loading success.` (its master re-executes once more, in wait mode, ignoring
// SIGUSR2 meanwhile; seen with strace), so for HAProxy the next signal also waits until
// /proc/PID/status shows SIGUSR2 caught again ("gate", printed). A signal followed by no
// `Reloading` line within 250 ms is sent again and counted ("re-sent").
// Reload latency = SIGUSR2 sent -> `Loading success.` read from the master's stderr by this
// script (neither master timestamps its lines). Both masters print it once the new
// worker(s) are ready and the old ones have been told to stop (steward: after "Old worker
// ... sent SIGTERM"; HAProxy 2.6: the new worker, started with -sf, has signalled the old).
//
// Usage: node bench/reload-under-load.mjs [seconds=30] [options]
//   --repeats N          rounds of every comparison (default 1; BENCH.md asks for >= 3)
//   --intervals LIST     reload intervals in ms (default 200,50; 0 = no reloads, a baseline)
//   --modes LIST         close,keepalive (default both)
//   --sides LIST         steward,haproxy (default both; alternated within each round)
//   --workers N          steward workers (default 1)
//   --backends N         Node servers behind HAProxy (default 1)
//   --haproxy-default-drain  leave out HAProxy's `option idle-close-on-response`
//   --idle-reloads N     first, N reloads of each side with no load, 200 ms apart (default 10; 0 = skip)
//   --node-startup N     first, N start-ups of the Node worker alone (no steward), spawn -> its port
//                        accepts, idle and under the same wrk load (default 15; 0 = skip): the
//                        part of a reload's latency that is the worker's own start-up
//   --keep-logs          keep the masters' stderr logs (the directory is printed)
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  binary,
  childrenOf,
  cpuTicks,
  fdCount,
  freePort,
  median,
  percentile,
  portOf,
  requireBinary,
  root,
  rssKiB,
  runWrk,
  sleep,
  startLogged,
  stopGroup,
  waitForPort,
} from "./_lib.mjs";

// ---- options ----------------------------------------------------------------------------

const argv = process.argv.slice(2);
const opt = { seconds: 30, repeats: 1, intervals: [200, 50], modes: ["close", "keepalive"], sides: ["steward", "haproxy"], workers: 1, backends: 1, haproxyDefaultDrain: false, keepLogs: false, idleReloads: 10, nodeStartup: 15 };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => {
    const v = argv[++i];
    if (v === undefined) usage(`${a} needs a value`);
    return v;
  };
  if (a === "--repeats") opt.repeats = Number(next());
  else if (a === "--intervals") opt.intervals = next().split(",").map(Number);
  else if (a === "--modes") opt.modes = next().split(",");
  else if (a === "--sides") opt.sides = next().split(",");
  else if (a === "--workers") opt.workers = Number(next());
  else if (a === "--backends") opt.backends = Number(next());
  else if (a === "--haproxy-default-drain") opt.haproxyDefaultDrain = true;
  else if (a === "--keep-logs") opt.keepLogs = true;
  else if (a === "--idle-reloads") opt.idleReloads = Number(next());
  else if (a === "--node-startup") opt.nodeStartup = Number(next());
  else if (/^\d+(\.\d+)?$/.test(a)) opt.seconds = Number(a);
  else usage(`unknown argument ${a}`);
}
function usage(msg) {
  console.error(`reload-under-load: ${msg}\nusage: node bench/reload-under-load.mjs [seconds=30] [--repeats N] [--intervals 200,50] [--modes close,keepalive] [--sides steward,haproxy] [--workers N] [--backends N] [--haproxy-default-drain] [--idle-reloads N] [--node-startup N] [--keep-logs]`);
  process.exit(2);
}
if (!(opt.seconds > 0) || !(opt.repeats >= 1) || opt.intervals.some((x) => !(x >= 0))) usage("bad number");
for (const m of opt.modes) if (!["close", "keepalive"].includes(m)) usage(`unknown mode ${m}`);
for (const s of opt.sides) if (!["steward", "haproxy"].includes(s)) usage(`unknown side ${s}`);

if (opt.sides.includes("steward")) requireBinary();
const drainWorker = join(root, "bench", "drain-worker.cjs");
const workDir = mkdtempSync(join(tmpdir(), "steward-reload-bench-"));
// The master re-executes its own file on every reload: run a private copy, so that a
// rebuild of dist/steward during the benchmark cannot change the binary under test.
const stewardBin = join(workDir, "steward");
let binaryNote = "";
if (opt.sides.includes("steward")) {
  copyFileSync(binary, stewardBin);
  chmodSync(stewardBin, 0o755);
  const st = statSync(binary);
  let version = "?";
  try {
    version = execFileSync(stewardBin, ["version"], { encoding: "utf8", timeout: 10000 }).trim();
  } catch {}
  let head = "";
  try {
    head = execFileSync("git", ["-C", root, "log", "-1", "--format=%h %cI"], { encoding: "utf8", timeout: 5000 }).trim();
  } catch {}
  binaryNote = `${binary} (${version}; built ${st.mtime.toISOString()}; repository HEAD ${head || "?"}), run from a copy`;
}

// ---- every process started here is in its own group; all are killed at the end ---------

const started = new Set(); // ChildProcess (group leaders)
// steward's live workers (their own process groups, started by steward), PID -> master PID
const stewardWorkers = new Map();
/** true only if `pid` is still a worker of that master (guards against PID reuse) */
function isOurWorker(pid, masterPid) {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`STEWARD_MASTER_PID=${masterPid}`);
  } catch {
    return false;
  }
}
function killEverything() {
  for (const c of started) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {}
    }
  }
  for (const [pid, masterPid] of stewardWorkers) {
    if (!isOurWorker(pid, masterPid)) continue;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}
process.on("exit", () => {
  killEverything();
  // the binary copy always goes; the logs stay only with --keep-logs
  rmSync(opt.keepLogs ? stewardBin : workDir, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    console.error(`reload-under-load: ${sig}: killing everything started`);
    process.exit(130);
  });
}
const runsPlanned = opt.repeats * opt.intervals.length * opt.modes.length * opt.sides.length;
const budgetMs = runsPlanned * (opt.seconds + 60) * 1000 + opt.sides.length * (opt.idleReloads * 2 + 30) * 1000 + 60000;
setTimeout(() => {
  console.error(`reload-under-load: over the time budget (${(budgetMs / 1000).toFixed(0)} s): killing everything started`);
  process.exit(3);
}, budgetMs).unref();

function track(child) {
  started.add(child);
  child.once("exit", () => started.delete(child));
  return child;
}

// ---- the two sides ------------------------------------------------------------------------

/**
 * A master under test: start() -> { pid, port, expectedChildren }, stop(), plus the
 * patterns of its reload lines. `watch(fn)` gets every later stderr line with its time.
 */
function stewardSide(runTag) {
  let s;
  let listener = () => {};
  return {
    name: "steward",
    reloading: /: Reloading \(/,
    success: /: Loading success\./,
    failure: /: Reload failed/,
    phases: [
      ["signal->'Reloading'", /: Reloading \(/],
      ["->'re-executed'", /: Master re-executed/],
      ["->worker started", /: Worker \d+ \(\d+\) started/],
      ["->worker ready", /: Worker \d+ \(\d+\) is ready/],
      ["->'Loading success.'", /: Loading success\./],
    ],
    expectedChildren: opt.workers,
    async start() {
      s = await startLogged(stewardBin, ["-l", "http=tcp://127.0.0.1:0", "-n", String(opt.workers), "--", "node", drainWorker], {
        ready: /Loading success\./,
        onLine: (line, t) => {
          const started = /\((\d+)\) : Worker \d+ \((\d+)\) started/.exec(line);
          if (started) stewardWorkers.set(Number(started[2]), Number(started[1]));
          const gone = /worker \d+ \((\d+)\) (exited|killed)/i.exec(line);
          if (gone) stewardWorkers.delete(Number(gone[1]));
          listener(line, t);
        },
      });
      track(s.child);
      return { pid: s.child.pid, port: portOf(s.lines) };
    },
    watch(fn) {
      listener = fn;
    },
    lines: () => s?.lines ?? [],
    async extra() {
      return "";
    },
    async stop() {
      const code = await stopGroup(s.child);
      // steward's workers run in their own process groups: check none outlived the master
      await sleep(200);
      const left = [...stewardWorkers].filter(([pid, master]) => isOurWorker(pid, master)).map(([pid]) => pid);
      for (const pid of left) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {}
      }
      stewardWorkers.clear();
      return `exit ${code}${left.length ? `; ${left.length} worker(s) outlived the master: ${left.join(", ")}` : ""}`;
    },
    logName: `${runTag}-steward.log`,
  };
}

function haproxySide(runTag) {
  let h;
  let listener = () => {};
  const backends = [];
  const sock = join(workDir, `${runTag}-master.sock`);
  return {
    name: "haproxy",
    reloading: /: Reloading HAProxy/,
    success: /: Loading success\./,
    failure: /Loading failure|Reload failed|waitpid mode/,
    phases: [
      ["signal->'Reloading HAProxy'", /: Reloading HAProxy/],
      ["->'New worker forked'", /: New worker \(\d+\) forked/],
      ["->'Loading success.'", /: Loading success\./],
    ],
    expectedChildren: 1,
    async start() {
      const ports = [];
      for (let i = 0; i < opt.backends; i++) {
        const port = await freePort();
        const b = track(spawn("node", [drainWorker], { env: { ...process.env, PORT: String(port) }, stdio: "ignore", detached: true }));
        backends.push(b);
        ports.push(port);
      }
      for (const p of ports) await waitForPort(p);
      const port = await freePort();
      const cfg = join(workDir, `${runTag}-haproxy.cfg`);
      writeFileSync(
        cfg,
        [
          "global",
          "    hard-stop-after 30s",
          "defaults",
          "    mode http",
          "    timeout connect 5s",
          "    timeout client 30s",
          "    timeout server 30s",
          "    timeout http-keep-alive 5s",
          ...(opt.haproxyDefaultDrain ? [] : ["    option idle-close-on-response"]),
          "frontend fe",
          `    bind 127.0.0.1:${port}`,
          "    default_backend be",
          "backend be",
          "    balance roundrobin",
          ...ports.map((p, i) => `    server s${i + 1} 127.0.0.1:${p}`),
          "",
        ].join("\n"),
      );
      h = await startLogged("haproxy", ["-W", "-S", sock, "-f", cfg], { ready: /Loading success\./, onLine: (l, t) => listener(l, t) });
      track(h.child);
      await this.gate();
      return { pid: h.child.pid, port };
    },
    /**
     * HAProxy 2.6's master re-executes itself once more after `Loading success.` (wait
     * mode); the image that loaded ignores SIGUSR2 and the next one catches it only after
     * ~10-20 ms, so a SIGUSR2 sent in between is dropped (seen with strace). Wait until
     * /proc/PID/status shows SIGUSR2 caught again (bounded: 1 s).
     */
    async gate() {
      const end = performance.now() + 1000;
      while (performance.now() < end) {
        if (usr2Caught(h.child.pid)) return true;
        await sleep(1);
      }
      return false;
    },
    watch(fn) {
      listener = fn;
    },
    lines: () => h?.lines ?? [],
    async extra() {
      const out = await masterCli(sock, "show proc");
      const master = /^\d+\s+master\s+(\d+) \[failed: (\d+)\]/m.exec(out);
      const workers = out.split("\n").filter((l) => /^\d+\s+worker\s/.test(l)).length;
      return master ? `show proc: reloads ${master[1]}, failed ${master[2]}, ${workers} worker(s) listed` : `show proc: ${JSON.stringify(out.slice(0, 200))}`;
    },
    async stop() {
      const code = await stopGroup(h.child);
      for (const b of backends) await stopGroup(b);
      return `exit ${code}`;
    },
    logName: `${runTag}-haproxy.log`,
  };
}

function masterCli(path, command) {
  return new Promise((resolve) => {
    let out = "";
    const c = createConnection(path, () => c.write(`${command}\n`));
    const t = setTimeout(() => c.destroy(), 3000);
    c.on("data", (d) => (out += d));
    c.on("error", (e) => (out += `error: ${e.message}`));
    c.on("close", () => (clearTimeout(t), resolve(out)));
  });
}

// ---- one run ------------------------------------------------------------------------------

const wrk = (port, mode) => runWrk(port, mode, opt.seconds, track);

function sample(pid) {
  const kids = childrenOf(pid);
  return { fds: fdCount(pid), rssMiB: rssKiB(pid) / 1024, live: kids.filter((k) => k.state !== "Z").length, zombies: kids.filter((k) => k.state === "Z").length };
}

/** Whether SIGUSR2 has a handler in `pid` (SigCgt bit 11 of /proc/PID/status). */
function usr2Caught(pid) {
  try {
    const cgt = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0";
    return (BigInt(`0x${cgt}`) & (1n << 11n)) !== 0n;
  } catch {
    return false;
  }
}

const RESEND_AFTER_MS = 250; // no 'Reloading' line by then: the signal was dropped; send it again

/**
 * Wires a reloader to a started side: reload() sends SIGUSR2, re-sends it if no
 * 'Reloading' line follows within RESEND_AFTER_MS, waits for the outcome line, then for
 * the master to be able to take the next signal (side.gate), and returns the figures.
 */
function reloader(side, pid) {
  let outstanding;
  side.watch((line, t) => {
    const o = outstanding;
    if (!o) return;
    side.phases.forEach(([, re], i) => {
      if (re.test(line) && !o.marks.has(i)) o.marks.set(i, t);
    });
    if (side.reloading.test(line)) o.seen = true;
    if (/received during a reload/.test(line)) o.merged = (o.merged ?? 0) + 1;
    if (side.success.test(line)) o.resolve({ ok: true, t });
    else if (side.failure.test(line)) o.resolve({ ok: false, t, line });
  });
  return async function reload() {
    let resolve;
    const result = new Promise((r) => (resolve = r));
    const o = { marks: new Map(), seen: false, resolve, sentAt: performance.now() };
    outstanding = o;
    let resent = 0;
    process.kill(pid, "SIGUSR2");
    let r;
    for (;;) {
      r = await Promise.race([result, sleep(RESEND_AFTER_MS).then(() => null)]);
      if (r || o.seen) break;
      if (resent >= 20) {
        r = { ok: false, t: performance.now(), line: `no 'Reloading' line after ${resent + 1} signals` };
        break;
      }
      resent++;
      o.sentAt = performance.now();
      process.kill(pid, "SIGUSR2");
    }
    if (!r) r = await Promise.race([result, sleep(30000).then(() => ({ ok: false, t: performance.now(), line: "no outcome line within 30 s of 'Reloading'" }))]);
    outstanding = undefined;
    const phases = [];
    let prev = o.sentAt;
    side.phases.forEach((_, i) => {
      const t = o.marks.get(i);
      phases.push(t === undefined ? undefined : t - prev);
      if (t !== undefined) prev = t;
    });
    const g0 = performance.now();
    const gate = r.ok && side.gate ? await side.gate() : undefined;
    return { ...r, latency: r.t - o.sentAt, phases, resent, merged: o.merged ?? 0, gateMs: gate === undefined ? undefined : performance.now() - g0, gateTimedOut: gate === false };
  };
}

function makeSide(name, tag) {
  return name === "steward" ? stewardSide(tag) : haproxySide(tag);
}

async function runOnce(sideName, mode, intervalMs, runTag) {
  const side = makeSide(sideName, runTag);
  const { pid, port } = await side.start();
  await sleep(1000);
  const before = sample(pid);
  const loadavg = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const reload = reloader(side, pid);
  const latencies = [];
  const phaseSamples = side.phases.map(() => []);
  const failures = [];
  const gateMs = [];
  let requested = 0;
  let done = 0;
  let resent = 0;
  let merged = 0;
  let gateTimeouts = 0;
  let peak = { ...before };
  const sampler = setInterval(() => {
    const s = sample(pid);
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], s[k]);
  }, 1000);

  const cpu0 = cpuTicks(pid);
  const t0 = performance.now();
  const load = wrk(port, mode);
  const endAt = performance.now() + opt.seconds * 1000;
  const reloading = (async () => {
    if (intervalMs === 0) return;
    await sleep(Math.min(500, intervalMs)); // let wrk connect first
    while (performance.now() < endAt) {
      const sentAt = performance.now();
      const r = await reload();
      requested += 1 + r.resent;
      resent += r.resent;
      merged += r.merged;
      if (r.gateMs !== undefined) gateMs.push(r.gateMs);
      if (r.gateTimedOut) gateTimeouts++;
      if (r.ok) {
        done++;
        latencies.push(r.latency);
        r.phases.forEach((x, i) => x !== undefined && phaseSamples[i].push(x));
      } else failures.push(r.line);
      const next = Math.max(sentAt + intervalMs, performance.now());
      if (next >= endAt) break;
      await sleep(next - performance.now());
    }
  })();
  const w = await load;
  await reloading;
  clearInterval(sampler);
  const masterCpu = (cpuTicks(pid) - cpu0) / 100 / ((performance.now() - t0) / 1000); // cores

  // after: wait (bounded) for old workers to be gone, then sample
  const settleStart = performance.now();
  let after = sample(pid);
  while (after.live > side.expectedChildren && performance.now() - settleStart < 15000) {
    await sleep(100);
    after = sample(pid);
  }
  const settleMs = performance.now() - settleStart;
  await sleep(1000); // a child that just exited may not be reaped yet: sample 1 s later
  after = sample(pid);
  const extra = await side.extra();
  const stopped = await side.stop();
  const lines = side.lines();
  writeFileSync(join(workDir, side.logName), lines.join("\n") + "\n");
  return { side: sideName, mode, intervalMs, loadavg, masterCpu, w, requested, done, resent, merged, gateMs, gateTimeouts, failures, latencies, phaseSamples, phases: side.phases.map(([l]) => l), before, after, peak, settleMs, extra, stopped, notes: logNotes(sideName, lines) };
}

/** Reload latency with no load: `n` reloads 200 ms apart on a fresh master. */
async function idleLatency(sideName, n) {
  const side = makeSide(sideName, `idle`);
  const { pid } = await side.start();
  await sleep(500);
  const reload = reloader(side, pid);
  const lat = [];
  let resent = 0;
  for (let i = 0; i < n; i++) {
    const r = await reload();
    resent += r.resent;
    if (r.ok) lat.push(r.latency);
    await sleep(200);
  }
  await side.stop();
  return { lat, resent };
}

/** ms from spawning `node drain-worker.cjs` (binding a port itself) until that port accepts. */
async function nodeStartOnce() {
  const port = await freePort();
  const t0 = performance.now();
  const child = track(spawn("node", [drainWorker], { env: { ...process.env, PORT: String(port) }, stdio: "ignore", detached: true }));
  let ms = NaN;
  const net = await import("node:net");
  while (performance.now() - t0 < 10000) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, "127.0.0.1", () => (c.destroy(), r(true)));
      c.on("error", () => r(false));
    });
    if (ok) {
      ms = performance.now() - t0;
      break;
    }
    await sleep(2);
  }
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {}
  started.delete(child);
  return ms;
}

/**
 * The Node worker's own start-up, no steward involved: `n` start-ups idle, then `n` while wrk
 * (new connection per request) loads a steward serving the same worker, with no reloads.
 */
async function nodeStartup(n) {
  const idle = [];
  for (let i = 0; i < n; i++) {
    idle.push(await nodeStartOnce());
    await sleep(100);
  }
  const side = makeSide("steward", "node-startup");
  const { port } = await side.start();
  await sleep(500);
  const load = wrk(port, "close");
  await sleep(500);
  const loaded = [];
  for (let i = 0; i < n; i++) {
    loaded.push(await nodeStartOnce());
    await sleep(100);
  }
  await load;
  await side.stop();
  return { idle: idle.filter(Number.isFinite), loaded: loaded.filter(Number.isFinite) };
}

/** WARNING/ALERT lines (and steward's non-zero worker exits), digits folded, with counts. */
function logNotes(sideName, lines) {
  const counts = new Map();
  for (const l of lines) {
    const interesting = /\[(WARNING|ALERT)\]/.test(l) || (sideName === "steward" && /exited with code [1-9]|killed by signal|received during a reload/.test(l));
    if (!interesting) continue;
    const key = l.replace(/\d+/g, "N").replace(/\s+/g, " ");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

// ---- output -------------------------------------------------------------------------------

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : "-");
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const modeName = (m) => (m === "close" ? "new connection per request" : "keep-alive");
const errorsOf = (w) => w.connect + w.read + w.write + w.timeout;

function printRun(r) {
  const w = r.w;
  const p = (xs, q) => (xs.length ? percentile(xs, q) : NaN);
  console.log(`  ${r.side.padEnd(8)} ${w.requests} requests, ${f0(w.rps)} req/s; socket errors: connect ${w.connect}, read ${w.read}, write ${w.write}, timeout ${w.timeout}; non-2xx/3xx ${w.non2xx}${w.code ? `; wrk exit ${w.code}` : ""}   [loadavg before: ${r.loadavg}]`);
  if (r.intervalMs > 0) {
    console.log(
      `           reloads requested ${r.requested} (re-sent ${r.resent}), done ${r.done}, failed ${r.failures.length}${r.merged ? `, merged ${r.merged}` : ""} (a fixed ${r.intervalMs} ms schedule alone: ${Math.floor((opt.seconds * 1000) / r.intervalMs)}); latency p50 ${f0(p(r.latencies, 50))} ms, p99 ${f0(p(r.latencies, 99))} ms, max ${f0(r.latencies.length ? Math.max(...r.latencies) : NaN)} ms`,
    );
    console.log(`           latency by step, p50 ms: ${r.phases.map((l, i) => `${l} ${f0(p(r.phaseSamples[i], 50))}`).join(", ")}${r.gateMs.length ? `; gate before next signal p50 ${f0(p(r.gateMs, 50))} ms, p99 ${f0(p(r.gateMs, 99))} ms${r.gateTimeouts ? `, ${r.gateTimeouts} timed out` : ""}` : ""}`);
  }
  console.log(
    `           master fds ${r.before.fds} -> ${r.after.fds} (peak ${r.peak.fds}); RSS ${f1(r.before.rssMiB)} -> ${f1(r.after.rssMiB)} MiB (peak ${f1(r.peak.rssMiB)}); children after ${r.after.live} live, ${r.after.zombies} zombie (peak zombies ${r.peak.zombies}, peak live ${r.peak.live}); old workers gone ${f1(r.settleMs / 1000)} s after the load, sampled 1 s later`,
  );
  console.log(`           master CPU during the load ${(r.masterCpu * 100).toFixed(1)} % of one core; ${r.extra ? `${r.extra}; ` : ""}stop: ${r.stopped}`);
  for (const f of [...new Set(r.failures)].slice(0, 3)) console.log(`           reload failure: ${f}`);
  for (const [k, n] of r.notes.slice(0, 6)) console.log(`           log ${n}x: ${k.slice(0, 150)}`);
}

// ---- main ---------------------------------------------------------------------------------

console.log(
  `reload under load: wrk -t2 -c50 -d${opt.seconds}s on 127.0.0.1; reload intervals ${opt.intervals.join(", ")} ms; repeats ${opt.repeats}${opt.repeats < 3 ? " (BENCH.md asks for >= 3: --repeats 3)" : ""}`,
);
if (binaryNote) console.log(`binary: ${binaryNote}`);
if (opt.sides.includes("steward")) console.log(`steward: steward -l http=tcp://127.0.0.1:0 -n ${opt.workers} -- node bench/drain-worker.cjs (ready = accepting)`);
if (opt.sides.includes("haproxy")) console.log(`haproxy: haproxy -W -S <sock> -f <cfg>, frontend 127.0.0.1 -> ${opt.backends} node bench/drain-worker.cjs (not reloaded)${opt.haproxyDefaultDrain ? "" : ", option idle-close-on-response"}`);
console.log(`reload latency = SIGUSR2 sent -> 'Loading success.' read from the master's stderr; next SIGUSR2 at max(sent + interval, that line)`);
console.log(`logs: ${workDir}${opt.keepLogs ? "" : " (removed at the end; --keep-logs keeps them)"}`);

if (opt.idleReloads > 0) {
  console.log(`\nidle reload latency (${opt.idleReloads} reloads 200 ms apart, no load):`);
  for (const side of opt.sides) {
    const { lat, resent } = await idleLatency(side, opt.idleReloads);
    console.log(`  ${side.padEnd(8)} p50 ${f0(lat.length ? percentile(lat, 50) : NaN)} ms, p99 ${f0(lat.length ? percentile(lat, 99) : NaN)} ms, min ${f0(Math.min(...lat))} ms (${lat.length}/${opt.idleReloads} ok${resent ? `, ${resent} re-sent` : ""})`);
  }
}

let nodeStart;
if (opt.nodeStartup > 0 && opt.sides.includes("steward")) {
  nodeStart = await nodeStartup(opt.nodeStartup);
  const show = (xs) => `p50 ${f0(percentile(xs, 50))} ms, p99 ${f0(percentile(xs, 99))} ms, min ${f0(Math.min(...xs))} ms (${xs.length}/${opt.nodeStartup})`;
  console.log(`\nthe Node worker alone (no steward), spawn -> its port accepts:`);
  console.log(`  ${"idle".padEnd(50)}${show(nodeStart.idle)}`);
  console.log(`  ${"under wrk -t2 -c50, new connection per request".padEnd(50)}${show(nodeStart.loaded)}`);
}

const results = [];
let k = 0;
for (let rep = 0; rep < opt.repeats; rep++) {
  for (const intervalMs of opt.intervals) {
    for (const mode of opt.modes) {
      const order = k++ % 2 === 0 ? opt.sides : [...opt.sides].reverse();
      console.log(`\n[round ${rep + 1}/${opt.repeats}] ${intervalMs ? `reload every ${intervalMs} ms` : "no reloads"}, ${modeName(mode)}`);
      for (const side of order) {
        const r = await runOnce(side, mode, intervalMs, `r${rep + 1}-${intervalMs}ms-${mode}`);
        results.push(r);
        printRun(r);
      }
    }
  }
}

// side by side: medians over rounds (min-max)
const stat = (xs, fmt) => (xs.length ? `${fmt(median(xs))}${xs.length > 1 ? ` (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})` : ""}` : "-");
console.log(`\nsummary: medians over ${opt.repeats} round(s)${opt.repeats > 1 ? " (min-max)" : ""}`);
const col = 40;
console.log(`${"".padEnd(46)}${opt.sides.map((s) => s.padEnd(col)).join("")}`);
for (const intervalMs of [...new Set(opt.intervals)]) {
  for (const mode of opt.modes) {
    console.log(`${intervalMs ? `reload every ${intervalMs} ms` : "no reloads"}, ${modeName(mode)}`);
    const rows = [
      ["req/s", (rs) => stat(rs.map((r) => r.w.rps), f0)],
      ["socket errors (connect+read+write+timeout)", (rs) => stat(rs.map((r) => errorsOf(r.w)), f0)],
      ["  of which read", (rs) => stat(rs.map((r) => r.w.read), f0)],
      ["non-2xx/3xx", (rs) => stat(rs.map((r) => r.w.non2xx), f0)],
    ];
    if (intervalMs) {
      rows.push(
        ["reloads done", (rs) => stat(rs.map((r) => r.done), f0)],
        ["reloads requested (of which re-sent)", (rs) => `${stat(rs.map((r) => r.requested), f0)} (${stat(rs.map((r) => r.resent), f0)})`],
        ["reload latency p50 ms", (rs) => stat(rs.filter((r) => r.latencies.length).map((r) => percentile(r.latencies, 50)), f0)],
        ["reload latency p99 ms", (rs) => stat(rs.filter((r) => r.latencies.length).map((r) => percentile(r.latencies, 99)), f0)],
      );
    }
    rows.push(
      ["master fds before -> after", (rs) => rs.map((r) => `${r.before.fds}->${r.after.fds}`).join(" ")],
      ["master RSS MiB before -> after", (rs) => rs.map((r) => `${f1(r.before.rssMiB)}->${f1(r.after.rssMiB)}`).join(" ")],
      ["zombies after", (rs) => rs.map((r) => r.after.zombies).join(" ")],
    );
    for (const [label, fn] of rows) {
      const cells = opt.sides.map((s) => fn(results.filter((r) => r.side === s && r.mode === mode && r.intervalMs === intervalMs)).padEnd(col));
      console.log(`  ${label.padEnd(44)}${cells.join("")}`);
    }
  }
}

if (opt.sides.includes("steward")) {
  const st = results.filter((r) => r.side === "steward");
  const closeRuns = st.filter((r) => r.mode === "close" && r.intervalMs > 0);
  const closeErr = closeRuns.reduce((a, r) => a + errorsOf(r.w) + r.w.non2xx, 0);
  const kaRuns = st.filter((r) => r.mode === "keepalive" && r.intervalMs > 0);
  const kaErr = kaRuns.reduce((a, r) => a + errorsOf(r.w) + r.w.non2xx, 0);
  const lat = st.filter((r) => r.latencies.length).map((r) => percentile(r.latencies, 50));
  console.log(`\ntargets (steward):`);
  if (closeRuns.length) console.log(`  0 errors, new connection per request, while reloading: ${closeErr} ${closeErr === 0 ? "(met)" : "(NOT met)"}`);
  if (kaRuns.length) console.log(`  0 errors, keep-alive, while reloading: ${kaErr} ${kaErr === 0 ? "(met)" : "(NOT met)"}`);
  if (lat.length) console.log(`  reload latency p50 <= 100 ms (Node worker, accepting readiness): median of run p50s ${f0(median(lat))} ms ${median(lat) <= 100 ? "(met)" : "(NOT met)"}`);
  if (lat.length && nodeStart?.loaded.length) {
    console.log(`    of which the Node worker's own start-up under the same load (measured alone, above): p50 ${f0(percentile(nodeStart.loaded, 50))} ms`);
  }
}
process.exit(0);
