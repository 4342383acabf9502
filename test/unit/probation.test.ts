/**
 * Probation (master/probation.ts) through the supervisor, on the fake system: the previous
 * generation serves beside the new one until the verdict; failures beyond
 * probation-failures roll back; promote/rollback; a stop during probation.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Config, GlobalConfig } from "../../src/config/types.ts";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import type { LogFields } from "../../src/log-format.ts";
import { Supervisor, type LoadResult } from "../../src/master/supervisor.ts";
import type { MasterState } from "../../src/state.ts";
import { FakeSystem } from "./_fake-system.ts";
import { planA, planB, recordingLog } from "./_supervised.ts";

function config(global: Partial<GlobalConfig> = {}): Config {
  return {
    global: { ...DEFAULT_GLOBAL, workers: 2, ready: { kind: "spawn" }, ...global },
    listen: [],
    worker: { command: ["/bin/true"], env: {} },
    program: [],
    masterCli: [],
  };
}


/** A master running generation 0 (plan A, `old`), then reloading into plan B with `fresh`. */
function onProbation(old: Partial<GlobalConfig> = {}, fresh: Partial<GlobalConfig> = {}) {
  const sys = new FakeSystem();
  const { log, lines, events } = recordingLog(true);
  const state: MasterState = { pid: 1, startedAt: sys.now(), reloads: 0, failedReloads: 0, version: "test", phase: "starting", processes: new Map() };
  let loaded = 0;
  const started: number[] = [];
  const sup = new Supervisor(config(old), state, sys, log, planA, { loaded: () => loaded++, probationStarted: (g) => started.push(g) });
  sys.onDeath = (ws) => sup.childExited(ws);
  sup.start();
  assert.equal(state.phase, "running");
  const results: LoadResult[] = [];
  sup.reload(config({ probation: 10_000, ...fresh }), planB, false, (r) => results.push(r));
  const byPath = (path: string) => [...sys.processes.values()].filter((p) => p.spec.path === path);
  const entries = (path: string) => byPath(path).filter((p) => p.alive).map((p) => state.processes.get(p.pid)!);
  const crash = (pid: number, code = 1) => {
    sys.processes.get(pid)!.alive = false;
    sup.childExited({ pid, exited: true, code });
  };
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { sys, sup, state, lines, events, results, loaded: () => loaded, started, byPath, entries, crash, flush };
}

/** the reason of a failed result, undefined for a success */
const reasonOf = (r: LoadResult | undefined): string | undefined => (r && !r.ok ? r.reason : undefined);

const names = (events: LogFields[]) => events.map((e) => e.event).filter((e) => e !== "worker-started" && e !== "worker-ready");

