#!/usr/bin/env node
// The master's idle CPU with the workers' watchdog and health checks on (REFERENCE §5.10),
// beside both off: 4 workers (bench/watchdog-worker.py) that send WATCHDOG=1 every 0.5 s
// under `watchdog = "1s"`, `[worker] health` running `/bin/true` every 5 s per worker, and
// RSS sampling (`max-rss`, `old-rss-budget`; one sample per second with max-rss-for = 10s).
// Master CPU from /proc/PID/stat (utime+stime) over the window; the sides take turns,
// 3 runs each, medians with the range. Compiled binary (npm run build first). `--split`
// adds the watchdog alone and the health checks alone.
// Usage: node bench/idle-cpu.mjs [window-seconds=60] [runs-per-side=3] [--split]
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupOnExit, cpuTicks, median, requireBinary, root, rssKiB, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const args = process.argv.slice(2).filter((a) => a !== "--split");
const split = process.argv.includes("--split");
const windowSeconds = Number(args[0] || 60);
const runs = Number(args[1] || 3);
const dir = mkdtempSync(join(tmpdir(), "steward-idle-cpu-"));
// removed however the run ends, with the master running then (a run cut short left its files before)
const track = cleanupOnExit([dir]);

function config({ watchdog, health, rss }) {
  const worker = JSON.stringify(["python3", join(root, "bench", "watchdog-worker.py")]);
  return [
    "[global]",
    "workers = 4",
    `ready = "notify"`, // the worker holds its listener without accepting
    ...(watchdog ? [`watchdog = "1s"`] : []),
    ...(rss ? [`max-rss = "1GiB"`, `max-rss-for = "10s"`, `old-rss-budget = "2GiB"`] : []),
    "",
    "[[listen]]",
    `bind = "tcp://127.0.0.1:0"`,
    "",
    "[worker]",
    `command = ${worker}`,
    ...(health ? [`health = { command = ["/bin/true"], interval = "5s", timeout = "2s", failures = 3 }`] : []),
    "",
  ].join("\n");
}

async function run(side) {
  const file = join(dir, `${side.name}.toml`);
  writeFileSync(file, config(side));
  const s = await startSteward(["-f", file]);
  track(s.child);
  const pid = s.child.pid;
  await sleep(2000); // past the settle a second after the load (src/master/run.ts settleSoon)
  const t0 = cpuTicks(pid);
  const w0 = performance.now();
  await sleep(windowSeconds * 1000);
  if (s.child.exitCode !== null || s.child.signalCode !== null) {
    throw new Error(`the master exited during the window (${side.name}):\n${s.lines.slice(-20).join("\n")}`);
  }
  const ticks = cpuTicks(pid) - t0;
  const secs = (performance.now() - w0) / 1000;
  const rss = rssKiB(pid) / 1024;
  const failures = s.lines.filter((l) => /missed its watchdog|failed its health check|health check/.test(l)).length;
  await stopGroup(s.child);
  return { cpu: ((ticks / 100) / secs) * 100, rss, failures };
}

const SIDES = [
  { name: "off", watchdog: false, health: false, rss: false, label: "all off                                  " },
  { name: "on", watchdog: true, health: true, rss: true, label: "watchdog 1s, health 5s, RSS sampling 1s " },
  ...(split
    ? [
      { name: "wd", watchdog: true, health: false, rss: false, label: "watchdog 1s (pings 0.5s) only           " },
      { name: "hc", watchdog: false, health: true, rss: false, label: "health 5s only                          " },
      { name: "rs", watchdog: false, health: false, rss: true, label: "RSS sampling only                       " },
    ]
    : []),
];
const results = Object.fromEntries(SIDES.map((s) => [s.name, []]));
for (let i = 0; i < runs; i++) {
  // the sides take turns: each round starts one further along
  for (const side of [...SIDES.slice(i % SIDES.length), ...SIDES.slice(0, i % SIDES.length)]) {
    const r = await run(side);
    results[side.name].push(r);
    console.log(`run ${i + 1} ${side.name.padEnd(3)}: master CPU ${r.cpu.toFixed(3)} %, RSS ${r.rss.toFixed(1)} MiB, failure lines ${r.failures}`);
  }
}
const show = (xs, digits, unit) => `${median(xs).toFixed(digits)}${unit} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
for (const side of SIDES) {
  const rs = results[side.name];
  console.log(`${side.label}: master CPU ${show(rs.map((r) => r.cpu), 3, " %")} over ${windowSeconds} s; RSS ${show(rs.map((r) => r.rss), 1, " MiB")}`);
}
console.log("target (issue 13): < 0.5 % with watchdog, health checks every 5 s and RSS sampling on");
