#!/usr/bin/env node
// Master CLI `show proc` round trip with 256 workers: connect to the unix socket, send
// `show proc`, half-close, read to the end. Prints p50/p99 over the round trips, for a
// fresh connection each time and for one session sending them in turn.
// Tiny workers (python3 blocking in accept); needs dist/steward (npm run build).
// Usage: node bench/cli-show-proc.mjs [workers=256] [roundTrips=500]
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { percentile, requireBinary, root, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const workers = Number(process.argv[2] || 256);
const roundTrips = Math.max(200, Number(process.argv[3] || 500));
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const dir = mkdtempSync("/tmp/stw-bench-");
const socket = join(dir, "master.sock");

/** One connection: `show proc`, half-close, the whole reply. */
function showProcOnce() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socket });
    let text = "";
    s.setEncoding("utf8");
    s.on("connect", () => s.end("show proc\n"));
    s.on("data", (d) => (text += d));
    s.on("error", reject);
    s.on("close", () => resolve(text));
  });
}

/** One session: `show proc` `count` times in turn; the duration of each. */
function showProcInSession(count) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socket });
    const times = [];
    let text = "";
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      s.write("show proc\n");
    };
    s.setEncoding("utf8");
    s.on("connect", send);
    s.on("data", (d) => {
      text += d;
      if (!text.endsWith("# programs\n\n")) return;
      times.push(performance.now() - sentAt);
      text = "";
      if (times.length < count) send();
      else s.end();
    });
    s.on("error", reject);
    s.on("close", () => resolve(times));
  });
}

const ms = (x) => `${x.toFixed(2)} ms`;
const steward = await startSteward(
  ["-S", socket, "-l", "http=tcp://127.0.0.1:0", "-n", String(workers), "--ready-timeout", "60s", "--", python, join(root, "bench", "tiny-worker.py")],
  { timeoutMs: 120_000 },
);
try {
  const first = await showProcOnce();
  const rows = first.split("\n").filter((l) => /^\d+ +worker /.test(l)).length;
  if (rows !== workers) throw new Error(`show proc lists ${rows} workers, expected ${workers}:\n${first.slice(0, 500)}`);
  console.log(`show proc with ${workers} workers: ${first.split("\n").length - 2} lines, ${Buffer.byteLength(first)} bytes`);
  for (let i = 0; i < 20; i++) await showProcOnce(); // warm-up
  const fresh = [];
  for (let i = 0; i < roundTrips; i++) {
    const t = performance.now();
    const reply = await showProcOnce();
    fresh.push(performance.now() - t);
    if (!reply.endsWith("# programs\n\n")) throw new Error(`incomplete reply: ${reply.slice(-200)}`);
  }
  console.log(`  new connection each time, ${roundTrips} round trips: p50 ${ms(percentile(fresh, 50))}, p99 ${ms(percentile(fresh, 99))}, max ${ms(Math.max(...fresh))}`);
  const session = await showProcInSession(roundTrips);
  console.log(`  one session, ${session.length} commands in turn:     p50 ${ms(percentile(session, 50))}, p99 ${ms(percentile(session, 99))}, max ${ms(Math.max(...session))}`);
} finally {
  await stopGroup(steward.child);
  rmSync(dir, { recursive: true, force: true });
}
