#!/usr/bin/env node
// What a reload costs steward itself, apart from the worker: the two runs of its own
// binary on a reload's critical path, for dist/steward and --baseline BIN (e.g. a build
// from before a change), alternated (ABBA...) for --rounds rounds; medians over rounds.
//
// 1. The preflight child (`steward __preflight FORMAT NONCE run --check ARGS...`,
//    src/cli/preflight-child.ts), --spawns runs in a row: wall time per run (median) and CPU
//    per run (this process's reaped children's utime+stime, /proc/self/stat, over all
//    runs). `BUN_BE_BUN=1 steward -e 0`, the bare runtime inside the binary, is the floor.
// 2. The re-exec: `steward -f steward.toml -l http=tcp://127.0.0.1:0 -n 1 -- WORKER`, --reloads
//    SIGUSR2 reloads 250 ms apart, the (empty) file touched before each: a changed file is
//    checked and the master re-executes at once, the path this measures (an unchanged one
//    is loaded by the running image, which re-executes only once reloads are quiet:
//    bench/reload-cpu.mjs). Per reload, ms from 'Worker N started' (the early start of the
//    next generation, just before the master's execve) to 'Master re-executed' (the new
//    image has adopted it) and to 'is ready' (its first successful readiness poll); the
//    master's own CPU per reload (utime+stime of its PID across all images, /proc/PID/stat,
//    over all reloads; the preflight and the workers are children, not counted); and the
//    master's peak RSS (VmHWM, per image: read before each signal and after each load).
// The worker is `haproxy -db` on `bind fd@3` (as in bench/supervisors-haproxy.mjs); without
// haproxy, `python3 -m http.server` on fd 3.
//
// Usage: node bench/reexec-cost.mjs [--rounds 3] [--spawns 30] [--reloads 15] [--baseline BIN]
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, cleanupOnExit, fd3Worker, median, requireBinary, sleep, startLogged, stopGroup } from "./_lib.mjs";

const argv = process.argv.slice(2);
const opt = { rounds: 3, spawns: 30, reloads: 15, baseline: undefined };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[++i];
  if (v === undefined) usage(`${a} needs a value`);
  if (a === "--rounds") opt.rounds = Number(v);
  else if (a === "--spawns") opt.spawns = Number(v);
  else if (a === "--reloads") opt.reloads = Number(v);
  else if (a === "--baseline") opt.baseline = v;
  else usage(`unknown argument ${a}`);
}
function usage(msg) {
  console.error(`reexec-cost: ${msg}\nusage: node bench/reexec-cost.mjs [--rounds 3] [--spawns 30] [--reloads 15] [--baseline BIN]`);
  process.exit(2);
}
if (![opt.rounds, opt.spawns, opt.reloads].every((n) => Number.isInteger(n) && n >= 1)) usage("bad number");
requireBinary();

const workDir = mkdtempSync(join(tmpdir(), "steward-reexec-bench-"));
// The master re-executes its own file on each reload: run private copies.
const sides = { new: join(workDir, "steward") };
copyFileSync(binary, sides.new);
if (opt.baseline) (sides.baseline = join(workDir, "steward-baseline")), copyFileSync(opt.baseline, sides.baseline);
for (const bin of Object.values(sides)) chmodSync(bin, 0o755);

const track = cleanupOnExit([workDir]);
const budgetMs = opt.rounds * Object.keys(sides).length * (opt.spawns * 2 * 200 + opt.reloads * 3000 + 30000);
setTimeout(() => {
  console.error(`reexec-cost: over the time budget (${(budgetMs / 1000).toFixed(0)} s): killing everything started`);
  process.exit(3);
}, budgetMs).unref();

const worker = fd3Worker(workDir);
const runArgs = ["-l", "http=tcp://127.0.0.1:0", "-n", "1", ...worker];

const TICK_MS = 10; // USER_HZ = 100 on Linux
const ticksOf = (statText, first) => {
  const f = statText.slice(statText.lastIndexOf(")") + 2).split(" ");
  return Number(f[first]) + Number(f[first + 1]);
};
const childTicks = () => ticksOf(readFileSync("/proc/self/stat", "utf8"), 13); // cutime + cstime
const ownTicks = (pid) => ticksOf(readFileSync(`/proc/${pid}/stat`, "utf8"), 11); // utime + stime
const hwmKiB = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);

