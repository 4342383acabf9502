#!/usr/bin/env node
// The compiled master's memory and idle CPU as a user sees them (`ps`, `top`: VmRSS), with 4
// Node workers, through a realistic life: started, used through the master CLI, reloaded.
//
// RSS is VmRSS from /proc/PID/status, split into RssAnon (the runtime's heap) and RssFile
// (pages of the executable and libraries mapped in), with Pss from /proc/PID/smaps_rollup
// (file pages shared with other processes counted in part). It depends on when it is read:
// each load maps in ~35 MiB of the ~110 MB executable, and a second after the load the
// master gives back what idle does not need (README, "Memory"; src/master/settle.ts), and
// again 5 s after master CLI use. So each phase is read both at once and settled:
//   start      2.5 s after `Loading success.` (settled); "peak" = VmHWM then: the start-up's
//   cli        right after 40 master CLI commands (`show proc`, `show info`), then 6 s later
//   reloads    RELOADS reloads (SIGUSR2, each waiting for `Loading success.`, 2 s apart);
//              peak = the highest VmHWM read just before each signal and just after each
//              `Loading success.`: a reload re-executes the master (same PID), and a new
//              image starts with a fresh VmHWM, so this is the peak of each image's start,
//              the reload's own, and not the peak of an earlier one; then settled, 2.5 s
//              after the last reload
//   idle CPU   utime+stime (/proc/PID/stat) over IDLE seconds after the reloads, last round
// The preflight child of each reload (a second, short-lived process of the same binary) is
// not the master and is not counted here.
//
// Usage: node bench/memory-cpu.mjs [idle-seconds=60] [--rounds N=3] [--reloads N=5] [--baseline BIN]
// --baseline BIN: the same with another build, alternated round by round (A/B).
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, cpuTicks, median, requireBinary, root, sleep, startSteward, stopGroup } from "./_lib.mjs";

const argv = process.argv.slice(2);
const opt = { idle: 60, rounds: 3, reloads: 5, baseline: undefined };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => argv[++i] ?? usage(`${a} needs a value`);
  if (a === "--rounds") opt.rounds = Number(next());
  else if (a === "--reloads") opt.reloads = Number(next());
  else if (a === "--baseline") opt.baseline = next();
  else if (/^\d+(\.\d+)?$/.test(a)) opt.idle = Number(a);
  else usage(`unknown argument ${a}`);
}
function usage(msg) {
  console.error(`memory-cpu: ${msg}\nusage: node bench/memory-cpu.mjs [idle-seconds=60] [--rounds N] [--reloads N] [--baseline BIN]`);
  process.exit(2);
}
if (!(opt.idle > 0) || !(opt.rounds >= 1) || !(opt.reloads >= 1)) usage("bad number");

requireBinary();
const dir = mkdtempSync(join(tmpdir(), "steward-memory-"));
// the master re-executes its own file on each reload: private copies
const bins = { steward: join(dir, "steward") };
copyFileSync(binary, bins.steward);
if (opt.baseline) (bins.baseline = join(dir, "steward-baseline")), copyFileSync(opt.baseline, bins.baseline);
for (const b of Object.values(bins)) chmodSync(b, 0o755);

/** One master CLI command on a connection of its own; resolves with the reply. */
function cli(socket, command) {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let reply = "";
    c.on("data", (d) => (reply += d));
    c.on("end", () => resolve(reply));
    c.on("error", reject);
    c.end(`${command}\n`);
  });
}

const kib = (re, text) => Number(re.exec(text)?.[1] ?? NaN);
/** VmRSS and its split, Pss, VmHWM, in MiB */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  let pss = NaN;
  try {
    pss = kib(/^Pss:\s+(\d+) kB/m, readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  } catch {}
  const mib = (x) => x / 1024;
  return {
    rss: mib(kib(/VmRSS:\s+(\d+) kB/, status)),
    anon: mib(kib(/RssAnon:\s+(\d+) kB/, status)),
    file: mib(kib(/RssFile:\s+(\d+) kB/, status)),
    pss: mib(pss),
    hwm: mib(kib(/VmHWM:\s+(\d+) kB/, status)),
  };
}

