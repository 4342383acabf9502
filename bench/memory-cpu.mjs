#!/usr/bin/env node
// Master RSS with 4 Node workers (compiled binary), and the master's CPU while idle.
// Usage: node bench/memory-cpu.mjs [idle-seconds=60]
import { join } from "node:path";
import { cpuTicks, median, requireBinary, root, rssKiB, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const idleSeconds = Number(process.argv[2] || 60);
const args = ["-l", "http=tcp://127.0.0.1:0", "-n", "4", "--", "node", join(root, "bench", "worker.cjs")];

const rss = [];
for (let round = 0; round < 3; round++) {
  const s = await startSteward(args);
  await sleep(2000);
  rss.push(rssKiB(s.child.pid) / 1024);
  if (round < 2) await stopGroup(s.child);
  else {
    const t0 = cpuTicks(s.child.pid);
    const w0 = performance.now();
    await sleep(idleSeconds * 1000);
    const ticks = cpuTicks(s.child.pid) - t0;
    const secs = (performance.now() - w0) / 1000;
    const pct = ((ticks / 100) / secs) * 100;
    console.log(`master idle CPU over ${secs.toFixed(1)} s: ${ticks} ticks = ${pct.toFixed(3)} % (target < 0.5 %)`);
    rss.push(rssKiB(s.child.pid) / 1024);
    await stopGroup(s.child);
  }
}
console.log(
  `master RSS with 4 workers: median ${median(rss.slice(0, 3)).toFixed(1)} MiB (runs: ${rss.slice(0, 3).map((r) => r.toFixed(1)).join(", ")}; after idle: ${rss[3].toFixed(1)}) (target <= 30 MiB)`,
);
