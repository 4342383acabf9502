#!/usr/bin/env node
// The master's own CPU per reload, for dist/steward and --baseline BIN (e.g. a build from
// before a change), alternated (ABBA...) for --rounds rounds; medians over rounds of the
// per-reload medians. The worker is `haproxy -db` on `bind fd@3` (as in
// bench/supervisors-haproxy.mjs); without haproxy, `python3 -m http.server` on fd 3.
//
// Per reload (SIGUSR2, --reloads of them --gap ms apart, long enough for the re-exec that
// follows a reload of an unchanged binary once reloads are quiet, src/master/reloader.ts):
// - on the reload's path: the master's CPU time (every thread: /proc/PID/task/*/schedstat,
//   ns) from the signal to its `Loading success.` line: what competes with the new
//   worker's start on a loaded machine;
// - whole: from the signal until just before the next one, the re-exec included.
//
// Usage: node bench/reload-cpu.mjs [--rounds 3] [--reloads 15] [--gap 1500] [--baseline BIN]
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { binary, cleanupOnExit, fd3Worker, median, requireBinary, sleep, startLogged, stopGroup } from "./_lib.mjs";

let values;
try {
  ({ values } = parseArgs({
    options: { rounds: { type: "string", default: "3" }, reloads: { type: "string", default: "15" }, gap: { type: "string", default: "1500" }, baseline: { type: "string" } },
  }));
} catch (e) {
  usage(e.message);
}
const opt = { rounds: Number(values.rounds), reloads: Number(values.reloads), gap: Number(values.gap), baseline: values.baseline };
function usage(msg) {
  console.error(`reload-cpu: ${msg}\nusage: node bench/reload-cpu.mjs [--rounds 3] [--reloads 15] [--gap 1500] [--baseline BIN]`);
  process.exit(2);
}
if (![opt.rounds, opt.reloads, opt.gap].every((n) => Number.isInteger(n) && n >= 1)) usage("bad number");

requireBinary();
const workDir = mkdtempSync(join(tmpdir(), "steward-reload-cpu-"));
const track = cleanupOnExit([workDir]);
// the master re-executes its own file: private copies
const sides = { steward: join(workDir, "steward") };
copyFileSync(binary, sides.steward);
if (opt.baseline) copyFileSync(opt.baseline, (sides.baseline = join(workDir, "baseline")));
for (const bin of Object.values(sides)) chmodSync(bin, 0o755);
const budgetMs = opt.rounds * Object.keys(sides).length * (opt.reloads * (opt.gap + 10000) + 30000);
setTimeout(() => {
  console.error(`reload-cpu: over the time budget (${(budgetMs / 1000).toFixed(0)} s): killing everything started`);
  process.exit(3);
}, budgetMs).unref();

const worker = fd3Worker(workDir);
const runArgs = ["-l", "http=tcp://127.0.0.1:0", "-n", "1", ...worker];

/** CPU ms of every thread of `pid` so far. */
function cpuMs(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that just ended
    }
  }
  return ns / 1e6;
}

async function measure(bin) {
  let outstanding;
  const s = await startLogged(bin, runArgs, {
    ready: /Loading success\./,
    onLine: (line) => {
      if (outstanding && /Loading success\.|Reload failed/.test(line)) outstanding(line);
    },
  });
  track(s.child);
  const pid = s.child.pid;
  await sleep(opt.gap);
  const path = [];
  const whole = [];
  let reexecs = 0;
  for (let i = 0; i < opt.reloads; i++) {
    const c0 = cpuMs(pid);
    const done = new Promise((r) => (outstanding = r));
    const before = s.lines.length;
    process.kill(pid, "SIGUSR2");
    const line = await Promise.race([done, sleep(10000).then(() => "no outcome within 10 s")]);
    outstanding = undefined;
    if (!/Loading success/.test(line)) throw new Error(`reload ${i + 1}: ${line}\n${s.lines.slice(-20).join("\n")}`);
    path.push(cpuMs(pid) - c0);
    await sleep(opt.gap);
    whole.push(cpuMs(pid) - c0);
    if (s.lines.slice(before).some((l) => /: Master re-executed/.test(l))) reexecs++;
  }
  await stopGroup(s.child);
  return { path: median(path), whole: median(whole), reexecs };
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
console.log(`reload-cpu: ${opt.rounds} alternated round(s), ${opt.reloads} reloads ${opt.gap} ms apart per side and round`);
console.log(`  worker: ${worker.slice(worker.indexOf("--") + 1).join(" ")}; loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
const results = Object.fromEntries(Object.keys(sides).map((n) => [n, []]));
const names = Object.keys(sides);
for (let round = 1; round <= opt.rounds; round++) {
  const order = round % 2 === 1 ? names : [...names].reverse();
  for (const name of order) {
    const r = await measure(sides[name]);
    results[name].push(r);
    console.log(`[${round}] ${name.padEnd(8)} master CPU per reload: signal -> 'Loading success.' ${f1(r.path)} ms, whole ${f1(r.whole)} ms; reloads followed by a re-exec ${r.reexecs}/${opt.reloads}`);
  }
}
console.log(`\nsummary: medians over ${opt.rounds} round(s) (min-max)${opt.baseline ? `; baseline ${opt.baseline}` : ""}`);
const cell = (xs) => `${f1(median(xs))} (${f1(Math.min(...xs))}-${f1(Math.max(...xs))})`;
console.log(`${"".padEnd(44)}${names.map((n) => n.padEnd(22)).join("")}`);
for (const [label, key] of [["master CPU, signal -> 'Loading success.' ms", "path"], ["master CPU per reload, re-exec included ms", "whole"]]) {
  console.log(`${label.padEnd(44)}${names.map((n) => cell(results[n].map((r) => r[key])).padEnd(22)).join("")}`);
}
process.exit(0);
