#!/usr/bin/env node
// 64 Node workers all accepting: steward against the same 64 Node processes started the
// same way without steward (issue 14), and a tiny worker (python3 blocking in accept()).
// Like with like:
// - both sides start from this script with child_process.spawn; each Node process runs in
//   a session of its own on both sides, as steward starts every worker (setsid), so each
//   has its own scheduler autogroup (kernel.sched_autogroup_enabled gives each session its
//   own share of the CPU); steward's master runs in this script's session;
// - the same worker (bench/worker.cjs), the listener as fd 3, LISTEN_FDS=1;
// - steward: from its spawn (its own start and the bind included) to 'Loading success.',
//   which it writes once it has seen every worker accepting; without steward: from
//   before the bind to every process seen accepting, observed as steward observes it
//   (an epoll set of the process holds the listener: /proc/PID/fd, fdinfo), every 5 ms;
// - sides alternated round by round (rotated when --base adds a second steward), medians.
// It also prints the master's CPU time (utime+stime) from its start to 'Loading success.'.
// --base BIN: a second steward binary (the build before a change) in the same rotation,
// each steward's ratio to the same bare rounds.
// Usage: node bench/startup-64.mjs [workers=64] [rounds=3] [--base BIN] [--no-tiny]
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { binary, cpuTicks, median, requireBinary, root, sleep, startLogged } from "./_lib.mjs";

requireBinary();
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  if (!value || !existsSync(value)) {
    console.error(`startup-64: ${name} needs an existing binary, got '${value ?? ""}'`);
    process.exit(2);
  }
  return value;
};
const base = flag("--base");
const tinyToo = !args.includes("--no-tiny");
const positional = args.filter((a) => a !== "--no-tiny");
const n = Number(positional[0] || 64);
const rounds = Number(positional[1] || 3);
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(rounds) || rounds < 3) {
  console.error(`startup-64: workers must be >= 1 and rounds >= 3 (medians of at least 3), got '${positional[0] ?? ""}' '${positional[1] ?? ""}'`);
  process.exit(2);
}
const nodeWorker = ["node", join(root, "bench", "worker.cjs")];
const range = (xs, unit = "ms") => `median ${Math.round(median(xs))} ${unit} (min ${Math.round(Math.min(...xs))}, max ${Math.round(Math.max(...xs))})`;

/** steward `bin` in this script's session (not detached): ms to 'Loading success.' and the master's CPU ms by then. */
async function stewardStart(bin, cmd) {
  const s = await startLogged(bin, ["-l", "http=tcp://127.0.0.1:0", "-n", String(n), "--ready-timeout", "60s", "--", ...cmd], { ready: /Loading success\./, timeoutMs: 90000, detached: false });
  const cpuMs = cpuTicks(s.child.pid) * 10;
  const readyLines = s.lines.filter((l) => /is ready$/.test(l)).length;
  // not a group leader: SIGTERM to the master, which stops its workers (their own groups)
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  const t = setTimeout(() => s.child.kill("SIGKILL"), 20000);
  await exited;
  clearTimeout(t);
  if (readyLines !== n) throw new Error(`expected ${n} ready lines, saw ${readyLines}`);
  return { ms: s.readyMs, cpuMs };
}

const tryRead = (f) => {
  try {
    return f();
  } catch {
    return undefined;
  }
};
/** Whether an epoll set of `pid` holds socket `inode` (steward's `accepting`, src/workers/readiness.ts). */
function accepting(pid, inode) {
  for (const fd of tryRead(() => readdirSync(`/proc/${pid}/fd`)) ?? []) {
    if (tryRead(() => readlinkSync(`/proc/${pid}/fd/${fd}`)) !== "anon_inode:[eventpoll]") continue;
    const info = tryRead(() => readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8")) ?? "";
    for (const m of info.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) if (BigInt(`0x${m[1]}`).toString() === inode) return true;
  }
  return false;
}

/** `n` Node processes sharing one listener as fd 3, without steward: ms until all accept. */
async function bareStart(cmd) {
  const t0 = performance.now();
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const fd = server._handle.fd;
  const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))[1];
  const children = [];
  for (let i = 0; i < n; i++) {
    // detached: a session of its own, as steward starts each worker
    children.push(spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "ignore", "inherit", fd], env: { ...process.env, LISTEN_FDS: "1" }, detached: true }));
  }
  const waiting = new Set(children.map((c) => c.pid));
  const deadline = t0 + 60000;
  while (waiting.size && performance.now() < deadline) {
    for (const pid of waiting) if (accepting(pid, inode)) waiting.delete(pid);
    if (waiting.size) await sleep(5);
  }
  const ms = performance.now() - t0;
  const gone = children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("exit", r))));
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(gone);
  server.close();
  if (waiting.size) throw new Error(`${waiting.size} of ${n} bare Node processes not accepting after 60 s`);
  return ms;
}

if (tinyToo) {
  const tiny = [existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3", join(root, "bench", "tiny-worker.py")];
  const tinyTimes = [];
  for (let r = 0; r < rounds; r++) tinyTimes.push((await stewardStart(binary, tiny)).ms);
  console.log(`${n} workers, tiny (python3 accept loop): all accepting in ${range(tinyTimes)} (target <= 2000 ms)`);
}

const sides = [{ name: "steward", bin: binary, runs: [] }, ...(base ? [{ name: "steward (--base)", bin: base, runs: [] }] : []), { name: "without steward", runs: [] }];
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < sides.length; k++) {
    const side = sides[(r + k) % sides.length];
    side.runs.push(side.bin ? await stewardStart(side.bin, nodeWorker) : { ms: await bareStart(nodeWorker) });
  }
}
const bare = sides.at(-1).runs.map((x) => x.ms);
console.log(`${n} workers, node http, ${rounds} rounds alternated, each Node process in a session of its own on both sides; loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
for (const side of sides.slice(0, -1)) {
  console.log(`  ${`${side.name} (start -> 'Loading success.')`.padEnd(44)} ${range(side.runs.map((x) => x.ms))}; master CPU ${range(side.runs.map((x) => x.cpuMs))}`);
}
console.log(`  ${"without steward (bind, spawn -> all accepting)".padEnd(44)} ${range(bare)}`);
for (const side of sides.slice(0, -1)) {
  const ratios = side.runs.map((x, i) => x.ms / bare[i]);
  console.log(
    `  ratio ${side.name} ÷ without: ${(median(side.runs.map((x) => x.ms)) / median(bare)).toFixed(2)} (per round ${ratios.map((x) => x.toFixed(2)).join(", ")}, their median ${median(ratios).toFixed(2)}; target <= 1.10)`,
  );
}
process.exit(0);
