// The `accepting` poll with what it learns (src/master/load.ts, ready-schedule.ts): a worker
// as fast as the last one of its command is found within 1 ms; one slower than expected, or
// of another command, is found when the rounds alone would find it, with at most
// WINDOW_CHECKS more checks; the duty cycle holds; what was learned crosses the exec.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Config } from "../../src/config/types.ts";
import { Supervisor } from "../../src/master/supervisor.ts";
import { restoreState, type Handover } from "../../src/master/handover.ts";
import { WINDOW_CHECKS } from "../../src/master/ready-schedule.ts";
import type { MasterState } from "../../src/state.ts";
import type { ChildSpec } from "../../src/workers/plan.ts";
import { FakeSystem } from "./_fake-system.ts";
import { config as sharedConfig, planA, recordingLog } from "./_supervised.ts";

/** Workers that accept `readyAfter` ms after their spawn; every check is recorded. */
class Timed extends FakeSystem {
  readyAfter = 42;
  /** each check's cost in the master's CPU and wall time (ms) */
  checkCost = 0;
  cpu = 0;
  readonly spawnedAt = new Map<number, number>();
  readonly readyAt = new Map<number, number>();
  readonly checks: { pid: number; at: number; end: number; cost: number }[] = [];
  /** when each worker was first seen accepting */
  readonly found = new Map<number, number>();
  override spawn(spec: ChildSpec): number {
    const pid = super.spawn(spec);
    this.spawnedAt.set(pid, this.clock);
    this.readyAt.set(pid, this.clock + this.readyAfter);
    return pid;
  }
  cpuTime(): number {
    return this.cpu;
  }
  override isAccepting(pid: number): boolean {
    const at = this.clock;
    this.clock += this.checkCost;
    this.cpu += this.checkCost;
    this.checks.push({ pid, at, end: this.clock, cost: this.checkCost });
    const yes = this.processes.get(pid)!.alive && at >= this.readyAt.get(pid)!;
    if (yes && !this.found.has(pid)) this.found.set(pid, at);
    return yes;
  }
  checksOf(pid: number): number {
    return this.checks.filter((c) => c.pid === pid).length;
  }
}

const withCommand = (command: string[]): Config => ({ ...sharedConfig({ workers: 1 }), worker: { command, env: {} } });

function running(sys: Timed, config: Config = withCommand(["/bin/a"]), state?: MasterState) {
  const { log } = recordingLog();
  const st: MasterState = state ?? { pid: 1, startedAt: sys.now(), reloads: 0, failedReloads: 0, version: "test", phase: "starting", processes: new Map() };
  const sup = new Supervisor(config, st, sys, log, planA);
  sys.onDeath = (ws) => sup.childExited(ws);
  return { sup, state: st };
}

/** Starts one worker of `config` and waits until the load is done; its PID. */
function started(sys: Timed, config?: Config) {
  const r = running(sys, config);
  r.sup.start();
  sys.advance(10_000);
  assert.equal(r.state.phase, "running");
  return r;
}

/** A reload to `config` (one new worker), run to its end; the new worker's PID. */
function reloaded(sys: Timed, sup: Supervisor, config: Config): number {
  let ok: boolean | undefined;
  const before = new Set(sys.processes.keys());
  sup.reload(config, planA, false, (r) => (ok = r.ok));
  sys.advance(10_000);
  assert.equal(ok, true);
  return [...sys.processes.keys()].find((pid) => !before.has(pid))!;
}

const lag = (sys: Timed, pid: number) => sys.found.get(pid)! - sys.readyAt.get(pid)!;

/**
 * The rounds alone: when a reload's worker that accepts `readyAfter` ms after its spawn is
 * found, and with how many checks, when nothing was learned for its command (the first
 * generation ran another).
 */
function today(readyAfter: number, checkCost = 0): { lag: number; checks: number } {
  const sys = new Timed();
  sys.checkCost = checkCost;
  const { sup } = started(sys, withCommand(["/bin/other"]));
  sys.readyAfter = readyAfter;
  const pid = reloaded(sys, sup, withCommand(["/bin/a"]));
  return { lag: lag(sys, pid), checks: sys.checksOf(pid) };
}

