#!/usr/bin/env node
// Two supervisors of the very same worker code, side by side: HAProxy 2.6 reloading itself
// (`haproxy -W -S sock -f cfg`, its own master) against steward supervising HAProxy as its
// worker (`steward -l tcp://127.0.0.1:0 -n 1 --stop-signal SIGUSR1 -- haproxy -db -f cfg`,
// the frontend on `bind fd@3`). Both configurations are the same except the bind line;
// HAProxy answers every request itself (`http-request return`), no backend, so nothing
// but the two supervisors differs.
//
// Cells: idle (no load, reloads 200 ms apart), then wrk -t2 -c50 in both client modes
// (new connection per request with `Connection: close`, and keep-alive) with a reload
// every 200 ms and every 50 ms. Every load cell runs both sides one after the other,
// alternated (ABBA...); the idle cell runs them at once and interleaves their reloads one
// by one (runIdlePaired); for --repeats rounds; the summary prints medians over rounds
// (min-max) and steward ÷ HAProxy.
//
// Reload latency = SIGUSR2 sent -> `Loading success.` read from that master's stderr
// (bench/reload-under-load.mjs explains the reloader: re-send after 250 ms without a
// `Reloading` line, HAProxy's SIGUSR2 gate after its wait-mode re-exec). Master peak RSS:
// the highest VmHWM read just before each signal and just after each `Loading success.`
// (both masters re-execute on a reload, which resets VmHWM, so this is per image). Master
// RSS (VmRSS) is read 0.5 s after the start and right after the last reload: both moments
// come before steward's master gives back its start-up pages (a second after a load is
// over, src/master/settle.ts), so idle cells also read it 2.5 s after the last reload
// ("settled"), the RSS an idle master keeps. Each run also prints when each master's own
// log lines came, p50 from the signal. The idle cell also times when the new configuration
// first answers (each reload changes the body HAProxy returns; a probe opens a new
// connection every 0.5 ms until the new body comes): the moment a user sees the reload,
// the same on both sides, where `Loading success.` is not (HAProxy logs it at its fork,
// steward once the new worker accepts). --answers-under-load does it in the load cells with
// reloads 200 ms apart too; the probe then adds its connections and its CPU to the load of
// the sides, not the floor's, and lengthens their reloads (steward's close-200 p50 by ~5 ms).
//
// Each cell of each round also measures the floor (runFloorCell): bench/bare-supervisor.py,
// a supervisor with nothing in it, reloads `haproxy -db` on fd 3 as steward does (a new one
// in a session of its own, wait until it accepts as steward observes it, soft-stop the
// previous one) at the same interval under the same load: spawn -> accepting, what any
// supervisor that starts a fresh worker and waits for it to accept must wait for at
// least, printed ÷ haproxy -W, and steward ÷ floor. HAProxy 2.6's own
// master logs `Loading success.` right after its fork(), before the new worker has started
// its threads or its listeners; steward logs it once the new worker accepts.
//
// --trace (root, tracefs; bench/_trace.mjs) times each idle reload from the kernel's own
// record instead of this script's reads (which lag by up to 5 ms while the probe keeps its
// event loop busy): the signal, the new worker's fork, the moment a new worker puts its
// listener into an epoll set (SPEC §5.2's `accepting`, the same event on both sides), and
// the master's write of `Loading success.`; and prints the bound: steward's worker
// accepting ÷ HAProxy's line, the lowest line ratio a supervisor that writes the line
// once its worker accepts can reach, whatever it does after that. Tracing syscalls slows
// every syscall on the machine a little: both sides' reloads take a few ms longer.
//
// Usage: node bench/supervisors-haproxy.mjs [seconds=10] [--repeats N] [--intervals 200,50]
//          [--modes idle,close,keepalive] [--idle-reloads N] [--baseline BIN] [--answers-under-load] [--trace]
// --baseline BIN: a third side, another steward build (e.g. one from before a change)
// supervising the same HAProxy, in the same rotation.
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fdsOf, listeningInodes, monoMs, reloadTimes, startTrace, traceProblem } from "./_trace.mjs";
import { binary, cleanupOnExit, freePort, median, percentile, portOf, requireBinary, root, runWrk, sleep, startLogged, stopGroup, threadChildren } from "./_lib.mjs";

