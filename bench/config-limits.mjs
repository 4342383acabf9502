#!/usr/bin/env node
// Bad configuration files, and what a reload's preflight costs, for two builds side by side
// (alternated, medians of ROUNDS):
//   - `steward check` of JSON nested 10 000 levels and of a YAML alias bomb (9^9 strings) as
//     worker.command: wall time and peak RSS (capped at CAP_S seconds);
//   - the longest `show proc` on the master CLI while a reload fails on the 10 000-level
//     file (the master's event loop stalled for that long);
//   - reload latency with a good file: SIGUSR2 → the new generation's worker started (the
//     preflight's share: a check in a child now, in the master before) and → `Loading success.`
// Usage: STEWARD_BIN_BEFORE=/path/to/old/steward node bench/config-limits.mjs [rounds=3] [reloads=10]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { binary, median, requireBinary, root, sleep, startLogged, stopGroup } from "./_lib.mjs";

requireBinary();
const before = process.env.STEWARD_BIN_BEFORE;
if (!before) {
  console.error("bench: set STEWARD_BIN_BEFORE to the build to compare with");
  process.exit(1);
}
const ROUNDS = Number(process.argv[2] || 3);
const RELOADS = Number(process.argv[3] || 10);
const CAP_S = 60;
const dir = mkdtempSync("/tmp/stw-bench-limits-");
const worker = ["node", join(root, "bench", "worker.cjs")];

const deep = join(dir, "deep.json");
writeFileSync(deep, `{"worker": {"command": ["x"]}, "x": ${"[".repeat(10_000)}${"]".repeat(10_000)}}`);
const bomb = join(dir, "bomb.yaml");
const anchors = [`  a0: &a0 [${Array(9).fill('"lol"').join(",")}]`];
for (let i = 1; i < 9; i++) anchors.push(`  a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(",")}]`);
writeFileSync(bomb, `x-anchors:\n${anchors.join("\n")}\nworker:\n  command: *a8\n`);

/** wall seconds and peak RSS (MiB) of `steward check -f file`, through /usr/bin/time */
function check(bin, file) {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", "timeout", String(CAP_S), bin, "check", "-f", file], { encoding: "utf8" });
  const wall = (performance.now() - t0) / 1000;
  const kib = Number(r.stderr.trim().split("\n").pop());
  return { wall, rss: kib / 1024, capped: r.status === 124 };
}

function ask(socket, command) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const conn = net.createConnection(socket);
    conn.on("connect", () => conn.end(`${command}\n`));
    conn.on("data", () => {});
    conn.on("error", reject);
    conn.on("close", () => resolve(performance.now() - t0));
  });
}

const goodConfig = JSON.stringify({ global: { workers: 1 }, listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }], worker: { command: worker } });

/** Starts a master on config.json with a CLI socket; returns it with its log. */
async function master(bin, tag) {
  const config = join(dir, `${tag}.json`);
  writeFileSync(config, goodConfig);
  const socket = join(dir, `${tag}.sock`);
  const m = await startLogged(bin, ["-f", config, "-S", socket], { ready: /Loading success\./ });
  return { ...m, config, socket };
}

/** ms from SIGUSR2 to the outcome; `started`: to the first worker of the new generation started */
async function reloadOutcome(m, timeoutMs = CAP_S * 1000) {
  const from = m.lines.length;
  const t0 = performance.now();
  let started = NaN;
  process.kill(m.child.pid, "SIGUSR2");
  for (;;) {
    const fresh = m.lines.slice(from);
    if (Number.isNaN(started) && fresh.some((l) => /Worker \d+ \(\d+\) started/.test(l))) started = performance.now() - t0;
    if (fresh.some((l) => /Loading success\.|Reload failed/.test(l))) return { ms: performance.now() - t0, started };
    if (performance.now() - t0 > timeoutMs) return { ms: NaN, started };
    await sleep(1);
  }
}

/** The longest `show proc` while a reload fails on the deep file. */
async function stallDuringBadReload(bin) {
  const m = await master(bin, "stall");
  try {
    writeFileSync(m.config, `{"worker": {"command": ["x"]}, "x": ${"[".repeat(10_000)}${"]".repeat(10_000)}}`);
    const done = reloadOutcome(m);
    let finished = false;
    void done.then(() => (finished = true));
    let longest = 0;
    while (!finished) {
      longest = Math.max(longest, await ask(m.socket, "show proc"));
      await sleep(20);
    }
    return { longest, reload: (await done).ms };
  } finally {
    await stopGroup(m.child);
  }
}

async function reloadLatency(bin) {
  const m = await master(bin, "latency");
  try {
    const times = [];
    const starts = [];
    for (let i = 0; i < RELOADS; i++) {
      const t = await reloadOutcome(m, 20_000);
      times.push(t.ms);
      starts.push(t.started);
      await sleep(200);
    }
    return { done: median(times), started: median(starts) };
  } finally {
    await stopGroup(m.child);
  }
}

const sides = [["before", before], ["after", binary]];
const results = { before: [], after: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, bin] of round % 2 === 0 ? sides : [...sides].reverse()) {
    const deepCheck = check(bin, deep);
    const bombCheck = check(bin, bomb);
    const stall = await stallDuringBadReload(bin);
    const latency = await reloadLatency(bin);
    results[name].push({ deepCheck, bombCheck, stall, latency });
    console.error(`round ${round + 1} ${name}: done`);
  }
}
rmSync(dir, { recursive: true, force: true });

const fmt = (xs, f, unit) => {
  const v = xs.map(f);
  return `${median(v).toFixed(unit === "ms" ? 0 : 2)} ${unit} (${Math.min(...v).toFixed(unit === "ms" ? 0 : 2)}–${Math.max(...v).toFixed(unit === "ms" ? 0 : 2)})`;
};
console.log(`config limits, medians of ${ROUNDS} rounds (min–max); check capped at ${CAP_S} s`);
for (const name of ["before", "after"]) {
  const r = results[name];
  console.log(`${name}:`);
  console.log(`  check deep JSON (10k levels): ${fmt(r, (x) => x.deepCheck.wall, "s")}, peak RSS ${fmt(r, (x) => x.deepCheck.rss, "MiB")}`);
  console.log(`  check YAML alias bomb:        ${fmt(r, (x) => x.bombCheck.wall, "s")}, peak RSS ${fmt(r, (x) => x.bombCheck.rss, "MiB")}`);
  console.log(`  reload on the deep file: longest show proc ${fmt(r, (x) => x.stall.longest, "ms")}, reload failed after ${fmt(r, (x) => x.stall.reload, "ms")}`);
  console.log(`  good reload (medians of ${RELOADS}): SIGUSR2 → worker started ${fmt(r, (x) => x.latency.started, "ms")}, → Loading success ${fmt(r, (x) => x.latency.done, "ms")}`);
}
