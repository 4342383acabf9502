// What one `accepting` readiness check costs the master (src/workers/readiness.ts), run on
// the runtime the master runs on: `node_modules/.bin/bun bench/readiness-poll.ts [calls=2000] [workers=64]`.
// 1. Three stewards, one worker each: the check on a Node worker that accepts (found in its
//    epoll set), and on a Node process and on `sleep` holding the listener without
//    accepting (the whole scan: every fd, every thread's /proc/PID/task/TID/syscall, the
//    children), each with every file opened afresh and with the poll's kept files
//    (src/workers/procfiles.ts: re-read with pread, as between two rounds).
// 2. A poll round over `workers` loading workers: as many Node processes holding the
//    listener as fd 3 without accepting yet (what a Node worker is while it starts), all
//    checked once per round, fresh and kept alternated.
// While a worker is young the supervisor polls every 5 ms, then every 25 ms, and never
// spends more than a quarter of its CPU time on it (src/master/load.ts).
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import { isAccepting } from "../src/workers/readiness.ts";
import { KeptProcFiles } from "../src/workers/procfiles.ts";
import { ProcTree } from "../src/workers/proctree.ts";

const calls = Number(process.argv[2] || 2000);
const roundWorkers = Number(process.argv[3] || 64);
const root = join(import.meta.dir, "..");
const steward = join(root, "dist", "steward");

function start(command: string[], ready: string) {
  const child = spawn(steward, ["-l", "http=tcp://127.0.0.1:0", "-n", "1", "--ready", ready, "--", ...command], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  return new Promise<{ kill: () => void; worker: number; inode: string }>((resolve, reject) => {
    let log = "";
    child.stderr!.on("data", (d) => {
      log += d;
      const w = /Worker 1 \((\d+)\) started/.exec(log);
      if (/Loading success\./.test(log) && w) {
        const worker = Number(w[1]);
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${worker}/fd/3`))![1]!;
        resolve({ kill: () => process.kill(-child.pid!, "SIGTERM"), worker, inode });
      }
    });
    child.on("exit", () => reject(new Error(log)));
    setTimeout(() => reject(new Error(`not ready in 30 s:\n${log}`)), 30000).unref();
  });
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
function measure(name: string, pid: number, inode: string, expect: boolean) {
  const inodes = new Set([inode]);
  const kept = new KeptProcFiles();
  const keptTree = new ProcTree(kept);
  const fresh = () => isAccepting(pid, inodes, process.arch);
  const again = () => isAccepting(pid, inodes, process.arch, keptTree, kept);
  if (fresh() !== expect || again() !== expect) throw new Error(`${name}: expected accepting=${expect}`);
  const per = (check: () => boolean) => {
    const c0 = cpuMs();
    const t0 = performance.now();
    const n = Math.max(1, Math.round(calls / 5));
    for (let i = 0; i < n; i++) check();
    return { cpu: (cpuMs() - c0) / n, wall: (performance.now() - t0) / n };
  };
  // five blocks of calls/5 each, alternated; the medians
  const fs: { cpu: number; wall: number }[] = [];
  const ks: { cpu: number; wall: number }[] = [];
  for (let b = 0; b < 5; b++) {
    if (b % 2) ks.push(per(again)), fs.push(per(fresh));
    else fs.push(per(fresh)), ks.push(per(again));
  }
  kept.sweep(true);
  const mid = (xs: { cpu: number; wall: number }[]) => ({ cpu: [...xs].sort((a, b) => a.cpu - b.cpu)[2]!.cpu, wall: [...xs].sort((a, b) => a.wall - b.wall)[2]!.wall });
  const f = mid(fs);
  const k = mid(ks);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const threads = readdirSync(`/proc/${pid}/task`).length;
  const us = (x: number) => (x * 1000).toFixed(0);
  console.log(`  ${name.padEnd(36)} ${fds} fds, ${threads} threads: CPU per check (median of 5 alternated blocks) ${us(f.cpu)} µs fresh, ${us(k.cpu)} µs kept (wall ${us(f.wall)} / ${us(k.wall)} µs)`);
}

/** `n` Node processes holding a listener as fd 3, not accepting: CPU ms of one round over all, fresh and kept. */
async function round(n: number, rounds = 30) {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const inodes = new Set([/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))![1]!]);
  const children = Array.from({ length: n }, () => spawn("node", ["-e", "setInterval(() => {}, 1e6)"], { stdio: ["ignore", "ignore", "inherit", fd] }));
  try {
    // started: each has its threads and its loop's epoll sets
    const started = (pid: number) => readdirSync(`/proc/${pid}/task`).length >= 7;
    for (const deadline = performance.now() + 120000; !children.every((c) => started(c.pid!)); ) {
      if (performance.now() > deadline) throw new Error(`${n} Node processes not started in 120 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const kept = new KeptProcFiles();
    const keptTree = new ProcTree(kept);
    const fresh: number[] = [];
    const again: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const [out, check] of r % 2 ? ([[again, (pid: number) => isAccepting(pid, inodes, process.arch, keptTree, kept)], [fresh, (pid: number) => isAccepting(pid, inodes, process.arch)]] as const) : ([[fresh, (pid: number) => isAccepting(pid, inodes, process.arch)], [again, (pid: number) => isAccepting(pid, inodes, process.arch, keptTree, kept)]] as const)) {
        const c0 = cpuMs();
        for (const c of children) if (check(c.pid!)) throw new Error("a process that does not accept was seen accepting");
        // as the poll does after each round (only the kept side has kept anything)
        if (out === again) kept.sweep();
        out.push(cpuMs() - c0);
      }
    }
    kept.sweep(true);
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    console.log(`  a round over ${n} loading Node workers (${rounds / 2} of each, alternated): CPU median ${med(fresh).toFixed(1)} ms fresh, ${med(again).toFixed(1)} ms kept (kept = ${med(again) === 0 ? "-" : (med(fresh) / med(again)).toFixed(2)}x less)`);
    console.log(`  so while ${n} Node workers load, the quarter-of-the-CPU rule spaces rounds ${(3 * med(again)).toFixed(0)} ms apart (${(3 * med(fresh)).toFixed(0)} ms with fresh reads)`);
  } finally {
    for (const c of children) c.kill("SIGKILL");
    server.close();
  }
}

const node = await start(["node", join(root, "bench", "worker.cjs")], "accepting");
const sleeper = await start(["sleep", "600"], "spawn");
// a Node process holding the listener without accepting: what a Node worker is while it starts
const idleNode = await start(["node", "-e", "setInterval(() => {}, 1e6)"], "spawn");
try {
  console.log(`accepting readiness check, ${calls} calls each, on ${process.versions.bun ? `Bun ${process.versions.bun}` : "?"}; loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  measure("Node worker, accepting", node.worker, node.inode, true);
  measure("Node holding the listener, not yet", idleNode.worker, idleNode.inode, false);
  measure("sleep holding the listener, not", sleeper.worker, sleeper.inode, false);
  if (roundWorkers > 0) await round(roundWorkers);
} finally {
  node.kill();
  sleeper.kill();
  idleNode.kill();
}
process.exit(0);
