#!/usr/bin/env node
// Master RSS with 4 Node workers (compiled binary), and the master's CPU while idle.
// Usage: node bench/memory-cpu.mjs [idle-seconds=60]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cpuTicks, median, requireBinary, root, rssKiB, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const idleSeconds = Number(process.argv[2] || 60);
const args = ["-l", "http=tcp://127.0.0.1:0", "-n", "4", "--", "node", join(root, "bench", "worker.cjs")];

const rss = [];
const parts = []; // RssAnon, RssFile and Pss (MiB) at the moment each RSS was read

/** The anonymous / file-backed split of VmRSS, and the proportional share (Pss). */
function breakdown(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (re, text) => Number(re.exec(text)?.[1] ?? NaN);
  let pss = NaN;
  try {
    pss = kib(/^Pss:\s+(\d+) kB/m, readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  } catch {}
  return { anon: kib(/RssAnon:\s+(\d+) kB/, status) / 1024, file: kib(/RssFile:\s+(\d+) kB/, status) / 1024, pss: pss / 1024 };
}
for (let round = 0; round < 3; round++) {
  const s = await startSteward(args);
  await sleep(2000);
  rss.push(rssKiB(s.child.pid) / 1024);
  parts.push(breakdown(s.child.pid));
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
const m = (k) => median(parts.map((p) => p[k])).toFixed(1);
console.log(
  `master RSS breakdown (medians): RssAnon ${m("anon")} MiB, RssFile ${m("file")} MiB, Pss ${m("pss")} MiB (runs: ${parts.map((p) => `${p.anon.toFixed(1)}/${p.file.toFixed(1)}/${p.pss.toFixed(1)}`).join(", ")})`,
);
console.log(
  `master RSS with 4 workers: median ${median(rss.slice(0, 3)).toFixed(1)} MiB (runs: ${rss.slice(0, 3).map((r) => r.toFixed(1)).join(", ")}; after idle: ${rss[3].toFixed(1)}) (target <= 30 MiB)`,
);
