#!/usr/bin/env node
// Probation rollbacks (REFERENCE §5.8) under load. steward (a private copy of dist/steward)
// runs 2 workers of test/fixtures/crash-after-ready.cjs (DRAIN=1: a stop signal stops
// accepting and finishes the requests in flight) with probation = "30s". Each round sends
// SIGUSR2 with a configuration in which worker 1 crashes 2 s after it serves
// (CRASH_ONLY_ID=1), so every reload is rolled back while worker 2 of the new generation is
// healthy and must be stopped.
//
// Per rollback:
//   detect    the crashing worker's own last line ("crashing with N connection(s) open") ->
//             the master's "New worker 1 (...) exited with code 1 during probation" (reaping)
//   closed    that master line -> the healthy new worker no longer holds the listening
//             socket (its /proc/PID/fd/3 polled every ms): from then on only the previous
//             generation accepts
//   gone      that master line -> "Old worker 2 (...) exited" (the new generation is gone)
// Times are when this script read the lines (neither side timestamps them); p50 and p99.
// Lost requests: client failures during the rollback vs the connections open on the
// crashing worker when it died (its CRASH_REPORT line). Two clients, alternated by round:
//   loop      4 concurrent loops in this process, a new connection per request, each held
//             20 ms by the worker: failures counted per rollback;
//   wrk       wrk -t2 -c20 -H 'Connection: close' across the round: its socket errors and
//             non-2xx answers, per rollback.
//
// Usage: node bench/rollback.mjs [rollbacks=10] [--clients loop,wrk] [--keep-logs]
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, cleanupOnExit, median, parseWrk, percentile, portOf, requireBinary, root, sleep, startLogged } from "./_lib.mjs";

const argv = process.argv.slice(2);
const opt = { rollbacks: 10, clients: ["loop", "wrk"], keepLogs: false };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--clients") opt.clients = (argv[++i] ?? "").split(",");
  else if (a === "--keep-logs") opt.keepLogs = true;
  else if (/^\d+$/.test(a)) opt.rollbacks = Number(a);
  else {
    console.error(`rollback: unknown argument ${a}\nusage: node bench/rollback.mjs [rollbacks=10] [--clients loop,wrk] [--keep-logs]`);
    process.exit(2);
  }
}
for (const c of opt.clients) if (!["loop", "wrk"].includes(c)) (console.error(`rollback: unknown client ${c}`), process.exit(2));
requireBinary();

const dir = mkdtempSync(join(tmpdir(), "steward-rollback-bench-"));
const bin = join(dir, "steward");
copyFileSync(binary, bin);
chmodSync(bin, 0o755);
const track = cleanupOnExit([opt.keepLogs ? bin : dir]);
setTimeout(() => (console.error("rollback: over the time budget"), process.exit(3)), (opt.rollbacks * 15 + 60) * 1000 * opt.clients.length).unref();

const fixture = join(root, "test", "fixtures", "crash-after-ready.cjs");
const crashes = join(dir, "crashes");
function config(crash) {
  const env = { DRAIN: "1", ...(crash ? { CRASH_AFTER_MS: "2000", CRASH_ONLY_ID: "1", CRASH_REPORT: crashes } : {}) };
  return [
    `[global]\nworkers = 2\nprobation = "30s"\nready-timeout = "10s"\non-failure = "restart"\n`,
    `[[listen]]\nname = "http"\nbind = "tcp://127.0.0.1:0"\n`,
    `[worker]\ncommand = ${JSON.stringify([process.execPath, fixture])}\nenv = { ${Object.entries(env).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(", ")} }\n`,
  ].join("\n");
}

/** A client loop: `n` loops, a new connection per request; `failures` grows as requests fail. */
function clientLoop(port, n = 4) {
  const state = { stop: false, ok: 0, failures: 0 };
  const one = () =>
    new Promise((resolve) => {
      const req = request({ host: "127.0.0.1", port, path: "/?wait=20", agent: false, headers: { connection: "close" }, timeout: 5000 }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
        res.on("error", () => resolve(false));
      });
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
      req.end();
    });
  state.done = Promise.all(
    Array.from({ length: n }, async () => {
      while (!state.stop) (await one()) ? state.ok++ : state.failures++;
    }),
  );
  return state;
}

