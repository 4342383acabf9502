#!/usr/bin/env node
// Requests/s of one Node worker behind steward (inheriting fd 3) vs the same worker
// binding the port itself, with wrk on 127.0.0.1. Sides alternate; medians compared.
// Usage: node bench/throughput.mjs [seconds=10] [rounds=3]
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { median, requireBinary, root, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const seconds = Number(process.argv[2] || 10);
const rounds = Number(process.argv[3] || 3);
const worker = join(root, "bench", "worker.cjs");

function wrk(port) {
  const out = execFileSync("wrk", ["-t2", "-c50", `-d${seconds}s`, `http://127.0.0.1:${port}/`], { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? "none";
  return { rps, errors };
}

async function direct() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn("node", [worker], { env: { ...process.env, PORT: String(port) }, stdio: "ignore", detached: true });
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: "ignore" });
      break;
    } catch {
      await sleep(50);
    }
  }
  const r = wrk(port);
  await stopGroup(child);
  return r;
}

async function behindSteward() {
  const s = await startSteward(["-l", "http=tcp://127.0.0.1:0", "-n", "1", "--", "node", worker]);
  const r = wrk(s.port);
  await stopGroup(s.child);
  return r;
}

const a = [];
const b = [];
for (let i = 0; i < rounds; i++) {
  const d = await direct();
  const s = await behindSteward();
  a.push(d.rps);
  b.push(s.rps);
  console.log(`round ${i + 1}: direct ${d.rps.toFixed(0)} req/s (errors: ${d.errors}); behind steward ${s.rps.toFixed(0)} req/s (errors: ${s.errors})`);
}
const ratio = median(b) / median(a);
const ratios = a.map((x, i) => b[i] / x);
console.log(
  `median: direct ${median(a).toFixed(0)} req/s, behind steward ${median(b).toFixed(0)} req/s; ratio ${ratio.toFixed(3)} (per round ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}) (target >= 0.97)`,
);
