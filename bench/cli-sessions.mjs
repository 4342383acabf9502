#!/usr/bin/env node
// Master RSS (VmRSS) before and after 10 000 master-CLI sessions, one after the other:
// connect, `show version`, read the reply, close. A leak per session (descriptors, session
// objects, timers) shows as growth; the target is under 2 MiB.
//
// How it is measured, and why:
// - A fresh master grows by ~10 MiB over its first few thousand sessions, once, while the
//   JavaScript engine compiles the hot path in its optimising tiers and sizes its heaps
//   (with BUN_JSC_useFTLJIT=false it levels off after ~2 500 sessions; the JS heap itself
//   stays at ~3.5 MB and ~23 000 objects after a full GC, however many sessions ran). So
//   the measured sessions come after a warm-up (default 10 000); the cold figure is
//   printed too.
// - RSS is sampled after the master sat idle for 3 s (the allocator returns free pages
//   then). Even so it wanders by a few MiB from one sample to the next with no leak (GC
//   timing), so after the plain before/after of one batch of 10 000 the script runs
//   more batches and fits a line through the idle samples: a leak shows as the slope,
//   noise does not. The slope (KiB per 10 000 sessions) decides the exit status.
// Needs dist/steward (npm run build); STEWARD_BIN picks another binary.
// Usage: node bench/cli-sessions.mjs [sessions=10000] [warmup=10000] [batches=5]
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { requireBinary, root, rssKiB, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const sessions = Number(process.argv[2] || 10_000);
const warmup = Number(process.argv[3] ?? 10_000);
const batches = Math.max(2, Number(process.argv[4] ?? 5));
const IDLE_MS = 3_000;
const LIMIT_KIB = 2048;
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const dir = mkdtempSync("/tmp/stw-bench-");
const socket = join(dir, "master.sock");

function session() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socket });
    let text = "";
    s.setEncoding("utf8");
    s.on("connect", () => s.write("show version\n"));
    s.on("data", (d) => {
      text += d;
      if (text.endsWith("\n\n")) s.destroy(); // close from the client side, as a script would
    });
    s.on("error", reject);
    s.on("close", () => (text.endsWith("\n\n") ? resolve() : reject(new Error(`no reply: ${JSON.stringify(text)}`))));
  });
}

async function sessionsInTurn(count) {
  for (let i = 0; i < count; i++) await session();
}

/** Least-squares slope of ys over xs. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

/** RSS once the master has been idle for IDLE_MS. */
async function idleRss(pid) {
  await sleep(IDLE_MS);
  return rssKiB(pid);
}

const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;
const mib = (kib) => (kib / 1024).toFixed(2);
const steward = await startSteward(["-S", socket, "-l", "http=tcp://127.0.0.1:0", "-n", "2", "--", python, join(root, "bench", "tiny-worker.py")]);
const pid = steward.child.pid;
try {
  const cold = await idleRss(pid);
  await sessionsInTurn(warmup);
  const before = await idleRss(pid);
  const fdsBefore = fds(pid);
  const t = performance.now();
  await sessionsInTurn(sessions);
  const elapsed = performance.now() - t;
  const after = await idleRss(pid);
  const fdsAfter = fds(pid);
  const growth = after - before;
  console.log(`${sessions} sequential sessions (connect, show version, close) in ${(elapsed / 1000).toFixed(1)} s (${((elapsed * 1000) / sessions).toFixed(0)} µs each), after ${warmup} warm-up sessions`);
  console.log(`master VmRSS before ${before} KiB, after ${after} KiB: growth ${growth} KiB (${mib(growth)} MiB; target < 2 MiB: ${growth < LIMIT_KIB ? "ok" : "over"})`);
  console.log(`  at start ${cold} KiB (${mib(after - cold)} MiB up since, warm-up included); descriptors before ${fdsBefore}, after ${fdsAfter}`);
  const xs = [0, 1];
  const ys = [before, after];
  for (let batch = 2; batch <= batches; batch++) {
    await sessionsInTurn(sessions);
    xs.push(batch);
    ys.push(await idleRss(pid));
  }
  const trend = slope(xs, ys);
  console.log(
    `  idle RSS after each batch of ${sessions}: ${ys.join(", ")} KiB; trend ${trend.toFixed(0)} KiB per ${sessions} sessions ` +
      `(target < ${LIMIT_KIB}: ${trend < LIMIT_KIB ? "ok" : "EXCEEDED"})`,
  );
  if (trend >= LIMIT_KIB || fdsAfter !== fdsBefore) process.exitCode = 1;
} finally {
  await stopGroup(steward.child);
  rmSync(dir, { recursive: true, force: true });
}
