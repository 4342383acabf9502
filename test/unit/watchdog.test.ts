/**
 * The workers' watchdog and health checks (src/master/watchdog.ts, health.ts) through the
 * supervisor, against the fake system: nothing here is a real process or timer.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Config, GlobalConfig, HealthConfig } from "../../src/config/types.ts";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import { Supervisor, type WorkerPlanner } from "../../src/master/supervisor.ts";
import type { HealthPlanner } from "../../src/master/health.ts";
import type { MasterState } from "../../src/master/state.ts";
import { FakeSystem } from "./_fake-system.ts";
import { recordingLog } from "./_supervised.ts";

const SIGTERM = 15;
const SIGKILL = 9;

interface Options {
  global?: Partial<GlobalConfig>;
  /** WATCHDOG_USEC the planner gives (ms) */
  watchdog?: number;
  health?: Partial<HealthConfig>;
}

function setup(o: Options = {}) {
  const sys = new FakeSystem();
  const { log, lines, events } = recordingLog();
  const state: MasterState = { pid: 1, startedAt: sys.now(), reloads: 0, failedReloads: 0, version: "test", phase: "starting", processes: new Map() };
  const config: Config = {
    global: { ...DEFAULT_GLOBAL, workers: 1, ready: { kind: "notify" }, onFailure: "restart", hardStopAfter: 5_000, ...o.global },
    listen: [],
    worker: { command: ["/bin/true"], env: {} },
    program: [],
    masterCli: [],
  };
  const planner: WorkerPlanner = (id, generation) => ({
    label: `worker ${id}`,
    path: "/bin/true",
    argv: ["worker", String(id), String(generation)],
    env: {},
    fds: [],
    ...(o.watchdog ? { watchdog: o.watchdog } : {}),
  });
  if (o.health) {
    const settings: HealthConfig = { command: ["check"], interval: 5_000, timeout: 2_000, failures: 3, ...o.health };
    const health: HealthPlanner = {
      settings,
      probe: (w) => ({
        spec: { label: "check", path: "/bin/check", argv: ["check", String(w.pid)], env: { STEWARD_WORKER_PID: String(w.pid) }, fds: [] },
        output: () => "not ok",
      }),
    };
    planner.health = health;
  }
  const sup = new Supervisor(config, state, sys, log, planner);
  sys.onDeath = (ws) => sup.childExited(ws);
  const flush = () => new Promise((r) => setTimeout(r, 0));
  /** the health-check processes spawned so far */
  const checks = () => [...sys.processes.values()].filter((p) => p.spec.argv[0] === "check");
  const workerPids = () => [...sys.processes.values()].filter((p) => p.spec.argv[0] === "worker").map((p) => p.pid);
  /** ends a check process with `code` */
  const finish = (pid: number, code: number) => {
    sys.processes.get(pid)!.alive = false;
    sup.childExited({ pid, exited: true, code });
  };
  return { sys, sup, state, config, lines, events, flush, checks, workerPids, finish };
}

/** a started master whose one worker sent READY=1; returns its PID */
function ready(s: ReturnType<typeof setup>): number {
  s.sup.start();
  const [pid] = s.workerPids();
  s.sup.notified(pid!, { READY: "1" });
  assert.equal(s.state.phase, "running");
  return pid!;
}

