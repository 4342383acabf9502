#!/usr/bin/env node
// Master RSS with 4 Node workers (compiled binary), and the master's CPU while idle.
// A second after each load the master gives back the executable's pages start-up read
// (src/sys/mappings.ts); what comes back with use is shown too: RSS after 40 master CLI
// commands, and 3 s after a reload.
// Usage: node bench/memory-cpu.mjs [idle-seconds=60]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuTicks, median, requireBinary, root, rssKiB, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const idleSeconds = Number(process.argv[2] || 60);
const dir = mkdtempSync(join(tmpdir(), "steward-memory-"));
const cliSocket = join(dir, "master.sock");
const args = ["-l", "http=tcp://127.0.0.1:0", "-n", "4", "-S", cliSocket, "--", "node", join(root, "bench", "worker.cjs")];

/** One master CLI command on a connection of its own; resolves with the reply. */
function cli(command) {
  return new Promise((resolve, reject) => {
    const c = createConnection(cliSocket);
    let reply = "";
    c.on("data", (d) => (reply += d));
    c.on("end", () => resolve(reply));
    c.on("error", reject);
    c.end(`${command}\n`);
  });
}

const rss = [];
const afterUse = {};
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
    for (let i = 0; i < 20; i++) {
      await cli("show proc");
      await cli("show info");
    }
    await sleep(200);
    afterUse.cli = rssKiB(s.child.pid) / 1024;
    s.child.kill("SIGUSR2");
    await sleep(3000);
    afterUse.reload = rssKiB(s.child.pid) / 1024;
    await stopGroup(s.child);
  }
}
rmSync(dir, { recursive: true, force: true });
const m = (k) => median(parts.map((p) => p[k])).toFixed(1);
console.log(
  `master RSS breakdown (medians): RssAnon ${m("anon")} MiB, RssFile ${m("file")} MiB, Pss ${m("pss")} MiB (runs: ${parts.map((p) => `${p.anon.toFixed(1)}/${p.file.toFixed(1)}/${p.pss.toFixed(1)}`).join(", ")})`,
);
console.log(
  `master RSS with 4 workers: median ${median(rss.slice(0, 3)).toFixed(1)} MiB (runs: ${rss.slice(0, 3).map((r) => r.toFixed(1)).join(", ")}; after idle: ${rss[3].toFixed(1)}) (target <= 30 MiB)`,
);
console.log(
  `master RSS after use: ${afterUse.cli.toFixed(1)} MiB after 40 master CLI commands; ${afterUse.reload.toFixed(1)} MiB 3 s after a reload (SIGUSR2)`,
);
