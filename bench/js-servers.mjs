#!/usr/bin/env node
// JavaScript servers behind steward (issue 11), wrk on 127.0.0.1, sides alternated,
// medians of `rounds`:
//  A. Bun.serve and Deno.serve (bench/js-native.mjs) behind steward with share = "reuseport"
//     ÷ the same server alone on its own port (target >= 0.97), and steward/worker serve()
//     under Deno with share = "reuseport" (bench/js-module.mjs) ÷ Deno.serve alone;
//  B. steward/worker serve({ fetch }) on an inherited fd answering a Response
//     (bench/js-module.mjs) and a FastResponse (bench/js-module-fast.mjs) ÷ the runtime's
//     native server alone, for Node, Deno and Bun; and Bun.listen({fd}) raw;
//  C. wrk -t2 -c50, Connection: close, a reload every 200 ms, Bun.serve workers (2) with
//     share = "reuseport": socket errors with tcp_migrate_req on, then off (the sysctl is
//     set to 0 and made read-only for steward in a private mount namespace: needs root).
// Usage: node bench/js-servers.mjs [seconds=5] [rounds=3] [parts=ABC]
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, freePort, median, parseWrk, requireBinary, root, sleep, startLogged, stopGroup, waitForPort } from "./_lib.mjs";

requireBinary();
const seconds = Number(process.argv[2] || 5);
const rounds = Number(process.argv[3] || 3);
const parts = process.argv[4] || "ABC";
const bin = (name) => join(root, "node_modules", ".bin", name);
const RUNTIMES = {
  node: ["node"],
  deno: [bin("deno"), "run", "-A", "--unstable-net"],
  bun: [bin("bun")],
};
const dir = mkdtempSync(join(tmpdir(), "stw-bench-"));
const MIGRATE = "/proc/sys/net/ipv4/tcp_migrate_req";
const migrateBefore = (() => {
  try {
    return readFileSync(MIGRATE, "utf8").trim();
  } catch {
    return undefined;
  }
})();

/** wrk without blocking this event loop (the reload loop runs meanwhile). */
function wrkAsync(args) {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("exit", () => resolve(out));
  });
}

function wrk(port, extra = []) {
  const out = execFileSync("wrk", ["-t2", "-c50", `-d${seconds}s`, ...extra, `http://127.0.0.1:${port}/`], { encoding: "utf8" });
  return parseWrk(out);
}

