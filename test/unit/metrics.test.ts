// Metrics: the text exposition of a snapshot (pure), the counters, /proc parsing, the
// HTTP responses, and the [metrics] configuration section.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatProblem, idsFromText } from "../../src/config/index.ts";
import { validateConfig } from "../../src/config/schema.ts";
import type { MasterState, ProcessEntry } from "../../src/state.ts";
import { collect, cpuFromStat, rssFromStatus, workerState } from "../../src/metrics/collect.ts";
import {
  countRestart, countWorkerExit, countWorkerStart, emptyCounters, exitReason, RELOAD_BUCKETS, reloadBegan, reloadEnded, restoreCounters,
} from "../../src/metrics/counters.ts";
import { formatMetrics, formatValue, type MetricsSnapshot } from "../../src/metrics/format.ts";
import { encodeResponse, respond } from "../../src/metrics/http.ts";
import { parseMetrics, samples, total, value } from "../e2e/_prometheus.ts";

function snapshot(extra: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  const counters = emptyCounters(2);
  countWorkerStart(counters);
  countWorkerStart(counters);
  countWorkerExit(counters, "current", "killed", "SIGKILL");
  countWorkerExit(counters, "old", "exited");
  countWorkerExit(counters, "old", "exited");
  countRestart(counters, "worker");
  return {
    version: "1.2.0",
    startedAt: 1_700_000_000_500,
    generation: 2,
    consecutiveFailures: 0,
    counters,
    workers: [
      { id: 2, generation: 2, pid: 302, state: "ready", rssBytes: 2048, cpuSeconds: 0.5 },
      { id: 1, generation: 2, pid: 301, state: "ready", rssBytes: 1024, cpuSeconds: 0.25 },
      { id: 1, generation: 1, pid: 201, state: "stopping" },
    ],
    master: { rssBytes: 25_000_000, cpuSeconds: 1.5, openFds: 12 },
    ...extra,
  };
}

describe("metrics text", () => {
  test("parses with an independent parser; names, HELP, TYPE and values follow the conventions", () => {
    const text = formatMetrics(snapshot());
    const f = parseMetrics(text);
    assert.equal(value(f, "steward_build_info", { version: "1.2.0" }), 1);
    assert.equal(value(f, "steward_master_start_time_seconds"), 1_700_000_000.5);
    assert.equal(value(f, "steward_generation"), 2);
    assert.equal(value(f, "steward_reloads_total"), 2);
    assert.equal(value(f, "steward_reload_failures_total"), 0);
    assert.equal(value(f, "steward_worker_starts_total"), 2);
    assert.equal(value(f, "steward_worker_exits_total", { role: "current", reason: "killed", signal: "SIGKILL" }), 1);
    assert.equal(value(f, "steward_worker_exits_total", { role: "old", reason: "exited" }), 2);
    assert.equal(value(f, "steward_restarts_total", { kind: "worker" }), 1);
    assert.equal(value(f, "steward_workers", { state: "ready", generation: "2" }), 2);
    assert.equal(value(f, "steward_workers", { state: "stopping", generation: "1" }), 1);
    assert.equal(value(f, "steward_worker_resident_memory_bytes", { id: "1", generation: "2", pid: "301" }), 1024);
    assert.equal(value(f, "steward_worker_cpu_seconds_total", { id: "2", generation: "2", pid: "302" }), 0.5);
    assert.equal(samples(f, "steward_worker_resident_memory_bytes", { pid: "201" }).length, 0, "no /proc value, no sample");
    assert.equal(value(f, "steward_master_resident_memory_bytes"), 25_000_000);
    assert.equal(value(f, "steward_master_cpu_seconds_total"), 1.5);
    assert.equal(value(f, "steward_master_open_fds"), 12);
    assert.equal(f.get("steward_reload_duration_seconds")?.type, "HISTOGRAM");
    assert.ok(text.endsWith("\n") && !text.includes("\n\n"), "one sample per line, no empty line (the master CLI ends a reply with one)");
  });

  test("exact lines: counters, grouped gauges in generation order, per-worker labels", () => {
    const lines = formatMetrics(snapshot()).split("\n");
    for (const line of [
      "# HELP steward_reloads_total Reloads that succeeded.",
      "# TYPE steward_reloads_total counter",
      "steward_reloads_total 2",
      'steward_worker_exits_total{role="current",reason="killed",signal="SIGKILL"} 1',
      'steward_worker_exits_total{role="old",reason="exited"} 2',
      'steward_worker_resident_memory_bytes{id="1",generation="2",pid="301"} 1024',
    ]) assert.ok(lines.includes(line), `has line: ${line}`);
    const groups = lines.filter((l) => l.startsWith("steward_workers{"));
    assert.deepEqual(groups, ['steward_workers{state="stopping",generation="1"} 1', 'steward_workers{state="ready",generation="2"} 2']);
  });

  test("label values are escaped: backslash, double quote, newline", () => {
    const text = formatMetrics(snapshot({ version: 'a\\b"c\nd' }));
    assert.ok(text.includes('steward_build_info{version="a\\\\b\\"c\\nd"} 1'), text.split("\n").slice(0, 3).join("\n"));
    assert.equal(parseMetrics(text).get("steward_build_info")?.metrics[0]?.labels?.version, 'a\\b"c\nd');
  });

  test("the reload histogram: cumulative buckets, +Inf = count, sum in seconds, successes and failures", () => {
    const c = emptyCounters();
    for (const [ms, ok] of [[30, true], [400, true], [400, true], [90_000, true], [20, false]] as const) {
      reloadBegan(c, 1000);
      reloadEnded(c, ok, 1000 + ms);
    }
    assert.equal(c.reloads, 4);
    assert.equal(c.reloadFailures, 1);
    const f = parseMetrics(formatMetrics(snapshot({ counters: c })));
    const [h] = samples(f, "steward_reload_duration_seconds");
    assert.equal(h?.count, "5");
    assert.equal(Number(h?.sum), 90.85);
    assert.equal(h?.buckets?.["0.05"], "2");
    assert.equal(h?.buckets?.["0.25"], "2");
    assert.equal(h?.buckets?.["0.5"], "4");
    assert.equal(h?.buckets?.["60"], "4");
    assert.equal(h?.buckets?.["+Inf"], "5");
    assert.deepEqual(Object.keys(h?.buckets ?? {}).length, RELOAD_BUCKETS.length + 1);
  });

  test("a reload that ends without a recorded start counts, without a duration", () => {
    const c = emptyCounters();
    reloadEnded(c, true, 5000);
    assert.equal(c.reloads, 1);
    assert.equal(c.reloadDuration.count, 0);
  });

  test("special values", () => {
    assert.deepEqual([Infinity, -Infinity, NaN, 0.1, 3].map(formatValue), ["+Inf", "-Inf", "NaN", "0.1", "3"]);
  });
});