async function round(client) {
  const file = join(dir, "steward.toml");
  writeFileSync(file, config(false));
  rmSync(crashes, { force: true });
  const waiters = [];
  const lines = [];
  const s = await startLogged(bin, ["-f", file], {
    ready: /Loading success\./,
    onLine: (line, t) => {
      lines.push({ line, t });
      for (const w of [...waiters]) {
        const m = w.re.exec(line);
        if (m && lines.length - 1 >= w.from) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve({ m, t });
        }
      }
    },
  });
  track(s.child);
  const port = portOf(s.lines);
  const waitLine = (re, from, ms = 20000) => {
    const seen = lines.slice(from).find((l) => re.test(l.line));
    if (seen) return Promise.resolve({ m: re.exec(seen.line), t: seen.t });
    return new Promise((resolve, reject) => {
      const w = { re, from, resolve };
      waiters.push(w);
      setTimeout(() => reject(new Error(`no line ${re} within ${ms} ms:\n${lines.slice(-30).map((l) => l.line).join("\n")}`)), ms).unref();
    });
  };
  writeFileSync(file, config(true));
  let wrk;
  let wrkOut = "";
  let loop;
  if (client === "wrk") {
    wrk = spawn("wrk", ["-t2", "-c20", `-d${opt.rollbacks * 8 + 10}s`, "-H", "Connection: close", `http://127.0.0.1:${port}/?wait=20`], { stdio: ["ignore", "pipe", "inherit"], detached: true });
    track(wrk);
    wrk.stdout.on("data", (d) => (wrkOut += d));
  } else loop = clientLoop(port);
  await sleep(500);
  const results = [];
  for (let i = 0; i < opt.rollbacks; i++) {
    const from = lines.length;
    const failedBefore = loop?.failures ?? 0;
    process.kill(s.child.pid, "SIGUSR2");
    const probation = await waitLine(/Generation (\d+) is on probation/, from);
    const generation = probation.m[1];
    const healthy = Number((await waitLine(new RegExp(`Worker 2 \\((\\d+)\\) started \\(generation ${generation}\\)`), from)).m[1]);
    const socket = readlinkSync(`/proc/${healthy}/fd/3`);
    const crashLine = await waitLine(/crash-after-ready \d+ crashing with (\d+) connection/, from);
    const detected = await waitLine(/New worker 1 \(\d+\) exited with code 1 during probation/, from);
    let closedAt;
    for (;;) {
      let fd;
      try {
        fd = readlinkSync(`/proc/${healthy}/fd/3`);
      } catch {}
      if (fd !== socket) {
        closedAt = performance.now();
        break;
      }
      await sleep(1);
    }
    const gone = await waitLine(new RegExp(`Old worker 2 \\(${healthy}\\) exited`), from);
    await waitLine(/Reload failed: rolled back/, from);
    await sleep(300);
    results.push({
      detect: detected.t - crashLine.t,
      closed: closedAt - detected.t,
      gone: gone.t - detected.t,
      inFlight: Number(crashLine.m[1]),
      lost: loop ? loop.failures - failedBefore : undefined,
    });
  }
  let lost;
  if (wrk) {
    process.kill(-wrk.pid, "SIGINT");
    await new Promise((r) => wrk.once("exit", r));
    const w = parseWrk(wrkOut);
    lost = { requests: w.requests, errors: w.connect + w.read + w.write + w.timeout + w.non2xx, detail: w };
  } else {
    loop.stop = true;
    await loop.done;
    lost = { requests: loop.ok + loop.failures, errors: loop.failures };
  }
  const inFlightReported = existsSync(crashes) ? readFileSync(crashes, "utf8").trim().split("\n").reduce((n, l) => n + Number(l.split(" ")[1]), 0) : 0;
  process.kill(s.child.pid, "SIGTERM");
  await new Promise((r) => (s.child.exitCode !== null ? r() : s.child.once("exit", r)));
  if (opt.keepLogs) writeFileSync(join(dir, `steward-${client}.log`), lines.map((l) => l.line).join("\n"));
  return { client, results, lost, inFlightReported };
}

const fmt = (xs) => `p50 ${median(xs).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
let head = "?";
try {
  head = execFileSync("git", ["-C", root, "log", "-1", "--format=%h"], { encoding: "utf8" }).trim();
} catch {}
console.log(`rollback bench: ${opt.rollbacks} rollbacks per client, binary ${binary} (HEAD ${head}), 2 workers, worker 1 crashes 2 s after ready`);
for (const client of opt.clients) {
  const r = await round(client);
  const col = (k) => r.results.map((x) => x[k]);
  console.log(`\n[${client}] ${r.results.length} rollbacks`);
  console.log(`  crash -> detected (reaped):              ${fmt(col("detect"))}`);
  console.log(`  detected -> only old generation holds:   ${fmt(col("closed"))}`);
  console.log(`  detected -> new generation gone:         ${fmt(col("gone"))}`);
  console.log(`  in flight on the crashing worker:        ${r.inFlightReported} in total (${(r.inFlightReported / r.results.length).toFixed(2)} per rollback)`);
  if (client === "loop") console.log(`  lost per rollback:                       ${col("lost").join(" ")}`);
  console.log(`  requests ${r.lost.requests}, failed ${r.lost.errors} (${(r.lost.errors / r.results.length).toFixed(2)} per rollback)${r.lost.detail ? ` wrk: ${JSON.stringify(r.lost.detail)}` : ""}`);
}
