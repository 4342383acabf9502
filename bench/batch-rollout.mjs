#!/usr/bin/env node
// Peak workers and peak RSS during a reload of 8 Node workers: rollout = "batch:1" vs
// rollout = "all" (REFERENCE §5.3.1). Each trial starts a fresh master, lets it settle,
// sends SIGUSR2 and samples every 10 ms, until the old generation is gone: the master's
// live worker children (zombies excluded) and the VmRSS summed over the master's whole
// process tree (master included). Trials alternate the two sides; medians of N with
// min–max, and the time from the signal to the last old worker's exit.
// Usage: node bench/batch-rollout.mjs [trials=3] [workers=8]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, requireBinary, root, sleep, startSteward, stopGroup, threadChildren } from "./_lib.mjs";

requireBinary();
const trials = Number(process.argv[2] || 3);
const workers = Number(process.argv[3] || 8);
const worker = join(root, "bench", "worker.cjs");

function state(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    return st[st.lastIndexOf(")") + 2];
  } catch {
    return "X";
  }
}

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** live worker children of the master, and the RSS of its whole tree */
function sample(master) {
  let rss = rssBytes(master);
  let live = 0;
  const queue = [master];
  while (queue.length > 0) {
    const pid = queue.shift();
    for (const child of threadChildren(pid)) {
      rss += rssBytes(child);
      queue.push(child);
      if (pid === master && state(child) !== "Z") {
        try {
          if (readFileSync(`/proc/${child}/cmdline`, "utf8").includes("worker.cjs")) live++;
        } catch {}
      }
    }
  }
  return { live, rss };
}

async function trial(rollout) {
  const dir = mkdtempSync(join(tmpdir(), "stw-bench-"));
  try {
    const file = join(dir, "steward.toml");
    writeFileSync(
      file,
      `[global]\nworkers = ${workers}\nrollout = "${rollout}"\nready-timeout = "30s"\n\n[[listen]]\nname = "http"\nbind = "tcp://127.0.0.1:0"\n\n[worker]\ncommand = ["node", ${JSON.stringify(worker)}]\n`,
    );
    const s = await startSteward(["-f", file], { env: { RUNTIME_DIRECTORY: dir } });
    const master = s.child.pid;
    try {
      await sleep(1500); // the first generation settles (Node's start-up garbage collected)
      const before = sample(master);
      let peakLive = 0;
      let peakRss = 0;
      const mark = s.lines.length;
      const t0 = performance.now();
      process.kill(master, "SIGUSR2");
      for (;;) {
        const now = sample(master);
        peakLive = Math.max(peakLive, now.live);
        peakRss = Math.max(peakRss, now.rss);
        const fresh = s.lines.slice(mark);
        if (fresh.some((l) => l.includes("Reload failed"))) throw new Error(`reload failed:\n${fresh.join("\n")}`);
        if (fresh.some((l) => l.includes("Loading success.")) && now.live === workers) break;
        if (performance.now() - t0 > 60_000) throw new Error(`rollout not over in 60 s:\n${fresh.join("\n")}`);
        await sleep(10);
      }
      return { peakLive, peakRss, baseRss: before.rss, ms: performance.now() - t0 };
    } finally {
      await stopGroup(s.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sides = { "batch:1": [], all: [] };
for (let i = 0; i < trials; i++) {
  for (const rollout of i % 2 === 0 ? ["batch:1", "all"] : ["all", "batch:1"]) sides[rollout].push(await trial(rollout));
}
const mib = (b) => (b / 2 ** 20).toFixed(0);
const range = (xs, f) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
console.log(`reload of ${workers} Node workers (bench/worker.cjs), ${trials} trials per side, alternated; sampled every 10 ms`);
for (const [rollout, runs] of Object.entries(sides)) {
  const live = runs.map((r) => r.peakLive);
  const rss = runs.map((r) => r.peakRss);
  const base = runs.map((r) => r.baseRss);
  const ms = runs.map((r) => r.ms);
  console.log(
    `rollout = ${rollout.padEnd(8)} peak workers ${median(live)} (${range(live, String)}); peak tree RSS ${mib(median(rss))} MiB (${range(rss, mib)}), ` +
      `before ${mib(median(base))} MiB; signal -> old generation gone ${median(ms).toFixed(0)} ms (${range(ms, (x) => x.toFixed(0))})`,
  );
}
const ratio = median(sides["batch:1"].map((r) => r.peakRss)) / median(sides.all.map((r) => r.peakRss));
console.log(`peak RSS batch:1 / all: ${ratio.toFixed(2)}`);