/** Waits for a stderr line matching `re` at index `from` or later; returns its index. */
async function lineFrom(lines, re, from, timeoutMs = 30000) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    for (let i = from; i < lines.length; i++) if (re.test(lines[i])) return i;
    if (performance.now() > end) throw new Error(`no ${re} within ${timeoutMs} ms:\n${lines.slice(-20).join("\n")}`);
    await sleep(5);
  }
}

async function round(side, measureCpu) {
  const socket = join(dir, `${side}.sock`);
  const args = ["-l", "http=tcp://127.0.0.1:0", "-n", "4", "-S", socket, "--", "node", join(root, "bench", "worker.cjs")];
  const s = await startSteward(args, { bin: bins[side] });
  const pid = s.child.pid;
  try {
    const r = {};
    await sleep(2500);
    r.start = memory(pid);
    for (let i = 0; i < 20; i++) await cli(socket, "show proc"), await cli(socket, "show info");
    r.cliNow = memory(pid);
    await sleep(6000);
    r.cli = memory(pid);
    let peak = 0;
    let from = s.lines.length;
    for (let i = 0; i < opt.reloads; i++) {
      peak = Math.max(peak, memory(pid).hwm);
      process.kill(pid, "SIGUSR2");
      from = (await lineFrom(s.lines, /Loading success\./, from)) + 1;
      peak = Math.max(peak, memory(pid).hwm);
      if (i < opt.reloads - 1) await sleep(2000);
    }
    r.reloadPeak = peak;
    r.reloadNow = memory(pid);
    await sleep(2500);
    r.reloads = memory(pid);
    if (measureCpu) {
      const t0 = cpuTicks(pid);
      const w0 = performance.now();
      await sleep(opt.idle * 1000);
      const ticks = cpuTicks(pid) - t0;
      const secs = (performance.now() - w0) / 1000;
      r.cpu = { ticks, secs, pct: (ticks / 100 / secs) * 100 };
      r.idle = memory(pid);
    }
    return r;
  } finally {
    await stopGroup(s.child);
  }
}

const sides = Object.keys(bins);
const results = Object.fromEntries(sides.map((s) => [s, []]));
for (let i = 0; i < opt.rounds; i++) {
  const order = i % 2 ? [...sides].reverse() : sides;
  for (const side of order) results[side].push(await round(side, i === opt.rounds - 1));
}
rmSync(dir, { recursive: true, force: true });

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const stat = (xs) => `${f1(median(xs))} (${f1(Math.min(...xs))}-${f1(Math.max(...xs))})`;
const row = (rs, phase) =>
  `VmRSS ${stat(rs.map((r) => r[phase].rss))}  RssAnon ${f1(median(rs.map((r) => r[phase].anon)))}  RssFile ${f1(median(rs.map((r) => r[phase].file)))}  Pss ${f1(median(rs.map((r) => r[phase].pss)))}`;
console.log(`master memory, MiB, medians of ${opt.rounds} round(s) (min-max); 4 Node workers; ${opt.reloads} reloads 2 s apart; loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
for (const side of sides) {
  const rs = results[side];
  console.log(`${side}${side === "baseline" ? ` (${opt.baseline})` : ` (${binary})`}`);
  console.log(`  idle after start (settled)          ${row(rs, "start")}`);
  console.log(`  peak during start (VmHWM)           ${stat(rs.map((r) => r.start.hwm))}`);
  console.log(`  right after 40 master CLI commands  ${row(rs, "cliNow")}`);
  console.log(`  6 s after them (settled)            ${row(rs, "cli")}`);
  console.log(`  peak during a reload (VmHWM/image)  ${stat(rs.map((r) => r.reloadPeak))}`);
  console.log(`  right after the last reload         ${row(rs, "reloadNow")}`);
  console.log(`  idle after ${opt.reloads} reloads (settled)     ${row(rs, "reloads")}  (target VmRSS <= 30)`);
  const last = rs[rs.length - 1];
  console.log(
    `  idle CPU after the reloads          ${last.cpu.ticks} ticks over ${last.cpu.secs.toFixed(1)} s = ${last.cpu.pct.toFixed(3)} % of a core (target < 0.5 %); VmRSS then ${f1(last.idle.rss)}`,
  );
}
