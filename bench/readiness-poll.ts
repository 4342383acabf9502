// What one `accepting` readiness check costs the master (src/workers/readiness.ts), run on
// the runtime the master runs on: `node_modules/.bin/bun bench/readiness-poll.ts [calls=2000]`.
// Three stewards, one worker each: the check on a Node worker that accepts (found in its
// epoll set: the answer comes after the fd and fdinfo reads), and on a Node process and on
// `sleep` holding the listener without accepting (the whole scan: every fd, then every
// thread's /proc/PID/task/TID/syscall). While a worker is young the supervisor checks every 5 ms (src/master/load.ts ACCEPT_POLL_FAST_MS, for its first 500 ms), then
// every 25 ms: the figures below times 100 are the CPU one young worker's polling costs.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { isAccepting } from "../src/workers/readiness.ts";

const calls = Number(process.argv[2] || 2000);
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
  if (isAccepting(pid, inodes, process.arch) !== expect) throw new Error(`${name}: expected accepting=${expect}`);
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) isAccepting(pid, inodes, process.arch);
  const cpu = (cpuMs() - c0) / calls;
  const wall = (performance.now() - t0) / calls;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const threads = readdirSync(`/proc/${pid}/task`).length;
  console.log(`  ${name.padEnd(36)} ${fds} fds, ${threads} threads: CPU ${(cpu * 1000).toFixed(0)} µs, wall ${(wall * 1000).toFixed(0)} µs per check; x100 (a young worker's 500 ms at 5 ms) = ${(cpu * 100).toFixed(1)} ms CPU`);
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
} finally {
  node.kill();
  sleeper.kill();
  idleNode.kill();
}
process.exit(0);