const argv = process.argv.slice(2);
const opt = { seconds: 10, repeats: 3, intervals: [200, 50], modes: ["idle", "close", "keepalive"], idleReloads: 20, baseline: undefined, answersUnderLoad: false, trace: false };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => argv[++i] ?? usage(`${a} needs a value`);
  if (a === "--repeats") opt.repeats = Number(next());
  else if (a === "--intervals") opt.intervals = next().split(",").map(Number);
  else if (a === "--modes") opt.modes = next().split(",");
  else if (a === "--idle-reloads") opt.idleReloads = Number(next());
  else if (a === "--baseline") opt.baseline = next();
  else if (a === "--answers-under-load") opt.answersUnderLoad = true;
  else if (a === "--trace") opt.trace = true;
  else if (/^\d+(\.\d+)?$/.test(a)) opt.seconds = Number(a);
  else usage(`unknown argument ${a}`);
}
function usage(msg) {
  console.error(`supervisors-haproxy: ${msg}\nusage: node bench/supervisors-haproxy.mjs [seconds=10] [--repeats N] [--intervals 200,50] [--modes idle,close,keepalive] [--idle-reloads N] [--baseline BIN] [--answers-under-load] [--trace]`);
  process.exit(2);
}
if (!(opt.seconds > 0) || !(opt.repeats >= 1) || opt.intervals.some((x) => !(x > 0)) || !(opt.idleReloads >= 1)) usage("bad number");
for (const m of opt.modes) if (!["idle", "close", "keepalive"].includes(m)) usage(`unknown mode ${m}`);
if (opt.trace && traceProblem()) usage(`--trace ${traceProblem()}`);

requireBinary();
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const workDir = mkdtempSync(join(tmpdir(), "steward-supervisors-bench-"));
// The master re-executes its own file on each reload: run a private copy.
const stewardBin = join(workDir, "steward");
copyFileSync(binary, stewardBin);
chmodSync(stewardBin, 0o755);
const baselineBin = join(workDir, "steward-baseline");
if (opt.baseline) copyFileSync(opt.baseline, baselineBin), chmodSync(baselineBin, 0o755);

// ---- bounded: every process started here is in its own group and killed at the end ----
const track = cleanupOnExit([workDir]);
// per cell and round: each side, then the floor
const runsPerCell = (opt.baseline ? 3 : 2) + 1;
const cellsPlanned = opt.repeats * runsPerCell * (opt.modes.filter((m) => m !== "idle").length * opt.intervals.length);
const budgetMs = cellsPlanned * (opt.seconds + 40) * 1000 + opt.repeats * runsPerCell * (opt.idleReloads + 30) * 1000;
setTimeout(() => {
  console.error(`supervisors-haproxy: over the time budget (${(budgetMs / 1000).toFixed(0)} s): killing everything started`);
  process.exit(3);
}, budgetMs).unref();

function haproxyConfig(bind, body = "hello") {
  return [
    "global",
    "    hard-stop-after 30s",
    "defaults",
    "    mode http",
    "    timeout connect 5s",
    "    timeout client 30s",
    "    timeout server 30s",
    "    timeout http-keep-alive 5s",
    "    option idle-close-on-response",
    "frontend fe",
    `    bind ${bind}`,
    `    http-request return status 200 content-type text/plain string "${body}"`,
    "",
  ].join("\n");
}

