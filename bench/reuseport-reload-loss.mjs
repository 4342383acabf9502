#!/usr/bin/env node
// Where reloads of share = "reuseport" workers lose connections (issue 11). Two workers,
// `clients` loops each opening a new connection per request (`Connection: close`), a reload
// (SIGUSR2) as soon as the last has loaded (>= 200 ms apart), `reloads` times; each failed request is classified:
//   reset       ECONNRESET: the kernel reset it (a closed listener's queue, tcp_migrate_req off)
//   unanswered  closed with FIN before any answer byte: the server accepted it and closed it
//               unread (Deno.serve's shutdown(), denoland/deno#31959)
//   refused / timeout / other
// for Bun.serve and Deno.serve (bench/js-native.mjs) and steward/worker's serve() on Deno
// (bench/js-module.mjs). It uses the machine's tcp_migrate_req as steward finds it; for "off"
// run it in a network namespace where steward cannot turn it on:
//   unshare --net --mount sh -c 'ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=0 &&
//     mount -o bind,ro /proc/sys/net/ipv4/tcp_migrate_req /proc/sys/net/ipv4/tcp_migrate_req &&
//     node bench/reuseport-reload-loss.mjs'
// Usage: node bench/reuseport-reload-loss.mjs [reloads=10] [rounds=2] [clients=8] [which=bun,deno,module]
import net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, requireBinary, root, sleep, startLogged, stopGroup } from "./_lib.mjs";

requireBinary();
const reloads = Number(process.argv[2] || 10);
const rounds = Number(process.argv[3] || 2);
const clients = Number(process.argv[4] || 8);
const which = (process.argv[5] || "bun,deno,module").split(",");
const bin = (name) => join(root, "node_modules", ".bin", name);
const DENO = [bin("deno"), "run", "-A", "--unstable-net"];
const SERVERS = {
  bun: { label: "Bun.serve", command: [bin("bun"), join(root, "bench", "js-native.mjs")] },
  deno: { label: "Deno.serve", command: [...DENO, join(root, "bench", "js-native.mjs")] },
  module: { label: "steward/worker serve() on Deno", command: [...DENO, join(root, "bench", "js-module.mjs")] },
};
const dir = mkdtempSync(join(tmpdir(), "stw-bench-"));

/** One request on a new connection: "ok" or how it failed. */
function once(port) {
  return new Promise((resolve) => {
    let answer = "";
    let done = false;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(outcome);
    };
    const socket = net.connect(port, "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"));
    socket.setEncoding("latin1");
    socket.setTimeout(5000, () => finish("timeout"));
    socket.on("data", (d) => (answer += d));
    socket.on("error", (e) => finish(e.code === "ECONNRESET" ? (answer ? "reset-after-answer" : "reset") : e.code === "ECONNREFUSED" ? "refused" : `other ${e.code}`));
    socket.on("end", () => finish(answer.startsWith("HTTP/1.1 200") ? "ok" : answer === "" ? "unanswered" : "partial"));
  });
}

async function run(server) {
  const path = join(dir, "steward.toml");
  writeFileSync(path, [
    "[global]", "workers = 2", 'ready-timeout = "30s"',
    "[[listen]]", 'name = "http"', 'bind = "tcp://127.0.0.1:0"', 'share = "reuseport"',
    "[worker]", `command = ${JSON.stringify(server.command)}`,
  ].join("\n"));
  const s = await startLogged(binary, ["-f", path], { ready: /Loading success\./, timeoutMs: 60000 });
  const port = Number(/Listener 'http' bound to tcp:\/\/[^ ]*:(\d+)/.exec(s.lines.join("\n"))[1]);
  const counts = {};
  let stop = false;
  const loops = Array.from({ length: clients }, async () => {
    while (!stop) {
      const outcome = await once(port);
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    }
  });
  // a reload, then the next as soon as it has loaded (at least 200 ms apart)
  const loaded = () => s.lines.filter((l) => /Loading success/.test(l)).length;
  let signals = 0;
  for (let i = 0; i < reloads; i++) {
    const before = loaded();
    const next = Date.now() + 200;
    process.kill(s.child.pid, "SIGUSR2");
    signals++;
    const deadline = Date.now() + 30000;
    while (loaded() === before && Date.now() < deadline) await sleep(20);
    await sleep(Math.max(0, next - Date.now()));
  }
  // let the last generation finish loading and the old ones drain
  await sleep(2000);
  stop = true;
  await Promise.all(loops);
  const migrate = (s.lines.find((l) => /tcp_migrate_req (on|off)/.test(l)) ?? "").match(/tcp_migrate_req (on|off)/)?.[1] ?? "?";
  const loads = s.lines.filter((l) => /Loading success/.test(l)).length - 1;
  await stopGroup(s.child);
  return { counts, signals, loads, migrate };
}

try {
  console.log(`== reuse-port reloads: 2 workers, ${clients} client loops (new connection per request), ${reloads} reloads (each once the last has loaded, >= 200 ms apart), ${rounds} rounds`);
  for (let round = 1; round <= rounds; round++) {
    for (const key of which) {
      const server = SERVERS[key];
      const { counts, signals, loads, migrate } = await run(server);
      const { ok = 0, ...failed } = counts;
      const total = Object.values(failed).reduce((a, b) => a + b, 0);
      const detail = Object.entries(failed).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
      console.log(`round ${round} ${server.label}: tcp_migrate_req ${migrate}, ${signals} reload signals (${loads} loads done), ${ok} answered, ${total} failed (${detail})`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
