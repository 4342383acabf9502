#!/usr/bin/env node
// CPU per child start of steward's exec helpers: what runs between fork and the worker's
// exec. Three ways to start /bin/true, alternated, --rounds rounds of --spawns each; the CPU
// is this process's reaped children's (utime+stime of the children, /proc/self/stat), so it
// counts the helper and /bin/true; "direct" (/bin/true alone) is subtracted.
//   shim     `steward __exec` (src/workers/shim.ts): a whole compiled Bun start
//   native   the static helper (src/workers/exec-helper.c), as scripts/build.mjs built it
// Then as a user sees it: `steward -n N --ready spawn -- sleep 600` started and stopped,
// the CPU of the master and everything it started, for dist/steward and --baseline BINARY
// (e.g. a build from before the native helper), alternated.
// Usage: node bench/exec-helper.mjs [--spawns 100] [--rounds 3] [--workers 32] [--baseline PATH]
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { binary, median, requireBinary, root, startSteward, stopGroup } from "./_lib.mjs";

const argv = process.argv.slice(2);
const opt = { spawns: 100, rounds: 3, workers: 32, baseline: undefined };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[++i];
  if (v === undefined) usage(`${a} needs a value`);
  if (a === "--spawns") opt.spawns = Number(v);
  else if (a === "--rounds") opt.rounds = Number(v);
  else if (a === "--workers") opt.workers = Number(v);
  else if (a === "--baseline") opt.baseline = v;
  else usage(`unknown argument ${a}`);
}
function usage(msg) {
  console.error(`exec-helper: ${msg}\nusage: node bench/exec-helper.mjs [--spawns 100] [--rounds 3] [--workers 32] [--baseline PATH]`);
  process.exit(2);
}
if (!(opt.spawns >= 1 && opt.rounds >= 1 && opt.workers >= 1)) usage("bad number");
requireBinary();
if (opt.baseline && !existsSync(opt.baseline)) usage(`--baseline ${opt.baseline}: no such file`);
const helperDir = join(root, "dist", ".exec-helper");
const helper = existsSync(helperDir)
  ? readdirSync(helperDir).map((t) => join(helperDir, t, "steward-exec-helper")).find(existsSync)
  : undefined;

const TICK_MS = 10; // USER_HZ = 100 on Linux
function childTicks() {
  const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return Number(f[13]) + Number(f[14]); // cutime + cstime
}

/** ms of CPU and of wall time per start, over opt.spawns sequential starts of `cmd args`. */
function measure(cmd, args, env) {
  const c0 = childTicks();
  const t0 = performance.now();
  for (let i = 0; i < opt.spawns; i++) {
    const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"], timeout: 10000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status ?? r.signal}: ${r.stderr}`);
  }
  return { cpu: ((childTicks() - c0) * TICK_MS) / opt.spawns, wall: (performance.now() - t0) / opt.spawns };
}

const plan = { path: "/bin/true", argv: ["true"], parent: process.pid, deathSignal: 9, listenFds: 0, label: "worker 1" };
const ways = {
  direct: () => measure("/bin/true", [], {}),
  shim: () => measure(binary, ["__exec"], { STEWARD_EXEC_PLAN: JSON.stringify(plan) }),
  ...(helper ? { native: () => measure(helper, [String(process.pid), "9", "0", "", "", "worker 1", "/bin/true", "true"], {}) } : {}),
};
if (!helper) console.log(`(no ${helperDir}/*/steward-exec-helper: run 'npm run build' with gcc and libc6-dev for the native helper)`);

const samples = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
for (let r = 0; r < opt.rounds; r++) {
  const order = r % 2 ? Object.keys(ways).reverse() : Object.keys(ways);
  for (const k of order) samples[k].push(ways[k]());
}
const f2 = (x) => x.toFixed(2);
const direct = median(samples.direct.map((s) => s.cpu));
console.log(`per start of /bin/true, ${opt.spawns} starts x ${opt.rounds} alternated rounds, medians (min-max); loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
for (const [k, xs] of Object.entries(samples)) {
  const cpu = xs.map((s) => s.cpu);
  const wall = xs.map((s) => s.wall);
  const own = k === "direct" ? "" : `; the helper's own CPU ${f2(median(cpu) - direct)} ms`;
  console.log(`  ${k.padEnd(7)} CPU ${f2(median(cpu))} ms (${f2(Math.min(...cpu))}-${f2(Math.max(...cpu))}), wall ${f2(median(wall))} ms (${f2(Math.min(...wall))}-${f2(Math.max(...wall))})${own}`);
}

// ---- as a user sees it: a master starting N workers ----
const binaries = { current: binary, ...(opt.baseline ? { baseline: opt.baseline } : {}) };
const totals = Object.fromEntries(Object.keys(binaries).map((k) => [k, []]));
for (let r = 0; r < opt.rounds; r++) {
  const order = r % 2 ? Object.keys(binaries).reverse() : Object.keys(binaries);
  for (const k of order) {
    const c0 = childTicks();
    const s = await startSteward(["-n", String(opt.workers), "--ready", "spawn", "--", "sleep", "600"], { bin: binaries[k], timeoutMs: 60000 });
    await stopGroup(s.child);
    totals[k].push((childTicks() - c0) * TICK_MS);
  }
}
console.log(`\nsteward -n ${opt.workers} --ready spawn -- sleep 600, started and stopped: CPU of the master and all it started, medians (min-max)`);
for (const [k, xs] of Object.entries(totals)) {
  console.log(`  ${k.padEnd(9)} ${binaries[k]}: ${median(xs).toFixed(0)} ms (${Math.min(...xs)}-${Math.max(...xs)}), ${f2(median(xs) / opt.workers)} ms per worker`);
}
if (totals.baseline) console.log(`  difference per worker (baseline - current): ${f2((median(totals.baseline) - median(totals.current)) / opt.workers)} ms`);