const status = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return "";
  }
};
const kib = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status(pid))?.[1] ?? NaN);
const usr2Caught = (pid) => (BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(status(pid))?.[1] ?? "0"}`) & (1n << 11n)) !== 0n;

/** A master under test; start() -> { pid, port }. */
const stewardSide = (bin) => (tag) => ({
    reloading: /: Reloading \(/,
    failure: /: Reload failed/,
    steps: [
      ["'Reloading'", /: Reloading \(/],
      ["worker started", /: Worker \d+ \(\d+\) started/],
      ["'re-executed'", /: Master re-executed/],
      ["worker ready", /: Worker \d+ \(\d+\) is ready/],
    ],
    async start(onLine) {
      const cfg = join(workDir, `${tag}-${bin === stewardBin ? "steward" : "baseline"}.cfg`);
      writeFileSync(cfg, haproxyConfig("fd@3"));
      this.rewrite = (body) => writeFileSync(cfg, haproxyConfig("fd@3", body));
      const args = ["-l", "http=tcp://127.0.0.1:0", "-n", "1", "--stop-signal", "SIGUSR1", "--", "haproxy", "-db", "-f", cfg];
      this.s = await startLogged(bin, args, { ready: /Loading success\./, onLine });
      track(this.s.child);
      return { pid: this.s.child.pid, port: portOf(this.s.lines) };
    },
    gate: async () => true,
    stop() {
      // steward's workers are in their own groups; steward stops them (stop-signal, then
      // SIGKILL after its own grace) before it exits
      return stopGroup(this.s.child);
    },
});
const sides = {
  steward: stewardSide(stewardBin),
  ...(opt.baseline ? { baseline: stewardSide(baselineBin) } : {}),
  haproxy: (tag) => ({
    reloading: /: Reloading HAProxy/,
    failure: /Loading failure|Reload failed|waitpid mode/,
    steps: [
      ["'Reloading HAProxy'", /: Reloading HAProxy/],
      ["'New worker forked'", /: New worker \(\d+\) forked/],
    ],
    async start(onLine) {
      const port = await freePort();
      const cfg = join(workDir, `${tag}-haproxy.cfg`);
      writeFileSync(cfg, haproxyConfig(`127.0.0.1:${port}`));
      this.rewrite = (body) => writeFileSync(cfg, haproxyConfig(`127.0.0.1:${port}`, body));
      this.h = await startLogged("haproxy", ["-W", "-S", join(workDir, `${tag}.sock`), "-f", cfg], { ready: /Loading success\./, onLine });
      track(this.h.child);
      await this.gate();
      return { pid: this.h.child.pid, port };
    },
    /** HAProxy 2.6 ignores SIGUSR2 for ~10-20 ms after `Loading success.` (wait-mode re-exec). */
    async gate() {
      const end = performance.now() + 1000;
      while (performance.now() < end) {
        if (usr2Caught(this.h.child.pid)) return true;
        await sleep(1);
      }
      return false;
    },
    stop() {
      return stopGroup(this.h.child);
    },
  }),
};

/**
 * Resolves with the time (performance.now()) of the first answer with `body` on `port`: a
 * new connection and request every 0.5 ms, overlapping, for at most 10 s (then NaN).
 */
function firstAnswer(port, body) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const probe = () => {
      const c = createConnection(port, "127.0.0.1", () => c.write("GET / HTTP/1.0\r\n\r\n"));
      let got = "";
      c.on("data", (d) => {
        got += d;
        if (!done && got.includes(body)) (done = true), resolve(performance.now());
      });
      c.on("error", () => {});
    };
    const tick = () => {
      if (done) return;
      if (performance.now() - t0 > 10_000) return resolve(NaN);
      probe();
      setTimeout(tick, 0.5);
    };
    tick();
  });
}

/** HAProxy processes bare-supervisor.py started and has not reaped: ended at exit if it could not. */
const floorPids = new Set();
process.on("exit", () => {
  for (const pid of floorPids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
});

/**
 * The floor, one cell: bench/bare-supervisor.py does what any supervisor that starts a fresh
 * worker must (start `haproxy -db` on fd 3 in a session of its own, wait until it accepts,
 * soft-stop the previous one) every `intervalMs`, with nothing else, under the same load
 * (idle: for as many reloads as the idle cells). Resolves with each start's ms to accepting.
 */
async function runFloorCell(mode, intervalMs, tag) {
  const cfg = join(workDir, `${tag}-floor.cfg`);
  writeFileSync(cfg, haproxyConfig("fd@3"));
  const seconds = mode === "idle" ? (opt.idleReloads * intervalMs) / 1000 : opt.seconds;
  const sup = track(spawn(PYTHON, [join(root, "bench", "bare-supervisor.py"), cfg, String(intervalMs), String(seconds)], { stdio: ["pipe", "pipe", "inherit"], detached: true }));
  const waiting = [];
  const exited = new Promise((r) => sup.once("exit", r));
  let buf = "";
  sup.stdout.on("data", (d) => {
    buf += d;
    for (let i; (i = buf.indexOf("\n")) >= 0; ) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const [word, rest] = [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)];
      if (word === "pid") floorPids.add(Number(rest));
      else if (word === "reaped") floorPids.delete(Number(rest));
      else waiting.shift()?.({ word, rest });
    }
  });
  const next = (want) =>
    Promise.race([
      new Promise((r) => waiting.push(r)),
      exited.then(() => ({ word: "exit" })),
    ]).then(({ word, rest }) => {
      if (word !== want) throw new Error(`bare-supervisor.py: expected '${want}', got '${word}'`);
      return rest;
    });
  const port = Number(await next("port"));
  const load = mode === "idle" ? undefined : startLoad(mode, port);
  await sleep(Math.min(500, intervalMs));
  sup.stdin.write("go\n");
  const times = JSON.parse(await next("times"));
  await load;
  await exited;
  return times;
}

/** wrk on `port` for opt.seconds in `mode` (runWrk in _lib.mjs). */
const startLoad = (mode, port) => runWrk(port, mode, opt.seconds, track);

/**
 * One side started for a cell: `reload()` sends one SIGUSR2 and resolves with its outcome
 * (latency to `Loading success.`, the steps, idle: when the new configuration first
 * answers), `record(r)` keeps it, `result(extra)` is what the summary reads.
 */
async function openSide(sideName, mode, intervalMs, tag) {
  const side = sides[sideName](tag);
  let outstanding;
  const { pid, port } = await side.start((line, t) => {
    const o = outstanding;
    if (!o) return;
    if (side.reloading.test(line)) o.seen = true;
    side.steps.forEach(([, re], i) => re.test(line) && !o.marks.has(i) && o.marks.set(i, t));
    if (/Loading success\./.test(line)) o.done({ ok: true, t });
    else if (side.failure.test(line)) o.done({ ok: false, t, line });
  });
  let peakHwm = kib(pid, "VmHWM");
  let generation = 0;
  const latencies = [];
  const answers = [];
  const steps = side.steps.map(() => []);
  const failures = [];
  /** --trace, idle: what reloadTimes needs of each reload, read once the cell is over */
  const traced = [];
  return {
    side,
    pid,
    port,
    traced,
    async reload() {
      const before = opt.trace && mode === "idle" ? new Set(threadChildren(pid)) : undefined;
      const o = { seen: false, sentAt: performance.now(), marks: new Map() };
      const result = new Promise((r) => (o.done = r));
      outstanding = o;
      peakHwm = Math.max(peakHwm, kib(pid, "VmHWM"));
      // idle and every 200 ms or more: the configuration answers something new each reload,
      // and a probe times when the new generation first answers it (answered: ms since the
      // last signal sent). Not at 50 ms: HAProxy's next reload comes before its new worker
      // answers, and the probe would time only the reloads that were left alone.
      const body = `generation-${++generation}`;
      let answered;
      if (probed(mode, intervalMs)) {
        side.rewrite(body);
        answered = firstAnswer(port, body).then((t) => t - o.sentAt);
      }
      process.kill(pid, "SIGUSR2");
      let r;
      for (let resent = 0; ; resent++) {
        r = await Promise.race([result, sleep(250).then(() => null)]);
        if (r || o.seen) break;
        if (resent >= 20) return { ok: false, line: "no 'Reloading' line after 20 signals" };
        o.sentAt = performance.now();
        process.kill(pid, "SIGUSR2");
      }
      r ??= await Promise.race([result, sleep(30000).then(() => ({ ok: false, line: "no outcome within 30 s" }))]);
      outstanding = undefined;
      if (before && r.ok) {
        const workers = new Set(threadChildren(pid).filter((c) => !before.has(c)));
        const inodes = listeningInodes(port);
        traced.push({ master: pid, sentMs: monoMs(o.sentAt), doneMs: monoMs(r.t), workers, fds: new Set([...workers].flatMap((w) => fdsOf(w, inodes))) });
      }
      peakHwm = Math.max(peakHwm, kib(pid, "VmHWM"));
      if (r.ok) await side.gate();
      const answer = answered ? await answered : NaN;
      return { ...r, latency: r.t - o.sentAt, answer, steps: side.steps.map((_, i) => (o.marks.has(i) ? o.marks.get(i) - o.sentAt : NaN)) };
    },
    record(r) {
      if (r.ok) latencies.push(r.latency), r.steps.forEach((x, i) => Number.isFinite(x) && steps[i].push(x));
      else failures.push(r.line);
      if (r.ok && Number.isFinite(r.answer)) answers.push(r.answer);
    },
    result(extra) {
      return { side: sideName, mode, intervalMs, latencies, answers, steps, stepNames: side.steps.map(([n]) => n), failures, peakHwm, ...extra };
    },
  };
}

/** Whether a cell times the new configuration's first answer (openSide's reload). */
const probed = (mode, intervalMs) => mode === "idle" || (opt.answersUnderLoad && intervalMs >= 200);

/** One side, one load cell: start, reload every `intervalMs` for the duration under wrk, stop. */
async function runCell(sideName, mode, intervalMs, tag) {
  const s = await openSide(sideName, mode, intervalMs, tag);
  await sleep(500);
  const rss0 = kib(s.pid, "VmRSS");
  const load = startLoad(mode, s.port);
  await sleep(Math.min(500, intervalMs));
  const endAt = performance.now() + opt.seconds * 1000;
  while (performance.now() < endAt) {
    const sentAt = performance.now();
    s.record(await s.reload());
    const next = Math.max(sentAt + intervalMs, performance.now());
    if (next >= endAt) break;
    await sleep(next - performance.now());
  }
  const w = await load;
  const rss1 = kib(s.pid, "VmRSS");
  await s.side.stop();
  return s.result({ w, rss0, rss1, rssSettled: NaN });
}

/**
 * The idle cell, every side at once (idle, each on its own port) and their reloads
 * interleaved one by one in `order`, rotated each time: side after side, each reload
 * `intervalMs` / sides after the last one began (or once it is over), so each side reloads
 * about every `intervalMs` and neighbouring reloads of different sides see the same
 * machine. (Run one after the other, the sides' idle p50s moved by up to 15 ms together
 * with the machine between cells.)
 */
async function runIdlePaired(order, intervalMs, tag) {
  const open = [];
  for (const name of order) open.push(await openSide(name, "idle", intervalMs, tag));
  await sleep(500);
  const rss0 = open.map((s) => kib(s.pid, "VmRSS"));
  const slot = intervalMs / open.length;
  for (let i = 0; i < opt.idleReloads; i++) {
    for (let j = 0; j < open.length; j++) {
      const s = open[(i + j) % open.length];
      const sentAt = performance.now();
      s.record(await s.reload());
      await sleep(Math.max(0, sentAt + slot - performance.now()));
    }
  }
  const rss1 = open.map((s) => kib(s.pid, "VmRSS"));
  const events = trace?.read();
  await sleep(2500);
  const results = open.map((s, i) => s.result({ w: undefined, rss0: rss0[i], rss1: rss1[i], rssSettled: kib(s.pid, "VmRSS"), kernel: events && kernelTimes(events, s.traced) }));
  for (const s of open) await s.side.stop();
  return results;
}

/** --trace: kernel times of a side's reloads, each measure's list of ms from the signal. */
function kernelTimes(events, traced) {
  const out = { log: [], worker: [], accepting: [], logMinusAccepting: [] };
  for (const t of traced) {
    const k = reloadTimes(events, t);
    if (!k) continue;
    for (const key of ["log", "worker", "accepting"]) if (Number.isFinite(k[key])) out[key].push(k[key]);
    if (Number.isFinite(k.log - k.accepting)) out.logMinusAccepting.push(k.log - k.accepting);
  }
  return out;
}
const trace = opt.trace ? startTrace() : undefined;

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : "-");
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const errorsOf = (w) => (w ? w.connect + w.read + w.write + w.timeout + w.non2xx : 0);
const p = (xs, q) => (xs.length ? percentile(xs, q) : NaN);

const haproxyVersion = /version (\S+)/.exec(execFileSync("haproxy", ["-v"], { encoding: "utf8", timeout: 5000 }))?.[1] ?? "?";
console.log(`supervisors on the same worker: HAProxy ${haproxyVersion} on both sides, ${opt.repeats} alternated round(s), wrk -t2 -c50 -d${opt.seconds}s`);
console.log(`  haproxy  haproxy -W -S <sock> -f <cfg>                     (bind 127.0.0.1:PORT)`);
console.log(`  steward  steward -l http=tcp://127.0.0.1:0 -n 1 --stop-signal SIGUSR1 -- haproxy -db -f <cfg>   (bind fd@3)`);
console.log(`  binary ${binary}; latency = SIGUSR2 -> 'Loading success.' on the master's stderr; loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);

/** [steal, total] jiffies of /proc/stat's cpu line: time the hypervisor gave to others */
const cpuTimes = () => {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return [f[7] ?? 0, f.reduce((a, b) => a + b, 0)];
};
const cpuAtStart = cpuTimes();
const cells = [];
for (const mode of opt.modes) for (const iv of mode === "idle" ? [200] : opt.intervals) cells.push({ mode, iv });
const results = [];
/** per cell ("mode/interval"), per round: p50 of haproxy -db started alone (the floor) */
const floors = new Map();
const floorOf = (mode, iv) => floors.get(`${mode}/${iv}`) ?? [];
let k = 0;
for (let round = 1; round <= opt.repeats; round++) {
  for (const { mode, iv } of cells) {
    // each side first, in turn: ABBA with two sides, a rotation with three
    const names = Object.keys(sides);
    const order = names.length === 2 ? (k % 2 === 0 ? names : [...names].reverse()) : names.map((_, i) => names[(i + k) % names.length]);
    k++;
    const ran = mode === "idle" ? await runIdlePaired(order, iv, `r${round}-${mode}-${iv}`) : [];
    for (const s of order) {
      const r = mode === "idle" ? ran.find((x) => x.side === s) : await runCell(s, mode, iv, `r${round}-${mode}-${iv}`);
      results.push(r);
      const w = r.w;
      console.log(
        `[${round}] ${mode.padEnd(9)} ${String(iv).padStart(3)} ms ${s.padEnd(8)} reloads ${r.latencies.length} (failed ${r.failures.length}) p50 ${f0(p(r.latencies, 50))} p99 ${f0(p(r.latencies, 99))} ms` +
          (w ? `; ${f0(w.rps)} req/s, errors ${errorsOf(w)} (connect ${w.connect} read ${w.read} write ${w.write} timeout ${w.timeout} non-2xx ${w.non2xx})` : "") +
          `; master RSS ${f0(r.rss0 / 1024)}->${f0(r.rss1 / 1024)} MiB${Number.isFinite(r.rssSettled) ? ` (settled ${f0(r.rssSettled / 1024)})` : ""}, peak ${f0(r.peakHwm / 1024)} MiB` +
          (r.failures.length ? `; ${r.failures[0]}` : ""),
      );
      console.log(`${"".padEnd(25)}p50 ms from the signal to: ${r.stepNames.map((n, i) => `${n} ${f0(p(r.steps[i], 50))}`).join(", ")}${r.answers.length ? `, new configuration answers ${f0(p(r.answers, 50))}` : ""}`);
      if (r.kernel) {
        const k = r.kernel;
        console.log(`${"".padEnd(25)}kernel, p50 ms from the signal to: new worker forked ${f2(p(k.worker, 50))}, its listener in epoll (accepting) ${f2(p(k.accepting, 50))}, 'Loading success.' written ${f2(p(k.log, 50))}; written - accepting ${f2(p(k.logMinusAccepting, 50))} (${k.accepting.length} of ${r.latencies.length} reloads traced)`);
      }
    }
    const tag = `r${round}-${mode}-${iv}`;
    const times = await runFloorCell(mode, iv, tag);
    floors.set(`${mode}/${iv}`, [...floorOf(mode, iv), p(times, 50)]);
    console.log(`[${round}] ${mode.padEnd(9)} ${String(iv).padStart(3)} ms floor    bare-supervisor.py: spawn -> accepting p50 ${f0(p(times, 50))} ms (min ${f0(Math.min(...times))}, max ${f0(Math.max(...times))}, ${times.length} starts)`);
  }
}

const stat = (xs, fmt = f0) => (xs.length ? `${fmt(median(xs))} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})` : "-");
console.log(`\nsummary: medians over ${opt.repeats} round(s) (min-max); ratio = steward (or baseline) ÷ haproxy of the medians${opt.baseline ? `; baseline ${opt.baseline}` : ""}`);
console.log(`${"".padEnd(34)}${"steward".padEnd(22)}${"haproxy -W".padEnd(22)}${"ratio".padEnd(8)}${opt.baseline ? `${"baseline".padEnd(22)}ratio` : ""}`);
for (const { mode, iv } of cells) {
  const of = (s) => results.filter((r) => r.side === s && r.mode === mode && r.intervalMs === iv);
  const name = mode === "idle" ? `idle, ${opt.idleReloads} reloads ${iv} ms apart` : `${mode === "close" ? "new conn/request" : "keep-alive"}, every ${iv} ms`;
  console.log(name);
  const rows = [
    ["reload p50 ms", (rs) => rs.map((r) => p(r.latencies, 50))],
    ["reload p99 ms", (rs) => rs.map((r) => p(r.latencies, 99))],
    ...(probed(mode, iv) ? [["new config answers, p50 ms", (rs) => rs.map((r) => p(r.answers, 50))], ["new config answers, p99 ms", (rs) => rs.map((r) => p(r.answers, 99))]] : []),
    ["reloads done", (rs) => rs.map((r) => r.latencies.length)],
    ["failed reloads", (rs) => rs.map((r) => r.failures.length)],
    ...(mode === "idle" ? [] : [["req/s", (rs) => rs.map((r) => r.w.rps)], ["errors (socket + non-2xx)", (rs) => rs.map((r) => errorsOf(r.w))]]),
    ...(mode === "idle" && opt.trace
      ? [
          ["kernel: new worker forked", (rs) => rs.map((r) => p(r.kernel.worker, 50))],
          ["kernel: new worker accepting", (rs) => rs.map((r) => p(r.kernel.accepting, 50))],
          ["kernel: 'Loading success.'", (rs) => rs.map((r) => p(r.kernel.log, 50))],
          ["kernel: logged - accepting", (rs) => rs.map((r) => p(r.kernel.logMinusAccepting, 50)), f2],
        ]
      : []),
    ["master peak RSS MiB (VmHWM)", (rs) => rs.map((r) => r.peakHwm / 1024)],
    ...(mode === "idle" ? [["master RSS MiB, settled", (rs) => rs.map((r) => r.rssSettled / 1024)]] : []),
  ];
  for (const [label, fn, fmt = f0] of rows) {
    const a = fn(of("steward"));
    const b = fn(of("haproxy"));
    const c = opt.baseline ? fn(of("baseline")) : undefined;
    // a difference that can be negative has no ratio
    const ratio = (x) => (median(b) > 0 ? f2(median(x) / median(b)) : "-");
    console.log(`  ${label.padEnd(32)}${stat(a, fmt).padEnd(22)}${stat(b, fmt).padEnd(22)}${ratio(a).padEnd(8)}${c ? `${stat(c, fmt).padEnd(22)}${ratio(c)}` : ""}`);
  }
  if (mode === "idle" && opt.trace) {
    // no supervisor that writes the line once its worker accepts (SPEC §5.2) can write it
    // before its worker accepts: steward's worker accepting ÷ HAProxy's line is the lowest
    // line ratio such a supervisor can reach, whatever it does after the worker accepts
    const acc = median(of("steward").map((r) => p(r.kernel.accepting, 50)));
    const line = median(of("haproxy").map((r) => p(r.kernel.log, 50)));
    console.log(`  ${"bound: worker accepting ÷ line".padEnd(32)}${f2(acc / line)}  (steward's worker accepting ÷ haproxy -W's 'Loading success.', kernel times)`);
  }
  const floor = floorOf(mode, iv);
  if (floor.length) {
    const b = of("haproxy").map((r) => p(r.latencies, 50));
    const a = of("steward").map((r) => p(r.latencies, 50));
    console.log(`  ${"floor (bare supervisor) p50 ms".padEnd(32)}${stat(floor).padEnd(22)}${"".padEnd(22)}${f2(median(floor) / median(b))}    (the floor: ÷ haproxy -W; steward ÷ floor ${f2(median(a) / median(floor))})`);
  }
}
const [steal1, total1] = cpuTimes();
console.log(`\nCPU steal (the hypervisor's other guests) during the run: ${(((steal1 - cpuAtStart[0]) / Math.max(1, total1 - cpuAtStart[1])) * 100).toFixed(2)} % of all CPU time`);
process.exit(0);
