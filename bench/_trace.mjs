// Kernel timestamps for a bench, from a private ftrace instance (root and tracefs needed):
// who was signalled, which process executed or forked, which descriptor went into an
// epoll set, which process wrote to its stderr, and when, on CLOCK_MONOTONIC. A bench
// reads the processes' own logs late (a pipe read, an event loop); the kernel's record
// says when each thing happened, the same way for every side. Hand-written: no library
// on npm drives tracefs.
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const TRACEFS = "/sys/kernel/tracing";

/** performance.now() on CLOCK_MONOTONIC, in ms (the trace's "mono" clock). */
const monoOffset = (() => {
  // the narrowest of a few brackets (the first calls are slow: ~0.8 ms)
  let best = { width: Infinity, offset: 0 };
  for (let i = 0; i < 20; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint()) / 1e6;
    const b = performance.now();
    if (b - a < best.width) best = { width: b - a, offset: h - (a + b) / 2 };
  }
  return best.offset;
})();
export const monoMs = (perfNow = performance.now()) => perfNow + monoOffset;

/** Why tracing can't be used here, or undefined. */
export function traceProblem() {
  if (process.getuid?.() !== 0) return "needs root";
  if (!existsSync(join(TRACEFS, "instances"))) return `no tracefs at ${TRACEFS}`;
  return undefined;
}

/**
 * Starts recording into its own instance (removed at exit). read() returns the events
 * recorded so far, parsed, and clears the buffer.
 */
export function startTrace() {
  // an instance left by a bench that was SIGKILLed keeps tracing every syscall: removed
  for (const name of readdirSync(join(TRACEFS, "instances"))) {
    const pid = /^steward-bench-(\d+)$/.exec(name)?.[1];
    if (pid && !existsSync(`/proc/${pid}`)) {
      try {
        writeFileSync(join(TRACEFS, "instances", name, "tracing_on"), "0");
        rmdirSync(join(TRACEFS, "instances", name));
      } catch {}
    }
  }
  const dir = join(TRACEFS, "instances", `steward-bench-${process.pid}`);
  mkdirSync(dir);
  process.on("exit", () => {
    try {
      writeFileSync(join(dir, "tracing_on"), "0");
      rmdirSync(dir);
    } catch {}
  });
  const w = (f, v) => writeFileSync(join(dir, f), v);
  w("trace_clock", "mono");
  w("options/record-tgid", "1");
  w("buffer_size_kb", "16384");
  const events = [
    ["signal/signal_generate", "sig == 12"],
    ["syscalls/sys_enter_epoll_ctl", "op == 1"],
    ["syscalls/sys_enter_write", "fd == 2"],
    ["sched/sched_process_exec", undefined],
    ["sched/sched_process_fork", undefined],
  ];
  for (const [e, filter] of events) {
    if (filter) w(`events/${e}/filter`, filter);
    w(`events/${e}/enable`, "1");
  }
  w("tracing_on", "1");
  return {
    read() {
      const text = readFileSync(join(dir, "trace"), "utf8");
      w("trace", "");
      return parseTrace(text);
    },
  };
}

// "  haproxy-1234  (   1230) [001] ..... 12345.678901: sys_epoll_ctl(epfd: 5, op: 1, ...)"
// "  haproxy-1234  (   1234) [000] ..... 12345.678901: sched_process_exec: filename=... pid=..."
const LINE = /^\s*(.*)-(\d+)\s+\(\s*(\d+|-+)\)\s+\[\d+\]\s+\S+\s+(\d+\.\d+): (\w+)(?:: |\()(.*)$/;

/** [{ ms, tid, tgid, name, f: { field: value } }], ms on CLOCK_MONOTONIC; a syscall's entry is named sys_NAME. */
export function parseTrace(text) {
  const out = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, , tid, tgid, ts, name, rest] = m;
    const f = {};
    for (const kv of rest.matchAll(/(\w+)(?:=|: )([^\s,)]+)/g)) f[kv[1]] = kv[2];
    // a task the trace has not seen yet shows no thread group: its own id then (a process's first thread)
    out.push({ ms: Number(ts) * 1000, tid: Number(tid), tgid: /^\d+$/.test(tgid) ? Number(tgid) : Number(tid), name, f });
  }
  return out;
}

const num = (x) => (x === undefined ? NaN : x.startsWith("0x") ? parseInt(x, 16) : Number(x));

/** Inodes of the sockets listening on 127.0.0.1:port. */
export function listeningInodes(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set();
  for (const row of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const c = row.trim().split(/\s+/);
    if (c[1] === `0100007F:${hex}` && c[3] === "0A") inodes.add(c[9]);
  }
  return inodes;
}

/** The descriptors of `pid` that are one of `inodes`. */
export function fdsOf(pid, inodes) {
  const fds = [];
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) fds.push(Number(fd));
      } catch {}
    }
  } catch {}
  return fds;
}

/**
 * One reload of a master, read from the trace: `sentMs` (mono, just before the signal),
 * `doneMs` (mono, when the bench read `Loading success.`), the new workers' pids and their
 * listener descriptors. Returns ms from the kernel's signal to: `log` (the master's last
 * write to stderr before the bench read the line), `worker` (a new worker's process exists:
 * its fork, or its first exec if the trace has no fork), `accepting` (a listener descriptor
 * of a new worker added to an epoll set: SPEC §5.2's `accepting`); NaN where the trace has
 * no such event, undefined without the signal.
 */
export function reloadTimes(events, { master, sentMs, doneMs, workers, fds }) {
  const sig = events.find((e) => e.name === "signal_generate" && num(e.f.pid) === master && e.ms >= sentMs - 1);
  if (!sig) return undefined;
  const after = events.filter((e) => e.ms >= sig.ms);
  const log = after.filter((e) => e.name === "sys_write" && e.tgid === master && e.ms <= doneMs + 0.01).at(-1);
  const born = after.find(
    (e) => (e.name === "sched_process_fork" && workers.has(num(e.f.child_pid))) || (e.name === "sched_process_exec" && workers.has(num(e.f.pid))),
  );
  const accepting = after.find((e) => e.name === "sys_epoll_ctl" && workers.has(e.tgid) && fds.has(num(e.f.fd)));
  const rel = (e) => (e ? e.ms - sig.ms : NaN);
  return { log: rel(log), worker: rel(born), accepting: rel(accepting) };
}