describe("watchdog", () => {
  test("arms when the worker is ready, not at spawn; WATCHDOG=1 re-arms it for one interval", async () => {
    const s = setup({ watchdog: 1_000 });
    s.sup.start();
    const [pid] = s.workerPids();
    s.sys.advance(5_000); // loading longer than the interval: not the watchdog's business
    assert.deepEqual(s.sys.processes.get(pid!)!.signals, []);
    s.sup.notified(pid!, { READY: "1" });
    s.sys.advance(999);
    s.sup.notified(pid!, { WATCHDOG: "1" });
    s.sys.advance(999);
    s.sup.notified(pid!, { WATCHDOG: "1" });
    s.sys.advance(999);
    assert.deepEqual(s.sys.processes.get(pid!)!.signals, []);
    s.sys.advance(1);
    assert.deepEqual(s.sys.processes.get(pid!)!.signals, [SIGTERM]);
    assert.deepEqual(s.events.filter((e) => e.event === "watchdog-missed"), [{ event: "watchdog-missed", worker: 1, workerPid: pid! }]);
    assert.ok(s.lines.includes(`ALERT Worker 1 (${pid}) missed its watchdog: no WATCHDOG=1 for 1s: sending SIGTERM`), s.lines.join("\n"));
  });

  test("a missed watchdog: stop signal, then on-failure restarts the worker (same id), whose watchdog arms in turn", async () => {
    const s = setup({ watchdog: 1_000 });
    const pid = ready(s);
    s.sys.advance(1_000);
    await s.flush();
    assert.equal(s.state.processes.has(pid), false);
    assert.ok(s.lines.some((l) => l.startsWith(`WARNING Current worker 1 (${pid}) killed by signal 15 (SIGTERM) after it missed its watchdog`)), s.lines.join("\n"));
    s.sys.advance(1_000); // restart back-off
    const [, next] = s.workerPids();
    assert.ok(next !== undefined, "a replacement was started");
    assert.equal(s.state.processes.get(next!)!.id, 1);
    s.sup.notified(next!, { READY: "1" });
    s.sys.advance(1_000);
    assert.deepEqual(s.sys.processes.get(next!)!.signals, [SIGTERM]);
  });

  test("a WATCHDOG=1 already waiting on the socket when the deadline comes is read first: no miss", () => {
    const s = setup({ watchdog: 1_000 });
    const pid = ready(s);
    let waiting = 1; // one datagram the SIGIO handler has not read yet
    Object.assign(s.sys, { drainNotify: () => waiting-- > 0 && s.sup.notified(pid, { WATCHDOG: "1" }) });
    s.sys.advance(1_000);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [], "the waiting keep-alive counted");
    s.sys.advance(999);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, []);
    s.sys.advance(1);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM], "nothing waiting the next time: missed");
  });

  test("a worker that ignores its stop signal gets SIGKILL after hard-stop-after", () => {
    const s = setup({ watchdog: 1_000 });
    s.sys.ignoring.add(SIGTERM);
    const pid = ready(s);
    s.sys.advance(1_000);
    s.sys.advance(4_999);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM]);
    s.sys.advance(1);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM, SIGKILL]);
  });

  test("on-failure = exit: a failed worker that exits 0 on its stop signal still stops the master with 1", async () => {
    const s = setup({ watchdog: 1_000, global: { onFailure: "exit" } });
    const pid = ready(s);
    s.sys.ignoring.add(SIGTERM);
    s.sys.advance(1_000);
    s.sys.processes.get(pid)!.alive = false;
    s.sup.childExited({ pid, exited: true, code: 0 });
    await s.flush();
    assert.equal(s.sys.exitCode, 1);
  });

  test("WATCHDOG=trigger fails the worker at once, even without a watchdog", () => {
    const s = setup();
    const pid = ready(s);
    s.sup.notified(pid, { WATCHDOG: "trigger" });
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM]);
    assert.equal(s.events.find((e) => e.event === "watchdog-missed")?.trigger, true);
  });

  test("WATCHDOG_USEC= sets the worker's interval from now on; 0 turns it off", () => {
    const s = setup({ watchdog: 1_000 });
    const pid = ready(s);
    s.sys.advance(500);
    s.sup.notified(pid, { WATCHDOG_USEC: "3000000" });
    s.sys.advance(2_999);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, []);
    s.sup.notified(pid, { WATCHDOG_USEC: "0" });
    s.sys.advance(60_000);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, []);
    s.sup.notified(pid, { WATCHDOG_USEC: "2000000" }); // systemd: the override enables it too
    s.sys.advance(2_000);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM]);
  });

  test("old workers are not watched: a reload's previous generation may stop pinging while it drains", () => {
    const s = setup({ watchdog: 1_000, global: { stopSignal: 10 } });
    s.sys.ignoring.add(10);
    const old = ready(s);
    let result: unknown;
    s.sup.reload(
      { ...s.config },
      (id, g) => ({ label: "w", path: "/bin/true", argv: ["worker", String(id), String(g)], env: {}, fds: [], watchdog: 1_000 }),
      false,
      (r) => (result = r),
    );
    const [, next] = s.workerPids();
    s.sup.notified(next!, { READY: "1" });
    assert.deepEqual(result, { ok: true });
    assert.deepEqual(s.sys.processes.get(old)!.signals, [10]);
    s.sys.advance(999);
    s.sup.notified(next!, { WATCHDOG: "1" });
    s.sys.advance(999);
    assert.deepEqual(s.sys.processes.get(old)!.signals, [10], "the old worker was not failed");
    assert.deepEqual(s.sys.processes.get(next!)!.signals, []);
  });
});