/** wall ms per run (median) and CPU ms per run (mean over the runs) of `bin args`. */
function runs(bin, args, env = {}) {
  const walls = [];
  const c0 = childTicks();
  for (let i = 0; i < opt.spawns; i++) {
    const t0 = performance.now();
    const r = spawnSync(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"], timeout: 10000 });
    walls.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${bin} ${args.join(" ")}: exit ${r.status ?? r.signal}: ${r.stderr}`);
  }
  return { wall: median(walls), cpu: ((childTicks() - c0) * TICK_MS) / opt.spawns };
}

function preflight(bin) {
  const nonce = "0123456789abcdef0123456789abcdef";
  return {
    bare: runs(bin, ["-e", "0"], { BUN_BE_BUN: "1" }),
    preflight: runs(bin, ["__preflight", "1", nonce, "run", "--check", ...runArgs]),
  };
}

async function reexec(bin) {
  let outstanding;
  const file = join(workDir, "steward.toml");
  writeFileSync(file, "");
  const s = await startLogged(bin, ["-f", file, ...runArgs], {
    ready: /Loading success\./,
    onLine: (line, t) => {
      const o = outstanding;
      if (!o) return;
      if (/: Worker \d+ \(\d+\) started/.test(line)) o.started ??= t;
      else if (/: Master re-executed/.test(line)) o.reexecuted ??= t;
      else if (/: Worker \d+ \(\d+\) is ready/.test(line)) o.ready ??= t;
      else if (/Loading success\.|Reload failed/.test(line)) o.done(line);
    },
  });
  track(s.child);
  const pid = s.child.pid;
  await sleep(300);
  const toReexec = [];
  const toReady = [];
  let peak = hwmKiB(pid);
  const t0 = ownTicks(pid);
  for (let i = 0; i < opt.reloads; i++) {
    const o = {};
    const done = new Promise((r) => (o.done = r));
    outstanding = o;
    peak = Math.max(peak, hwmKiB(pid));
    const now = new Date();
    utimesSync(file, now, now);
    process.kill(pid, "SIGUSR2");
    const line = await Promise.race([done, sleep(10000).then(() => "no outcome within 10 s")]);
    outstanding = undefined;
    peak = Math.max(peak, hwmKiB(pid));
    if (!/Loading success/.test(line)) throw new Error(`reload ${i + 1}: ${line}\n${s.lines.slice(-20).join("\n")}`);
    toReexec.push(o.reexecuted - o.started);
    toReady.push(o.ready - o.started);
    await sleep(250);
  }
  const cpu = ((ownTicks(pid) - t0) * TICK_MS) / opt.reloads;
  await stopGroup(s.child);
  return { reexec: median(toReexec), ready: median(toReady), cpu, peakMiB: peak / 1024 };
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
console.log(`reexec-cost: ${opt.rounds} alternated round(s); preflight ${opt.spawns} runs, re-exec ${opt.reloads} reloads per side and round`);
console.log(`  worker: ${worker.slice(worker.indexOf("--") + 1).join(" ")}; loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
const results = [];
const names = Object.keys(sides);
for (let round = 1; round <= opt.rounds; round++) {
  const order = round % 2 ? names : [...names].reverse();
  for (const name of order) {
    const p = preflight(sides[name]);
    const r = await reexec(sides[name]);
    results.push({ name, ...p, ...r });
    console.log(
      `[${round}] ${name.padEnd(8)} bare runtime ${f1(p.bare.wall)} ms wall ${f1(p.bare.cpu)} ms CPU; preflight ${f1(p.preflight.wall)} ms wall ${f1(p.preflight.cpu)} ms CPU; ` +
        `'started'->'re-executed' ${f1(r.reexec)} ms, ->'ready' ${f1(r.ready)} ms; master CPU ${f1(r.cpu)} ms/reload; peak RSS ${f1(r.peakMiB)} MiB`,
    );
  }
}

const stat = (xs) => `${f1(median(xs))} (${f1(Math.min(...xs))}-${f1(Math.max(...xs))})`;
console.log(`\nsummary: medians over ${opt.rounds} round(s) (min-max)${opt.baseline ? `; baseline ${opt.baseline}` : ""}`);
console.log(`${"".padEnd(44)}${names.map((n) => n.padEnd(22)).join("")}${opt.baseline ? "new ÷ baseline" : ""}`);
const rows = [
  ["bare runtime (-e 0) wall ms", (r) => r.bare.wall],
  ["bare runtime (-e 0) CPU ms", (r) => r.bare.cpu],
  ["preflight wall ms", (r) => r.preflight.wall],
  ["preflight CPU ms", (r) => r.preflight.cpu],
  ["'started' -> 're-executed' p50 ms", (r) => r.reexec],
  ["'started' -> 'ready' p50 ms", (r) => r.ready],
  ["master CPU ms per reload", (r) => r.cpu],
  ["master peak RSS MiB", (r) => r.peakMiB],
];
for (const [label, fn] of rows) {
  const cols = names.map((n) => results.filter((r) => r.name === n).map(fn));
  const ratio = opt.baseline ? (median(cols[0]) / median(cols[1])).toFixed(2) : "";
  console.log(`  ${label.padEnd(42)}${cols.map((c) => stat(c).padEnd(22)).join("")}${ratio}`);
}
process.exit(0);
