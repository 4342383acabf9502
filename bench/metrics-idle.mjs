#!/usr/bin/env node
// The cost of the [metrics] listener: master RSS and CPU over a window with the listener
// on and scraped once a second (GET /metrics on a keep-alive connection, as Prometheus
// does), beside the listener on and never scraped, and the listener off. Compiled binary,
// 4 Node workers; the sides take turns (rotated each round), 3 runs each, medians with the range.
// Usage: node bench/metrics-idle.mjs [window-seconds=60] [runs-per-side=3]
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuTicks, median, requireBinary, root, rssKiB, sleep, startSteward, stopGroup } from "./_lib.mjs";

requireBinary();
const windowSeconds = Number(process.argv[2] || 60);
const runs = Number(process.argv[3] || 3);
const dir = mkdtempSync(join(tmpdir(), "steward-metrics-bench-"));

function config(metrics) {
  const text = `[global]\nworkers = 4\n\n[[listen]]\nname = "http"\nbind = "tcp://127.0.0.1:0"\n\n[worker]\ncommand = ["node", ${JSON.stringify(join(root, "bench", "worker.cjs"))}]\n`;
  return metrics ? `${text}\n[metrics]\nbind = "127.0.0.1:0"\n` : text;
}

/** GET /metrics on the agent's kept-alive connection; resolves with the body's length. */
function scrape(agent, port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/metrics", agent }, (res) => {
      let n = 0;
      res.on("data", (d) => (n += d.length));
      res.on("end", () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on("error", reject);
  });
}

async function run(metrics, scraped) {
  const file = join(dir, metrics ? "on.toml" : "off.toml");
  writeFileSync(file, config(metrics));
  const s = await startSteward(["-f", file]);
  const pid = s.child.pid;
  const port = metrics ? Number(/Metrics listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(s.lines.join("\n"))?.[1]) : undefined;
  await sleep(2000); // past the settle a second after the load (src/master/run.ts settleSoon)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const t0 = cpuTicks(pid);
  const w0 = performance.now();
  const latencies = [];
  let bytes = 0;
  for (let i = 0; i < windowSeconds; i++) {
    const next = w0 + (i + 1) * 1000;
    if (scraped) {
      const a = performance.now();
      bytes = await scrape(agent, port);
      latencies.push(performance.now() - a);
    }
    await sleep(Math.max(0, next - performance.now()));
  }
  const ticks = cpuTicks(pid) - t0;
  const secs = (performance.now() - w0) / 1000;
  const rss = rssKiB(pid) / 1024;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const anon = Number(/RssAnon:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
  const fileBacked = Number(/RssFile:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
  agent.destroy();
  await stopGroup(s.child);
  return { cpu: ((ticks / 100) / secs) * 100, rss, anon, fileBacked, latency: latencies.length ? median(latencies) : undefined, bytes };
}

const SIDES = {
  off: { metrics: false, scraped: false, label: "listener off                  " },
  idle: { metrics: true, scraped: false, label: "listener on, never scraped    " },
  on: { metrics: true, scraped: true, label: "listener on, scraped every 1 s" },
};
const names = Object.keys(SIDES);
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < runs; i++) {
  for (const side of [...names.slice(i % names.length), ...names.slice(0, i % names.length)]) {
    const r = await run(SIDES[side].metrics, SIDES[side].scraped);
    results[side].push(r);
    console.log(`run ${i + 1} ${side.padEnd(4)}: master CPU ${r.cpu.toFixed(3)} %, RSS ${r.rss.toFixed(1)} MiB (anon ${r.anon.toFixed(1)}, file ${r.fileBacked.toFixed(1)})${r.latency !== undefined ? `, scrape p50 ${r.latency.toFixed(2)} ms, ${r.bytes} bytes` : ""}`);
  }
}
rmSync(dir, { recursive: true, force: true });
const show = (xs, digits, unit) => `${median(xs).toFixed(digits)}${unit} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
for (const side of names) {
  const rs = results[side];
  console.log(`${SIDES[side].label}: master CPU ${show(rs.map((r) => r.cpu), 3, " %")} over ${windowSeconds} s; RSS ${show(rs.map((r) => r.rss), 1, " MiB")}, of which RssAnon ${show(rs.map((r) => r.anon), 1, " MiB")}, RssFile ${show(rs.map((r) => r.fileBacked), 1, " MiB")}`);
}
console.log("target: idle CPU < 0.5 % with the listener on and scraped every second");
