#!/usr/bin/env node
// The cost of max-rss sampling (REFERENCE §5.9): master CPU over SECS seconds of idle with
// 8 Node workers, max-rss on (max-rss-for = "10s": one sample of every worker's tree per
// second) vs off, alternated, medians of N with min–max. CPU from /proc/PID/stat
// (utime+stime, 100 Hz ticks), after a settling second.
// Usage: node bench/rss-sampling.mjs [secs=60] [trials=3] [workers=8]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuTicks, median, requireBinary, root, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const secs = Number(process.argv[2] || 60);
const trials = Number(process.argv[3] || 3);
const workers = Number(process.argv[4] || 8);

async function trial(on) {
  const dir = mkdtempSync(join(tmpdir(), "stw-bench-"));
  try {
    const file = join(dir, "steward.toml");
    const rss = on ? `max-rss = "1GiB"\nmax-rss-for = "10s"\n` : "";
    writeFileSync(file, `[global]\nworkers = ${workers}\n${rss}\n[[listen]]\nname = "http"\nbind = "tcp://127.0.0.1:0"\n\n[worker]\ncommand = ["node", ${JSON.stringify(join(root, "bench", "worker.cjs"))}]\n`);
    const s = await startSteward(["-f", file], { env: { RUNTIME_DIRECTORY: dir } });
    try {
      await sleep(2000);
      const t0 = cpuTicks(s.child.pid);
      await sleep(secs * 1000);
      return ((cpuTicks(s.child.pid) - t0) / 100 / secs) * 100; // percent of one core
    } finally {
      await stopGroup(s.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sides = { on: [], off: [] };
for (let i = 0; i < trials; i++) for (const side of i % 2 ? ["off", "on"] : ["on", "off"]) sides[side].push(await trial(side === "on"));
const f = (x) => x.toFixed(3);
for (const [side, xs] of Object.entries(sides)) {
  console.log(`max-rss ${side.padEnd(3)}: master CPU ${f(median(xs))} % of a core (${f(Math.min(...xs))}–${f(Math.max(...xs))}) over ${secs} s idle, ${workers} Node workers`);
}
