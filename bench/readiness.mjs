#!/usr/bin/env node
// `accepting` readiness (issue 10), measured on the compiled binary.
// 1. Detection latency: a client connects as soon as the listener is bound and sends a
//    request, which waits in the backlog; the moment its answer arrives is when a worker
//    (or one of its children) has started accepting. Latency = steward's
//    `Worker 1 (...) is ready` line read - that answer read (both on this process's
//    clock; negative means steward saw the epoll registration before the answer came).
//    Servers alternate round by round.
// 2. Master CPU (utime+stime) while 64 pre-fork workers (bench/prefork-worker.py: each a
//    parent and 2 children in select()) start, then while they idle.
// Usage: node bench/readiness.mjs [rounds=15] [idleSeconds=60] [workers=64]
import { existsSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { binary, cpuTicks, percentile, requireBinary, root, sleep, startLogged, stopGroup } from "./_lib.mjs";

requireBinary();
const rounds = Number(process.argv[2] || 15);
const idleSeconds = Number(process.argv[3] || 60);
const workers = Number(process.argv[4] || 64);
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

const wsgi = ["--chdir", join(root, "bench"), "--workers", "2"];
const kinds = {
  "gunicorn sync (--workers 2)": ["/usr/bin/gunicorn", ...wsgi, "wsgi_app:app"],
  "gunicorn gthread (--workers 2 --threads 4)": ["/usr/bin/gunicorn", ...wsgi, "-k", "gthread", "--threads", "4", "wsgi_app:app"],
  "node http": ["node", join(root, "bench", "worker.cjs")],
};

/** One GET on 127.0.0.1:port; resolves with performance.now() when the answer arrives. */
function answeredAt(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.on("connect", () => s.write("GET / HTTP/1.0\r\n\r\n"));
    s.once("data", () => {
      resolve(performance.now());
      s.destroy();
    });
    s.on("error", reject);
    setTimeout(() => reject(new Error("no answer in 30 s")), 30000).unref();
  });
}

async function latencyOnce(cmd) {
  let readyAt;
  let answer;
  const s = await startLogged(binary, ["-l", "http=tcp://127.0.0.1:0", "--ready-timeout", "30s", "--", ...cmd], {
    ready: /Listener 'http' bound to tcp:\/\/[^ ]*:(\d+)/,
    timeoutMs: 30000,
    onLine: (line, t) => {
      if (readyAt === undefined && /Worker 1 \(\d+\) is ready/.test(line)) readyAt = t;
      const m = /Listener 'http' bound to tcp:\/\/[^ ]*:(\d+)/.exec(line);
      if (m) answer = answeredAt(Number(m[1]));
    },
  });
  const at = await answer;
  while (readyAt === undefined) await sleep(5);
  await stopGroup(s.child);
  return readyAt - at;
}

const results = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, cmd] of Object.entries(kinds)) results[name].push(await latencyOnce(cmd));
}
for (const [name, xs] of Object.entries(results)) {
  const f = (x) => x.toFixed(1);
  console.log(
    `readiness detection, ${name}: p50 ${f(percentile(xs, 50))} ms, p99 ${f(percentile(xs, 99))} ms (min ${f(Math.min(...xs))}, max ${f(Math.max(...xs))}, n=${xs.length}; target p50 <= 10 ms)`,
  );
}

// ---- 2. master CPU with 64 pre-fork workers ----
const t0 = performance.now();
const s = await startLogged(binary, ["-l", "http=tcp://127.0.0.1:0", "-n", String(workers), "--ready-timeout", "120s", "--", python, join(root, "bench", "prefork-worker.py")], {
  ready: /Loading success\./,
  timeoutMs: 180000,
});
const startMs = performance.now() - t0;
const startTicks = cpuTicks(s.child.pid);
await sleep(1000);
const idle0 = cpuTicks(s.child.pid);
await sleep(idleSeconds * 1000);
const idleTicks = cpuTicks(s.child.pid) - idle0;
await stopGroup(s.child);
console.log(
  `${workers} pre-fork workers x 3 processes: all accepting after ${Math.round(startMs)} ms, master CPU ${startTicks * 10} ms during start (${((startTicks * 10 * 100) / startMs).toFixed(1)} %); idle ${idleSeconds} s: ${idleTicks * 10} ms CPU = ${((idleTicks * 10 * 100) / (idleSeconds * 1000)).toFixed(3)} % (target < 0.5 %)`,
);
