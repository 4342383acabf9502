// Shared helpers for the benchmarks: start steward, wait for log lines, read /proc.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const binary = process.env.STEWARD_BIN || join(root, "dist", "steward");

/**
 * Bounds a bench however it ends: each child given to the returned `track` (spawned
 * detached, so a group of its own) gets SIGKILL to its group at exit unless it exited
 * already, and `paths` are removed; SIGINT, SIGTERM and SIGHUP end the script (130).
 */
export function cleanupOnExit(paths = []) {
  const started = new Set();
  process.on("exit", () => {
    for (const c of started) {
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {}
    }
    for (const p of paths) rmSync(p, { recursive: true, force: true });
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => process.exit(130));
  return (c) => (started.add(c), c.once("exit", () => started.delete(c)), c);
}

export function requireBinary() {
  if (!existsSync(binary)) {
    console.error(`bench: ${binary} is missing; run 'npm run build' first`);
    process.exit(1);
  }
}

/** Starts steward in its own process group; resolves once `ready` matches a stderr line. */
export function startSteward(args, { ready = /Loading success\./, timeoutMs = 30000, env = {}, bin = binary } = {}) {
  return startLogged(bin, args, { ready, timeoutMs, env }).then((r) => ({ ...r, port: portOf(r.lines) }));
}

export function portOf(lines) {
  for (const l of lines) {
    const m = /Listener '[^']+' bound to tcp:\/\/[^ ]*:(\d+)/.exec(l);
    if (m) return Number(m[1]);
  }
  return undefined;
}

export async function stopGroup(child, signal = "SIGTERM", timeoutMs = 10000) {
  if (child.exitCode !== null) return child.exitCode;
  const done = new Promise((r) => child.once("exit", (code, sig) => r(code ?? sig)));
  try {
    process.kill(-child.pid, signal);
  } catch {}
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }, timeoutMs);
  const r = await done;
  clearTimeout(t);
  return r;
}

export function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** utime+stime of a process in clock ticks (100 Hz on Linux) */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

export function fdCount(pid) {
  try {
    return readdirSyncSafe(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

import { readdirSync } from "node:fs";
function readdirSyncSafe(p) {
  return readdirSync(p);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// ---- helpers for bench/reload-under-load.mjs (process groups, log lines, wrk, /proc) ----

/**
 * Starts `cmd args` in its own process group with stderr read line by line: every line
 * goes to `onLine(line, tMs)` (tMs = performance.now() when read) and into `lines`.
 * Resolves once `ready` matches a line; rejects on exit or after `timeoutMs`.
 */
export function startLogged(cmd, args, { ready, timeoutMs = 30000, env = {}, onLine = () => {}, stdout = "ignore", detached = true } = {}) {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ["ignore", stdout, "pipe"], detached, env: { ...process.env, ...env } });
  const lines = [];
  let buf = "";
  let settled = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error(`${cmd} not ready in ${timeoutMs} ms:\n${lines.join("\n")}`));
    }, timeoutMs);
    child.on("error", (e) => {
      if (!settled) (settled = true), clearTimeout(timer), reject(e);
    });
    child.stderr.on("data", (d) => {
      const t = performance.now();
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        onLine(line, t);
        if (!settled && ready.test(line)) {
          settled = true;
          clearTimeout(timer);
          resolve({ child, lines, readyMs: t - t0 });
        }
      }
    });
    child.on("exit", (code, sig) => {
      if (!settled) (settled = true), clearTimeout(timer), reject(new Error(`${cmd} exited with ${code ?? sig}:\n${lines.join("\n")}`));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts on 127.0.0.1:port (or rejects after timeoutMs). */
export async function waitForPort(port, timeoutMs = 10000) {
  const net = await import("node:net");
  const end = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, "127.0.0.1", () => (c.destroy(), r(true)));
      c.on("error", () => r(false));
    });
    if (ok) return;
    if (performance.now() > end) throw new Error(`nothing accepts on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

/** Children of `pid` from /proc: [{pid, state}] (state Z = zombie). */
export function childrenOf(pid) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[1]) === pid) out.push({ pid: Number(d), state: f[0] });
  }
  return out;
}

/** The PIDs of the children of every thread of `pid` (/proc/PID/task/TID/children): cheaper than childrenOf's scan of /proc. */
export function threadChildren(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const w of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ")) if (w.trim()) out.push(Number(w));
    } catch {}
  }
  return out;
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * wrk -t2 -c50 on 127.0.0.1:`port` for `seconds`, in `mode` (close: a new connection per
 * request), in a group of its own given to `track`; SIGKILLed if still running 30 s after
 * its duration. Resolves with parseWrk's report, wrk's exit code and its output.
 */
export function runWrk(port, mode, seconds, track) {
  const args = ["-t2", "-c50", `-d${seconds}s`, ...(mode === "close" ? ["-H", "Connection: close"] : []), `http://127.0.0.1:${port}/`];
  const child = track(spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"], detached: true }));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      out += "\n(wrk killed: over its time bound)";
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, (seconds + 30) * 1000);
    child.on("exit", (code) => {
      clearTimeout(t);
      resolve({ ...parseWrk(out), code, out });
    });
  });
}

/** Parses wrk's report. */
export function parseWrk(out) {
  const num = (re) => Number(re.exec(out)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    connect: se ? Number(se[1]) : 0,
    read: se ? Number(se[2]) : 0,
    write: se ? Number(se[3]) : 0,
    timeout: se ? Number(se[4]) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
  };
}

/**
 * The worker of a one-worker steward on fd 3, as steward arguments after the listener's:
 * `haproxy -db` on `bind fd@3` (its configuration written in `dir`), or, without haproxy,
 * Python's http.server on fd 3.
 */
export function fd3Worker(dir) {
  if (spawnSync("haproxy", ["-v"], { stdio: "ignore" }).status !== 0) {
    return ["--", "python3", "-c", "import socket,http.server as h;s=h.HTTPServer(('',0),h.SimpleHTTPRequestHandler,False);s.socket=socket.socket(fileno=3);s.serve_forever()"];
  }
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    ["defaults", "    mode http", "    timeout connect 5s", "    timeout client 30s", "    timeout server 30s", "frontend fe", "    bind fd@3", '    http-request return status 200 content-type text/plain string "hello"', ""].join("\n"),
  );
  return ["--stop-signal", "SIGUSR1", "--", "haproxy", "-db", "-f", cfg];
}