describe("health checks", () => {
  test("the first check runs one interval after ready; failures in a row fail the worker, a success resets the count", async () => {
    const s = setup({ health: { interval: 1_000, failures: 2 } });
    const pid = ready(s);
    s.sys.advance(999);
    assert.equal(s.checks().length, 0);
    s.sys.advance(1);
    assert.equal(s.checks().length, 1);
    assert.equal(s.checks()[0]!.spec.env.STEWARD_WORKER_PID, String(pid));
    s.finish(s.checks()[0]!.pid, 1); // failure 1 of 2
    s.sys.advance(1_000);
    s.finish(s.checks()[1]!.pid, 0); // healthy: count reset
    s.sys.advance(1_000);
    s.finish(s.checks()[2]!.pid, 3); // failure 1 of 2
    assert.deepEqual(s.sys.processes.get(pid)!.signals, []);
    assert.ok(s.lines.includes(`WARNING Worker 1 (${pid}): health check exited with code 3: not ok (1 of 2)`), s.lines.join("\n"));
    s.sys.advance(1_000);
    s.finish(s.checks()[3]!.pid, 3); // failure 2 of 2
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM]);
    assert.deepEqual(s.events.filter((e) => e.event === "health-failed"), [
      { event: "health-failed", worker: 1, workerPid: pid, reason: "exited with code 3: not ok" },
    ]);
    await s.flush();
    s.sys.advance(1_000); // restart back-off
    assert.equal(s.workerPids().length, 2, "on-failure = restart started a replacement");
    assert.equal(s.checks().length, 4, "no check of the failed worker after it was failed");
  });

  test("a check still running after timeout: its group is killed, and that is a failure; never two checks of one worker at once", async () => {
    const s = setup({ health: { interval: 1_000, timeout: 500, failures: 1 } });
    s.sys.ignoring.add(SIGKILL); // the check outlives its SIGKILL for a while (zombie not reaped yet)
    const pid = ready(s);
    s.sys.advance(1_000);
    const [check] = s.checks();
    s.sys.advance(499);
    assert.deepEqual(check!.signals, []);
    s.sys.advance(1);
    assert.deepEqual(check!.signals, [SIGKILL], "SIGKILL (the group first, then the PID: the fake records the PID)");
    s.sys.advance(10_000);
    assert.equal(s.checks().length, 1, "no second check while the first is not reaped");
    assert.deepEqual(s.sys.processes.get(pid)!.signals, []);
    check!.alive = false;
    s.sup.childExited({ pid: check!.pid, exited: false, signal: SIGKILL });
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM]);
    assert.equal(s.events.find((e) => e.event === "health-failed")?.reason, "did not finish within 500ms: not ok");
  });

  test("a check that cannot be started counts as a failure", () => {
    const s = setup({ health: { interval: 1_000, failures: 1 } });
    const pid = ready(s);
    s.sys.failSpawn = "cannot execute '/bin/check'";
    s.sys.advance(1_000);
    assert.deepEqual(s.sys.processes.get(pid)!.signals, [SIGTERM]);
    assert.match(String(s.events.find((e) => e.event === "health-failed")?.reason), /could not be started: cannot execute/);
  });

  test("stopping the master kills a running check and waits until it is reaped", async () => {
    const s = setup({ health: { interval: 1_000 } });
    s.sys.ignoring.add(SIGKILL);
    ready(s);
    s.sys.advance(1_000);
    const [check] = s.checks();
    s.sup.signal("SIGTERM");
    await s.flush();
    assert.deepEqual(check!.signals, [SIGKILL]);
    assert.equal(s.sys.exitCode, undefined, "the master waits for the check");
    assert.equal(s.sup.tracks(check!.pid), true, "a check is no stray of the master's");
    check!.alive = false;
    s.sup.childExited({ pid: check!.pid, exited: false, signal: SIGKILL });
    assert.equal(s.sys.exitCode, 0);
    assert.equal(s.sup.tracks(check!.pid), false);
    s.sys.advance(60_000);
    assert.equal(s.checks().length, 1, "no check after the stop");
  });
});

describe("watchdog and health checks during probation", () => {
  test("a new worker that misses its watchdog during probation is a probation failure: rolled back, the previous generation untouched", () => {
    const s = setup({ watchdog: 1_000 });
    const old = ready(s);
    const results: unknown[] = [];
    const config = s.config;
    s.sup.reload(
      { ...config, global: { ...config.global, probation: 10_000 } },
      (id, g) => ({ label: "w", path: "/bin/true", argv: ["worker", String(id), String(g)], env: {}, fds: [], watchdog: 1_000 }),
      false,
      (r) => results.push(r),
    );
    const [, fresh] = s.workerPids();
    s.sup.notified(fresh!, { READY: "1" });
    assert.equal(s.state.processes.get(fresh!)!.role, "probation");
    s.sup.notified(old, { WATCHDOG: "1" }); // the previous generation keeps pinging
    s.sys.advance(999);
    s.sup.notified(old, { WATCHDOG: "1" });
    s.sys.advance(1);
    assert.deepEqual(s.events.filter((e) => e.event === "watchdog-missed"), [{ event: "watchdog-missed", worker: 1, workerPid: fresh! }]);
    assert.equal(results.length, 1, "the reload's verdict came");
    assert.equal((results[0] as { ok: boolean }).ok, false);
    assert.match(String((results[0] as { reason: string }).reason), new RegExp(`worker 1 \\(${fresh}\\) missed its watchdog`));
    assert.deepEqual(s.sys.processes.get(old)!.signals, [], "the previous generation was not touched");
    assert.equal(s.state.processes.get(old)!.role, "current");
  });
});