async function alone(command, file) {
  const port = await freePort();
  const child = spawn(command[0], [...command.slice(1), file], { env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" }, stdio: "ignore", detached: true });
  try {
    await waitForPort(port, 20000);
    return wrk(port).rps;
  } finally {
    await stopGroup(child);
  }
}

function config(command, file, { workers = 1, share }) {
  const path = join(dir, `steward-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(path, [
    "[global]", `workers = ${workers}`, 'ready-timeout = "30s"',
    "[[listen]]", 'name = "http"', 'bind = "tcp://127.0.0.1:0"', ...(share ? [`share = "${share}"`] : []),
    "[worker]", `command = ${JSON.stringify([...command, file])}`,
  ].join("\n"));
  return path;
}

async function behind(command, file, options, run = (port) => wrk(port).rps, wrap = []) {
  const args = ["-f", config(command, file, options)];
  const s = await startLogged(wrap.length ? wrap[0] : binary, wrap.length ? [...wrap.slice(1), binary, ...args] : args, { ready: /Loading success\./, timeoutMs: 60000 });
  const port = Number(/Listener 'http' bound to tcp:\/\/[^ ]*:(\d+)/.exec(s.lines.join("\n"))[1]);
  try {
    return { result: await run(port, s), lines: s.lines };
  } finally {
    await stopGroup(s.child);
  }
}

const ratioLine = (name, a, b, target) => {
  const ratios = a.map((x, i) => b[i] / x);
  console.log(`${name}: alone ${median(a).toFixed(0)} req/s, behind steward ${median(b).toFixed(0)} req/s; ratio ${(median(b) / median(a)).toFixed(3)} (rounds ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})${target ? ` (target >= ${target})` : ""}`);
};

const native = join(root, "bench", "js-native.mjs");
try {
  if (parts.includes("A")) {
    console.log(`== A. native servers, share = "reuseport" vs alone (wrk -t2 -c50 -d${seconds}s, ${rounds} rounds)`);
    for (const rt of ["bun", "deno"]) {
      const a = [];
      const b = [];
      for (let i = 0; i < rounds; i++) {
        a.push(await alone(RUNTIMES[rt], native));
        b.push((await behind(RUNTIMES[rt], native, { share: "reuseport" })).result);
      }
      ratioLine(`${rt} ${rt === "bun" ? "Bun.serve" : "Deno.serve"}`, a, b, 0.97);
    }
    // steward/worker's serve() under Deno owns its accept loop (src/worker-lib/deno-serve.ts)
    const a = [];
    const b = [];
    for (let i = 0; i < rounds; i++) {
      a.push(await alone(RUNTIMES.deno, native));
      b.push((await behind(RUNTIMES.deno, join(root, "bench", "js-module.mjs"), { share: "reuseport" })).result);
    }
    ratioLine("deno serve() reuseport, new Response ÷ Deno.serve alone", a, b);
  }
  if (parts.includes("B")) {
    console.log(`== B. steward/worker serve on fd 3 vs the runtime's native server alone`);
    const module = join(root, "bench", "js-module.mjs");
    const fast = join(root, "bench", "js-module-fast.mjs");
    for (const rt of ["node", "deno", "bun"]) {
      const a = [];
      const b = [];
      const c = [];
      for (let i = 0; i < rounds; i++) {
        a.push(await alone(RUNTIMES[rt], native));
        b.push((await behind(RUNTIMES[rt], module, {})).result);
        c.push((await behind(RUNTIMES[rt], fast, {})).result);
      }
      const nativeName = rt === "bun" ? "Bun.serve" : rt === "deno" ? "Deno.serve" : "node:http";
      ratioLine(`${rt} serve() on fd, new Response ÷ ${nativeName} alone`, a, b);
      ratioLine(`${rt} serve() on fd, new FastResponse ÷ ${nativeName} alone`, a, c);
    }
    const a = [];
    const b = [];
    for (let i = 0; i < rounds; i++) {
      a.push(await alone(RUNTIMES.bun, native));
      b.push((await behind(RUNTIMES.bun, join(root, "bench", "bun-listen-raw.mjs"), {})).result);
    }
    ratioLine("bun Bun.listen({fd}) raw ÷ Bun.serve alone", a, b);
  }
  if (parts.includes("C")) {
    console.log(`== C. Bun.serve x2, share = "reuseport", wrk -t2 -c50 Connection: close, reload every 200 ms for ${seconds * 2}s`);
    const reloading = async (port, s) => {
      const pid = s.child.pid;
      let reloads = 0;
      let stop = !withReloads;
      const loop = (async () => {
        while (!stop) {
          await sleep(200);
          if (stop) break;
          process.kill(pid, "SIGUSR2");
          reloads++;
        }
      })();
      const out = await wrkAsync(["-t2", "-c50", `-d${seconds * 2}s`, "-H", "Connection: close", `http://127.0.0.1:${port}/`]);
      stop = true;
      await loop;
      return { ...parseWrk(out), reloads };
    };
    let withReloads = false;
    const baseline = await behind(RUNTIMES.bun, native, { workers: 2, share: "reuseport" }, reloading);
    const b = baseline.result;
    console.log(`no reloads (baseline): ${b.requests} requests, ${b.rps.toFixed(0)} req/s; socket errors: connect ${b.connect}, read ${b.read}, write ${b.write}, timeout ${b.timeout}`);
    withReloads = true;
    for (const mode of ["on", "off"]) {
      if (mode === "off") {
        try {
          writeFileSync(MIGRATE, "0\n");
        } catch (e) {
          console.log(`tcp_migrate_req off: cannot set it (${e.code}); skipped`);
          break;
        }
      }
      // off: steward cannot turn it back on (read-only in a private mount namespace)
      const wrap = mode === "off" ? ["unshare", "--mount", "sh", "-c", `mount -o bind,ro ${MIGRATE} ${MIGRATE} && exec "$0" "$@"`] : [];
      const { result: r, lines } = await behind(RUNTIMES.bun, native, { workers: 2, share: "reuseport" }, reloading, wrap);
      const said = lines.find((l) => /tcp_migrate_req/.test(l)) ?? "";
      const loaded = lines.filter((l) => /Loading success/.test(l)).length - 1;
      console.log(`tcp_migrate_req ${mode}: ${r.requests} requests, ${r.rps.toFixed(0)} req/s, ${r.reloads} reload signals (${loaded} loads done); socket errors: connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}; non-2xx ${r.non2xx}`);
      console.log(`   steward said: ${said.replace(/^.*: Reuse-port/, "Reuse-port")}`);
    }
  }
} finally {
  if (migrateBefore !== undefined) {
    try {
      writeFileSync(MIGRATE, `${migrateBefore}\n`);
    } catch {
      // not ours to set
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
