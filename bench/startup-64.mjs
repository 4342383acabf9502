#!/usr/bin/env node
// Time from starting steward to "Loading success." with 64 workers that must each be
// observed accepting. Tiny worker: python3 blocking in accept(); also a Node worker, side
// by side (alternated rounds) with 64 of the same Node processes started without steward
// the same way: this script binds 127.0.0.1:0, spawns each with the listener as fd 3 and
// LISTEN_FDS=1, and times until every one is accepting, observed as steward does (an epoll
// set of the process holds the listener, /proc/PID/fdinfo, checked every 5 ms). Both sides'
// workers share one session, so one scheduler autogroup (kernel.sched_autogroup_enabled):
// the script's own for these, steward's for its workers.
// Usage: node bench/startup-64.mjs [workers=64] [rounds=3]
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { median, requireBinary, root, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const n = Number(process.argv[2] || 64);
const rounds = Number(process.argv[3] || 3);
const nodeWorker = ["node", join(root, "bench", "worker.cjs")];
const range = (xs) => `median ${Math.round(median(xs))} ms (min ${Math.round(Math.min(...xs))}, max ${Math.round(Math.max(...xs))})`;

async function stewardStart(cmd) {
  const s = await startSteward(["-l", "http=tcp://127.0.0.1:0", "-n", String(n), "--ready-timeout", "60s", "--", ...cmd], { timeoutMs: 90000 });
  const readyLines = s.lines.filter((l) => /is ready$/.test(l)).length;
  await stopGroup(s.child);
  if (readyLines !== n) throw new Error(`expected ${n} ready lines, saw ${readyLines}`);
  return s.readyMs;
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
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const fd = server._handle.fd;
  const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))[1];
  const t0 = performance.now();
  const children = [];
  for (let i = 0; i < n; i++) {
    // Not detached: a new session is a new scheduler autogroup, and 64 of them would get
    // 64 shares of a busy machine's CPU where steward's workers share one (steward's session).
    children.push(spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "ignore", "inherit", fd], env: { ...process.env, LISTEN_FDS: "1" } }));
  }
  const waiting = new Set(children.map((c) => c.pid));
  const deadline = t0 + 60000;
  while (waiting.size && performance.now() < deadline) {
    for (const pid of waiting) if (accepting(pid, inode)) waiting.delete(pid);
    if (waiting.size) await sleep(5);
  }
  const ms = performance.now() - t0;
  for (const c of children) c.kill("SIGKILL");
  server.close();
  if (waiting.size) throw new Error(`${waiting.size} of ${n} bare Node processes not accepting after 60 s`);
  return ms;
}

const tiny = [existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3", join(root, "bench", "tiny-worker.py")];
const tinyTimes = [];
for (let r = 0; r < rounds; r++) tinyTimes.push(await stewardStart(tiny));
console.log(`${n} workers, tiny (python3 accept loop): all accepting in ${range(tinyTimes)} (target <= 2000 ms)`);

const withSteward = [];
const bare = [];
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) withSteward.push(await stewardStart(nodeWorker)), bare.push(await bareStart(nodeWorker));
  else bare.push(await bareStart(nodeWorker)), withSteward.push(await stewardStart(nodeWorker));
}
console.log(`${n} workers, node http, ${rounds} alternated rounds; loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
console.log(`  steward (start -> 'Loading success.', all accepting):      ${range(withSteward)}`);
console.log(`  without steward (spawn -> all accepting, fd 3 inherited):  ${range(bare)}`);
console.log(`  ratio steward ÷ without: ${(median(withSteward) / median(bare)).toFixed(2)} (target <= 1.10)`);
process.exit(0);
