#!/usr/bin/env node
// Descriptor hygiene across many reloads: the master's descriptor count, RSS, zombie
// children and live old workers before and after N reloads (SIGUSR2, each waited for).
// Usage: node bench/reload-hygiene.mjs [reloads=200] [workers=2]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fdCount, percentile, requireBinary, root, rssKiB, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const reloads = Number(process.argv[2] || 200);
const workers = Number(process.argv[3] || 2);

function children(pid) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      if (Number(f[1]) === pid) out.push({ pid: Number(d), state: f[0] });
    } catch {}
  }
  return out;
}

const s = await startSteward(["-l", "http=tcp://127.0.0.1:0", "-n", String(workers), "--max-reloads", "3", "--", "node", join(root, "bench", "worker.cjs")]);
const pid = s.child.pid;
await sleep(500);
const before = { fds: fdCount(pid), rss: rssKiB(pid), kids: children(pid).length };
const latencies = [];
let failed = 0;
for (let i = 0; i < reloads; i++) {
  const mark = s.lines.length;
  const t0 = performance.now();
  process.kill(pid, "SIGUSR2");
  for (;;) {
    const fresh = s.lines.slice(mark);
    if (fresh.some((l) => l.includes("Loading success."))) break;
    if (fresh.some((l) => l.includes("Reload failed"))) {
      failed++;
      break;
    }
    if (performance.now() - t0 > 30000) throw new Error(`reload ${i + 1} did not finish in 30 s`);
    await sleep(2);
  }
  latencies.push(performance.now() - t0);
}
await sleep(1500); // let the last old workers drain
const kids = children(pid);
const after = { fds: fdCount(pid), rss: rssKiB(pid), kids: kids.length, zombies: kids.filter((k) => k.state === "Z").length };
console.log(`${reloads} reloads (${failed} failed) of ${workers} Node workers: latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms (SIGUSR2 -> "Loading success.")`);
console.log(`master descriptors: before ${before.fds}, after ${after.fds} (target: equal +-2)`);
console.log(`master RSS: before ${(before.rss / 1024).toFixed(1)} MiB, after ${(after.rss / 1024).toFixed(1)} MiB`);
console.log(`children: before ${before.kids}, after ${after.kids} (workers = ${workers}); zombies after: ${after.zombies}`);
await stopGroup(s.child);