describe("probation", () => {
  test("the previous generation keeps running and accepting until the probation ends, then gets its stop signal", () => {
    const t = onProbation({}, { stopSignal: 10 });
    const old = t.byPath("/bin/a");
    assert.deepEqual(t.results, [], "the reload is in progress until the verdict");
    assert.deepEqual(t.entries("/bin/a").map((p) => p.role), ["current", "current"]);
    assert.deepEqual(t.entries("/bin/b").map((p) => [p.role, p.generation]), [["probation", 1], ["probation", 1]]);
    for (const p of old) assert.deepEqual(p.signals, []);
    assert.deepEqual(t.state.probation, { generation: 1, until: t.sys.now() + 10_000, failures: 0, allowed: 0 });
    assert.equal(t.state.reloads, 0);
    assert.deepEqual(t.started, [1]);
    assert.equal(t.loaded(), 1, "READY for the first start only; the reload's comes with the verdict");
    t.sys.advance(9_999);
    for (const p of old) assert.deepEqual(p.signals, []);
    t.sys.advance(1);
    assert.deepEqual(t.results, [{ ok: true }]);
    assert.equal(t.loaded(), 2);
    assert.equal(t.state.reloads, 1);
    assert.equal(t.state.probation, undefined);
    for (const p of old) assert.deepEqual(p.signals, [10], "the new configuration's stop-signal, as without probation");
    assert.deepEqual(t.entries("/bin/b").map((p) => p.role), ["current", "current"]);
    assert.deepEqual(names(t.events), ["loaded", "probation-started", "probation-ended", "loaded"]);
    assert.equal(t.events.find((e) => e.event === "probation-ended")!.outcome, "promoted");
  });

  test("a new worker that crashes during probation rolls back: the new generation is stopped, the old one stays current", async () => {
    const t = onProbation({}, { stopSignal: 10 });
    t.sys.ignoring.add(10);
    const [crashed, healthy] = t.byPath("/bin/b");
    t.crash(crashed!.pid, 3);
    assert.equal(t.results.length, 1);
    const r = t.results[0]!;
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.rolledBack && /worker 1 \(\d+\) exited with code 3 during probation/.test(r.reason), JSON.stringify(r));
    assert.deepEqual(healthy!.signals, [10], "the new generation's stop-signal: its requests in flight finish");
    assert.equal(t.state.processes.get(healthy!.pid)!.role, "old");
    assert.deepEqual(t.entries("/bin/a").map((p) => p.role), ["current", "current"]);
    for (const p of t.byPath("/bin/a")) assert.deepEqual(p.signals, []);
    assert.equal(t.state.reloads, 0);
    assert.equal(t.state.failedReloads, 1);
    assert.match(t.state.lastFailure!, /^rolled back: worker 1 .* exited with code 3 during probation$/);
    assert.equal(t.state.probation, undefined);
    assert.deepEqual(names(t.events), ["loaded", "probation-started", "worker-exited", "rollback", "reload-failed"]);
    // the crashed worker is not restarted; the healthy one is killed after hard-stop-after
    t.sys.advance(DEFAULT_GLOBAL.hardStopAfter);
    await t.flush();
    assert.equal(t.byPath("/bin/b").length, 2);
    assert.deepEqual(healthy!.signals, [10, 9]);
    assert.equal(t.state.processes.has(healthy!.pid), false);
    // generation numbers are not reused: the next reload is generation 2
    t.sup.reload(config(), planB, false, (r) => t.results.push(r));
    assert.deepEqual(t.results[1], { ok: true });
    assert.equal(t.state.reloads, 2);
  });

  test("probation-failures failures are tolerated (the worker is started again from the new plan); one more rolls back", () => {
    const t = onProbation({}, { probationFailures: 1 });
    const [first] = t.byPath("/bin/b");
    t.crash(first!.pid);
    assert.deepEqual(t.results, []);
    assert.equal(t.state.probation!.failures, 1);
    assert.ok(t.lines.some((l) => /failure 1 of 1 tolerated/.test(l)));
    t.sys.advance(1_000);
    const again = t.entries("/bin/b").find((p) => p.id === 1)!;
    assert.deepEqual([again.role, again.generation], ["probation", 1]);
    t.crash(again.pid);
    assert.equal(t.results.length, 1);
    assert.match(reasonOf(t.results[0]) ?? "", /failure 2, probation-failures = 1/);
  });

  test("a restart pending at the promotion starts the worker as one of the now current generation, from the new plan", () => {
    const t = onProbation({}, { probationFailures: 1 });
    t.crash(t.byPath("/bin/b")[0]!.pid);
    assert.equal(t.sup.probation.promote("test"), "Generation 1 promoted.");
    t.sys.advance(1_000);
    assert.deepEqual(t.entries("/bin/b").map((p) => [p.id, p.generation, p.role]), [[2, 1, "current"], [1, 1, "current"]]);
  });

  test("probationFailure (watchdog, health) counts a worker once: its exit that follows is not a second failure", () => {
    const t = onProbation({}, { probationFailures: 1 });
    const [w] = t.entries("/bin/b");
    assert.equal(t.sup.probationFailure(w!, "worker 1 missed its watchdog"), false, "tolerated");
    assert.equal(t.sup.probationFailure(w!, "worker 1 missed its watchdog"), false, "the same worker again");
    t.crash(w!.pid, 0);
    assert.equal(t.state.probation!.failures, 1);
    t.sys.advance(1_000);
    assert.equal(t.entries("/bin/b").length, 2, "started again");
    const other = t.entries("/bin/b").find((p) => p.id === 2)!;
    assert.equal(t.sup.probationFailure(other, "worker 2 failed its health check"), true);
    assert.equal(reasonOf(t.results[0]), "worker 2 failed its health check (failure 2, probation-failures = 1)");
    const current = t.entries("/bin/a")[0]!;
    assert.equal(t.sup.probationFailure(current, "not on probation"), false);
  });

  test("promote and rollback end the probation now; without one they say so and change nothing", () => {
    const a = onProbation();
    assert.equal(a.sup.probation.promote("test"), "Generation 1 promoted.");
    assert.deepEqual(a.results, [{ ok: true }]);
    assert.equal(a.sup.probation.promote("test"), "No generation is on probation.");
    assert.equal(a.sup.probation.rollback("test"), "No generation is on probation.");
    const b = onProbation();
    assert.equal(b.sup.probation.rollback("rollback from the master CLI"), "Generation 1 rolled back.");
    assert.equal(reasonOf(b.results[0]), "rollback from the master CLI");
    assert.equal(b.state.phase, "running");
    b.sys.advance(20_000);
    assert.equal(b.results.length, 1, "the probation timer is gone");
    assert.equal(b.state.reloads, 0);
  });

  test("a stop during probation stops both generations and exits 0; the reload ends as the master stopping", async () => {
    const t = onProbation();
    t.sup.signal("SIGTERM");
    assert.deepEqual(t.results, [{ ok: false, reason: "the master is stopping", exitCode: 1 }]);
    await t.flush();
    assert.equal(t.sys.alive().length, 0);
    assert.equal(t.sys.exitCode, 0);
    t.sys.advance(20_000);
    assert.equal(t.results.length, 1);
  });

  test("after a rollback the previous generation restarts from its own plan, and missing workers are restored", () => {
    const t = onProbation({ onFailure: "ignore" });
    // a worker of the previous generation gone during probation (or stopped by a batched rollout)
    t.crash(t.entries("/bin/a")[1]!.pid);
    assert.equal(t.entries("/bin/a").length, 1);
    t.crash(t.byPath("/bin/b")[0]!.pid);
    const restored = t.entries("/bin/a");
    assert.deepEqual(restored.map((p) => [p.id, p.generation, p.role]), [[1, 0, "current"], [2, 0, "current"]]);
    assert.ok(t.lines.some((l) => /Worker 2 of generation 0 is missing: starting it again/.test(l)));
  });

  test("on-failure = restart after a rollback uses the previous generation's plan", () => {
    const t = onProbation({ onFailure: "restart" });
    t.crash(t.byPath("/bin/b")[0]!.pid);
    t.crash(t.entries("/bin/a")[0]!.pid);
    t.sys.advance(1_000);
    assert.deepEqual(t.entries("/bin/a").map((p) => [p.id, p.generation]), [[2, 0], [1, 0]]);
    assert.equal(t.byPath("/bin/b").length, 2, "nothing of the new plan started again");
  });
});
