#!/usr/bin/env node
// steward's own share of a reload with a Node worker: reload latency (SIGUSR2 -> `Loading
// success.`) against the Node worker's start-up alone (spawn `node bench/drain-worker.cjs`
// binding a port itself -> that port accepts), alternated within each round: N reloads,
// then N start-ups (or the other way round), --rounds rounds; idle, then under wrk -t2 -c50
// (new connection per request) against steward, which keeps serving through the start-ups
// of the Node worker alone too. Prints per round p50s and medians of them, and the
// difference. By default the Node worker alone runs in a session (scheduler autogroup,
// kernel.sched_autogroup_enabled) of its own, as steward starts each of its workers (REFERENCE
// §4), so both compete the same way; --same-session starts steward's master and the Node
// worker alone in this script's session (steward's workers still lead sessions of their own).
// Usage: node bench/reload-vs-node.mjs [--n 15] [--rounds 3] [--modes idle,load] [--same-session]
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { join } from "node:path";
import { binary, freePort, median, parseWrk, percentile, portOf, requireBinary, root, sleep, startLogged, stopGroup } from "./_lib.mjs";

const argv = process.argv.slice(2);
const opt = { n: 15, rounds: 3, modes: ["idle", "load"], sameSession: false };
for (let i = 0; i < argv.length; i += 2) {
  const [a, v] = [argv[i], argv[i + 1]];
  if (a === "--same-session") {
    opt.sameSession = true;
    i--;
    continue;
  }
  if (v === undefined) usage(`${a} needs a value`);
  if (a === "--n") opt.n = Number(v);
  else if (a === "--rounds") opt.rounds = Number(v);
  else if (a === "--modes") opt.modes = v.split(",");
  else usage(`unknown argument ${a}`);
}
function usage(msg) {
  console.error(`reload-vs-node: ${msg}\nusage: node bench/reload-vs-node.mjs [--n 15] [--rounds 3] [--modes idle,load] [--same-session]`);
  process.exit(2);
}
if (!(opt.n >= 1 && opt.rounds >= 1) || opt.modes.some((m) => !["idle", "load"].includes(m))) usage("bad value");
requireBinary();
const worker = join(root, "bench", "drain-worker.cjs");
const started = new Set();
// with --same-session steward and the Node workers are no group leaders: killed by PID
// (steward stops its own workers on SIGTERM)
const killTree = (c, sig) => {
  try {
    process.kill(opt.sameSession && c !== wrk ? c.pid : -c.pid, sig);
  } catch {}
};
let wrk;
process.on("exit", () => {
  for (const c of started) killTree(c, c === wrk ? "SIGKILL" : "SIGTERM");
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => process.exit(130));
const budget = setTimeout(() => (console.error("reload-vs-node: over the time budget"), process.exit(3)), opt.rounds * opt.modes.length * opt.n * 2 * 5000 + 120000);
budget.unref();

const accepts = (port) =>
  new Promise((r) => {
    const c = createConnection(port, "127.0.0.1", () => (c.destroy(), r(true)));
    c.on("error", () => r(false));
  });

async function nodeAlone() {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn("node", [worker], { env: { ...process.env, PORT: String(port) }, stdio: "ignore", detached: !opt.sameSession });
  started.add(child);
  let ms = NaN;
  while (performance.now() - t0 < 10000) {
    if (await accepts(port)) {
      ms = performance.now() - t0;
      break;
    }
    await sleep(1);
  }
  killTree(child, "SIGKILL");
  started.delete(child);
  return ms;
}

for (const mode of opt.modes) {
  wrk = undefined;
  let waiter;
  const s = await startLogged(binary, ["-l", "http=tcp://127.0.0.1:0", "-n", "1", "--", "node", worker], {
    ready: /Loading success\./,
    detached: !opt.sameSession,
    onLine: (line, t) => /Loading success\.|Reload failed/.test(line) && waiter?.(t),
  });
  started.add(s.child);
  const port = portOf(s.lines);
  let out = "";
  if (mode === "load") {
    const seconds = Math.ceil((opt.rounds * opt.n * 2 * 1500) / 1000) + 10; // ended early once the rounds are done
    wrk = spawn("wrk", ["-t2", "-c50", `-d${seconds}s`, "-H", "Connection: close", `http://127.0.0.1:${port}/`], { stdio: ["ignore", "pipe", "ignore"], detached: true });
    started.add(wrk);
    wrk.stdout.on("data", (d) => (out += d));
    await sleep(500);
  }
  const reload = async () => {
    const done = new Promise((r) => (waiter = r));
    const t0 = performance.now();
    process.kill(s.child.pid, "SIGUSR2");
    const t = await Promise.race([done, sleep(30000).then(() => NaN)]);
    waiter = undefined;
    return t - t0;
  };
  const rows = [];
  for (let r = 0; r < opt.rounds; r++) {
    const row = { reload: [], node: [] };
    const parts = [
      async () => {
        for (let i = 0; i < opt.n; i++) {
          row.reload.push(await reload());
          await sleep(300);
        }
      },
      async () => {
        for (let i = 0; i < opt.n; i++) {
          row.node.push(await nodeAlone());
          await sleep(300);
        }
      },
    ];
    for (const part of r % 2 ? parts.reverse() : parts) await part();
    row.reload = row.reload.filter(Number.isFinite);
    row.node = row.node.filter(Number.isFinite);
    rows.push(row);
    console.log(`[${mode}] round ${r + 1}: steward reload p50 ${percentile(row.reload, 50).toFixed(0)} ms (${row.reload.length}/${opt.n}), Node alone p50 ${percentile(row.node, 50).toFixed(0)} ms (${row.node.length}/${opt.n}), difference ${(percentile(row.reload, 50) - percentile(row.node, 50)).toFixed(0)} ms`);
  }
  let errors = "";
  if (wrk) {
    if (wrk.exitCode === null && wrk.signalCode === null) {
      const exited = new Promise((r) => wrk.once("exit", r));
      process.kill(-wrk.pid, "SIGINT");
      await exited;
    }
    started.delete(wrk);
    const w = parseWrk(out);
    errors = `; wrk: ${w.requests} requests, errors connect ${w.connect} read ${w.read} write ${w.write} timeout ${w.timeout}, non-2xx ${w.non2xx}`;
  }
  if (opt.sameSession) {
    s.child.kill("SIGTERM");
    await new Promise((r) => (s.child.exitCode !== null ? r() : s.child.once("exit", r)));
  } else await stopGroup(s.child);
  started.delete(s.child);
  const m = (k) => median(rows.map((row) => percentile(row[k], 50)));
  const diffs = rows.map((row) => percentile(row.reload, 50) - percentile(row.node, 50));
  console.log(
    `${opt.sameSession ? "[same session] " : ""}${mode === "idle" ? "idle" : "under wrk -t2 -c50, new connection per request"}: medians of ${opt.rounds} round p50s: reload ${m("reload").toFixed(0)} ms, Node alone ${m("node").toFixed(0)} ms; difference median ${median(diffs).toFixed(0)} ms (${Math.min(...diffs).toFixed(0)}-${Math.max(...diffs).toFixed(0)}) (target <= 10 ms)${errors}\n`,
  );
}
process.exit(0);