describe("accepting readiness learns when workers become ready", () => {
  test("the first worker is found by the rounds; the next of the same command within 1 ms of accepting", () => {
    const sys = new Timed();
    const { sup, state } = started(sys);
    const first = [...sys.processes.keys()][0]!;
    assert.equal(lag(sys, first), 3, "the round at 45 ms finds a worker accepting since 42 ms");
    assert.deepEqual(state.readyTimes?.map((t) => [t.low, t.high]), [[40, 45]]);
    for (let i = 0; i < 3; i++) {
      const pid = reloaded(sys, sup, withCommand(["/bin/a"]));
      assert.ok(lag(sys, pid) <= 1, `reload ${i + 1}: found ${lag(sys, pid)} ms after it accepted`);
      assert.ok(sys.checksOf(pid) <= today(42).checks + WINDOW_CHECKS);
    }
  });

  test("a restarted worker benefits as well", async () => {
    const sys = new Timed();
    const { state } = started(sys, { ...withCommand(["/bin/a"]), global: { ...withCommand([]).global, workers: 1, onFailure: "restart" } });
    const first = [...sys.processes.keys()][0]!;
    sys.exitProcess(first, 1);
    await Promise.resolve();
    sys.advance(10_000);
    const restarted = [...sys.processes.values()].find((p) => p.alive)!.pid;
    assert.notEqual(restarted, first);
    assert.equal(state.processes.get(restarted)?.ready, true);
    assert.ok(lag(sys, restarted) <= 1, `found ${lag(sys, restarted)} ms after it accepted`);
  });

  test("a worker slower or faster than the last one is found no later than by the rounds alone, with at most WINDOW_CHECKS more checks", () => {
    for (const readyAfter of [1, 3, 6, 20, 38, 39, 40, 44, 47, 90, 6_000]) {
      const sys = new Timed();
      const { sup } = started(sys);
      sys.readyAfter = readyAfter;
      const pid = reloaded(sys, sup, withCommand(["/bin/a"]));
      const alone = today(readyAfter);
      assert.ok(lag(sys, pid) <= alone.lag, `ready after ${readyAfter} ms: found ${lag(sys, pid)} ms late, the rounds alone ${alone.lag}`);
      assert.ok(sys.checksOf(pid) <= alone.checks + WINDOW_CHECKS, `ready after ${readyAfter} ms: ${sys.checksOf(pid)} checks, the rounds alone ${alone.checks}`);
    }
  });

  test("a worker a few ms slower than its recent starts is found within 1 ms: the window's spare checks follow it", () => {
    for (const readyAfter of [46, 47.5, 49, 53]) {
      const sys = new Timed();
      const { sup } = started(sys);
      sys.readyAfter = readyAfter;
      const pid = reloaded(sys, sup, withCommand(["/bin/a"]));
      assert.ok(lag(sys, pid) <= 1, `ready after ${readyAfter} ms: found ${lag(sys, pid)} ms late (the rounds alone: ${today(readyAfter).lag})`);
    }
  });

  test("a reload that changes the command does not use the other command's time: checked as by the rounds alone", () => {
    const sys = new Timed();
    const { sup, state } = started(sys);
    sys.readyAfter = 70;
    const pid = reloaded(sys, sup, withCommand(["/bin/b"]));
    const alone = today(70);
    assert.equal(sys.checksOf(pid), alone.checks);
    assert.equal(lag(sys, pid), alone.lag);
    assert.deepEqual(state.readyTimes?.map((t) => t.key), [JSON.stringify([["/bin/b"], ""]), JSON.stringify([["/bin/a"], ""])], "both commands are remembered");
  });

  test("the duty cycle holds between window checks: each waits three times what the last one cost", () => {
    const sys = new Timed();
    sys.checkCost = 0.5;
    const { sup } = started(sys);
    const pid = reloaded(sys, sup, withCommand(["/bin/a"]));
    const mine = sys.checks.filter((c) => c.pid === pid);
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.at >= mine[i - 1]!.end + 3 * mine[i - 1]!.cost, `check ${i} at ${mine[i]!.at - mine[0]!.at}`);
    assert.ok(lag(sys, pid) < today(42, 0.5).lag, "and the window still finds it sooner than the rounds alone");
  });

  test("what was learned crosses the exec: a worker started before it and adopted after is checked when it is expected", () => {
    const sys = new Timed();
    const old = started(sys);
    const generation = old.sup.spawnEarly(withCommand(["/bin/a"]), planA);
    assert.equal(generation, 1);
    const early = [...sys.processes.keys()].at(-1)!;
    // the exec: the old image's timers are gone; the new image reads the state as handed over
    sys.dropTimers();
    sys.advance(20);
    const { processes, phase: _phase, ...master } = old.state;
    const handed = JSON.parse(JSON.stringify({ master, processes: [...processes.values()] })) as Handover;
    const next = running(sys, withCommand(["/bin/a"]), restoreState(handed));
    let ok: boolean | undefined;
    next.sup.reload(withCommand(["/bin/a"]), planA, false, (r) => (ok = r.ok), undefined, true);
    sys.advance(10_000);
    assert.equal(ok, true);
    assert.ok(lag(sys, early) <= 1, `found ${lag(sys, early)} ms after it accepted`);
  });
});