describe("metrics counters", () => {
  test("survive a JSON round trip (the handover); garbage or nothing restarts them from the state's reload count", () => {
    const c = emptyCounters(3);
    countWorkerStart(c);
    countWorkerExit(c, "current", "failed");
    countRestart(c, "program");
    reloadBegan(c, 10);
    const back = restoreCounters(JSON.parse(JSON.stringify(c)), 99);
    assert.deepEqual(back, c);
    assert.deepEqual(restoreCounters(undefined, 7), emptyCounters(7));
    assert.deepEqual(restoreCounters("nonsense", 7), emptyCounters(7));
    const partial = restoreCounters({ reloads: 5, reloadDuration: { buckets: [1] } }, 7);
    assert.equal(partial.reloads, 5);
    assert.equal(partial.reloadDuration.buckets.length, RELOAD_BUCKETS.length + 1);
  });

  test("exit reasons", () => {
    assert.equal(exitReason({ exited: true, code: 0 }), "exited");
    assert.equal(exitReason({ exited: true, code: 3 }), "failed");
    assert.equal(exitReason({ exited: false }), "killed");
  });
});

describe("metrics collection", () => {
  test("/proc/PID/stat: CPU after the last ')' of a command name with spaces and parentheses", () => {
    const stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 125 0 0 20 0 1 0 1000 10000000 500 18446744073709551615";
    assert.equal(cpuFromStat(stat), 3.75);
    assert.equal(cpuFromStat("garbage"), undefined);
  });

  test("/proc/PID/status: VmRSS in bytes", () => {
    assert.equal(rssFromStatus("Name:\tnode\nVmRSS:\t   12345 kB\nThreads: 7\n"), 12345 * 1024);
    assert.equal(rssFromStatus("Name:\tzombie\n"), undefined);
  });

  test("a snapshot of the state: workers only, their state words, the master's own figures", () => {
    const entry = (pid: number, role: ProcessEntry["role"], ready: boolean, kind: ProcessEntry["kind"] = "worker"): ProcessEntry => ({
      pid, kind, name: kind === "worker" ? "worker" : "cron", id: 1, generation: 4, startedAt: 0, version: "1", role, ready,
    });
    const processes = [entry(1, "loading", false), entry(2, "current", true), entry(3, "old", true), entry(4, "failed", false), entry(5, "current", true, "program")];
    const state: MasterState = { pid: 100, startedAt: 5, reloads: 4, failedReloads: 1, version: "1", phase: "running", processes: new Map(processes.map((p) => [p.pid, p])) };
    const s = collect(state, emptyCounters(), "9.9.9", { proc: (pid) => (pid === "self" ? { rssBytes: 7 } : { cpuSeconds: pid }), openFds: () => 9 });
    assert.deepEqual(s.workers.map((w) => [w.pid, w.state, w.cpuSeconds]), [[1, "starting", 1], [2, "ready", 2], [3, "stopping", 3], [4, "failed", 4]]);
    assert.deepEqual(s.master, { rssBytes: 7, openFds: 9 });
    assert.equal(s.consecutiveFailures, 1);
    assert.equal(workerState(entry(9, "loading", true)), "ready");
    assert.equal(total(parseMetrics(formatMetrics(s)), "steward_workers"), 4);
  });
});

describe("metrics HTTP responses", () => {
  const body = () => "steward_x 1\n";
  test("GET /metrics (a query string is ignored); HEAD has no body; keep-alive by HTTP version and Connection", () => {
    const r = respond("GET /metrics?x=1 HTTP/1.1\r\nHost: a", body);
    assert.equal(r.response.status, 200);
    assert.equal(r.keepAlive, true);
    assert.match(r.response.headers?.["Content-Type"] ?? "", /^text\/plain; version=0\.0\.4/);
    assert.equal(respond("GET /metrics HTTP/1.1\r\nConnection: Close", body).keepAlive, false);
    assert.equal(respond("GET /metrics HTTP/1.0", body).keepAlive, false);
    assert.equal(respond("GET /metrics HTTP/1.0\r\nConnection: keep-alive", body).keepAlive, true);
    const head = respond("HEAD /metrics HTTP/1.1", body);
    const bytes = new TextDecoder().decode(encodeResponse(head.response, head.keepAlive, head.head));
    assert.equal(bytes, `HTTP/1.1 200 OK\r\nContent-Type: ${head.response.headers?.["Content-Type"]}\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n`);
  });

  test("unknown path 404, other methods 405 with Allow, bodies and bad request lines 400 (and close)", () => {
    assert.equal(respond("GET / HTTP/1.1", body).response.status, 404);
    assert.equal(respond("GET /metricsx HTTP/1.1", body).response.status, 404);
    const post = respond("POST /metrics HTTP/1.1", body).response;
    assert.equal(post.status, 405);
    assert.equal(post.headers?.Allow, "GET, HEAD");
    for (const head of ["GET /metrics HTTP/1.1\r\nContent-Length: 5", "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked", "hello", "GET /metrics HTTP/2.0"]) {
      const r = respond(head, body);
      assert.equal(r.response.status, 400, head);
      assert.equal(r.keepAlive, false, head);
    }
  });
});

describe("[metrics] configuration", () => {
  const ids = idsFromText("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n");
  const load = (raw: Record<string, unknown>) =>
    validateConfig({ worker: { command: ["/bin/true"] }, ...raw }, { source: "s.toml", baseDir: "/", cwd: "/", ids });
  const problems = (raw: Record<string, unknown>) => {
    const r = load(raw);
    assert.equal(r.ok, false);
    return r.ok ? [] : r.problems.map(formatProblem);
  };

  test("HOST:PORT, [V6]:PORT, tcp://; absent means no listener", () => {
    const r = load({ metrics: { bind: "127.0.0.1:9101" } });
    assert.ok(r.ok && r.config.metrics?.bind === "127.0.0.1:9101" && r.config.metrics.address.kind === "tcp");
    const v6 = load({ metrics: { bind: "[::1]:0" } });
    assert.ok(v6.ok && v6.config.metrics?.bind === "[::1]:0");
    const url = load({ metrics: { bind: "tcp://0.0.0.0:9101" } });
    assert.ok(url.ok && url.config.metrics?.bind === "0.0.0.0:9101");
    const none = load({});
    assert.ok(none.ok && none.config.metrics === undefined);
  });

  test("each bad value is one line naming metrics.bind, the value and the fix", () => {
    assert.deepEqual(problems({ metrics: { bind: "localhost" } }), ['s.toml: metrics.bind: missing port (write HOST:PORT) (e.g. "127.0.0.1:9101") (got "localhost")']);
    assert.deepEqual(problems({ metrics: { bind: "127.0.0.1:99999" } }).length, 1);
    assert.match(problems({ metrics: { bind: "127.0.0.1:99999" } })[0]!, /^s\.toml: metrics\.bind: .*port.*\(got "127\.0\.0\.1:99999"\)$/);
    assert.match(problems({ metrics: { bind: "/run/m.sock" } })[0]!, /^s\.toml: metrics\.bind: must be a TCP address HOST:PORT .* not a unix socket/);
    assert.match(problems({ metrics: { bind: 9101 } })[0]!, /^s\.toml: metrics\.bind: must be a string .*\(got 9101\)$/);
    assert.deepEqual(problems({ metrics: {} }), ['s.toml: metrics.bind: required (e.g. "127.0.0.1:9101")']);
    assert.match(problems({ metrics: { bind: "127.0.0.1:1", port: 2 } })[0]!, /^s\.toml: metrics\.port: unknown key/);
    assert.match(problems({ metrics: "127.0.0.1:1" })[0]!, /^s\.toml: metrics: must be a table/);
  });

  test("an address a listener already claims is refused", () => {
    const p = problems({ listen: [{ bind: "tcp://0.0.0.0:9101" }], metrics: { bind: "127.0.0.1:9101" } });
    assert.deepEqual(p, ['s.toml: metrics.bind: address overlaps tcp://0.0.0.0:9101 (listen[0]) (got "127.0.0.1:9101")']);
  });
});
