// `start-nice` (REFERENCE §4): a new worker's session gets its nice value when it is spawned
// and 0 once it is ready, in this image or the next; ready-at-spawn workers and 0 get none;
// a refusal is said once (debug for the default, a warning when configured) and not retried.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GlobalConfig } from "../../src/config/types.ts";
import { DEFAULT_START_NICE, GLOBAL_FIELDS } from "../../src/config/global.ts";
import { restoreState, type Handover } from "../../src/master/handover.ts";
import { Supervisor, type WorkerPlanner } from "../../src/master/supervisor.ts";
import type { MasterState } from "../../src/state.ts";
import { sessionNiceProblem } from "../../src/workers/session-nice.ts";
import { startNiceOf } from "../../src/workers/spawn-plan.ts";
import { FakeSystem } from "./_fake-system.ts";
import { config, planA, recordingLog } from "./_supervised.ts";

/** Records each sessionNice call; refuses them all with `refuse` when set. */
class NiceSystem extends FakeSystem {
  readonly calls: Array<[number, number]> = [];
  refuse: string | undefined;
  sessionNice(pid: number, nice: number): void {
    if (this.refuse) throw new Error(this.refuse);
    this.calls.push([pid, nice]);
  }
}

const boosted = (nice: number, explicit = false) => (id: number, generation: number) => ({ ...planA(id, generation), startNice: { nice, explicit } });

function running(sys: NiceSystem, plan: WorkerPlanner = boosted(-5), global: Partial<GlobalConfig> = {}, state?: MasterState) {
  const { log, lines } = recordingLog();
  const st: MasterState = state ?? { pid: 1, startedAt: sys.now(), reloads: 0, failedReloads: 0, version: "test", phase: "starting", processes: new Map() };
  const sup = new Supervisor(config({ workers: 2, ...global }), st, sys, log, plan);
  sys.onDeath = (ws) => sup.childExited(ws);
  return { sup, state: st, lines };
}

const spawned = (sys: NiceSystem) => [...sys.processes.keys()];

describe("start-nice", () => {
  test("a worker's session gets the nice value at its spawn and 0 once it is ready; nothing else is touched", () => {
    const sys = new NiceSystem();
    const { sup, state } = running(sys);
    sup.start();
    const [a, b] = spawned(sys);
    assert.deepEqual(sys.calls, [[a, -5], [b, -5]]);
    assert.equal(state.processes.get(a!)!.startNice, -5);
    sys.processes.get(a!)!.accepting = true;
    sys.advance(10);
    assert.deepEqual(sys.calls.slice(2), [[a, 0]], "only the ready worker's session goes back to 0");
    assert.equal(state.processes.get(a!)!.startNice, undefined);
    sys.processes.get(b!)!.accepting = true;
    sys.advance(10);
    assert.deepEqual(sys.calls.slice(3), [[b, 0]]);
    assert.equal(state.phase, "running");
    sys.advance(60_000);
    assert.equal(sys.calls.length, 4, "a ready worker is not touched again");
  });

  test("a reload's workers get it beside the serving ones, which keep 0", () => {
    const sys = new NiceSystem();
    const { sup } = running(sys);
    sup.start();
    for (const p of sys.alive()) p.accepting = true;
    sys.advance(10);
    const before = new Set(spawned(sys));
    sys.calls.length = 0;
    let ok: boolean | undefined;
    sup.reload(config({ workers: 2 }), boosted(-5), false, (r) => (ok = r.ok));
    const fresh = spawned(sys).filter((pid) => !before.has(pid));
    assert.deepEqual(sys.calls, fresh.map((pid) => [pid, -5]));
    for (const pid of fresh) sys.processes.get(pid)!.accepting = true;
    sys.advance(10);
    assert.equal(ok, true);
    assert.deepEqual(sys.calls.slice(2), fresh.map((pid) => [pid, 0]));
  });

  test("a worker started before the exec is given 0 by the next image when it is ready", () => {
    const sys = new NiceSystem();
    const old = running(sys);
    old.sup.start();
    for (const p of sys.alive()) p.accepting = true;
    sys.advance(10);
    old.sup.spawnEarly(config({ workers: 1 }), boosted(-5));
    const early = spawned(sys).at(-1)!;
    assert.deepEqual(sys.calls.at(-1), [early, -5]);
    sys.dropTimers();
    const { processes, phase: _phase, ...master } = old.state;
    const handed = JSON.parse(JSON.stringify({ master, processes: [...processes.values()] })) as Handover;
    const next = running(sys, boosted(-5), { workers: 1 }, restoreState(handed));
    assert.equal(next.state.processes.get(early)!.startNice, -5, "the state says so across the exec");
    let ok: boolean | undefined;
    next.sup.reload(config({ workers: 1 }), boosted(-5), false, (r) => (ok = r.ok), undefined, true);
    sys.processes.get(early)!.accepting = true;
    sys.advance(100);
    assert.equal(ok, true);
    assert.deepEqual(sys.calls.at(-1), [early, 0]);
  });

  test("a plan without start-nice touches no session", () => {
    const sys = new NiceSystem();
    const { sup } = running(sys, planA);
    sup.start();
    for (const p of sys.alive()) p.accepting = true;
    sys.advance(10);
    assert.deepEqual(sys.calls, []);
  });

  test("refused for the default: one debug line, no more tries in this image, nothing to restore", () => {
    const sys = new NiceSystem();
    sys.refuse = "not permitted (a nice value below 0 needs CAP_SYS_NICE or RLIMIT_NICE of at least 25)";
    const { sup, lines, state } = running(sys);
    sup.start();
    const refusals = lines.filter((l) => /start-nice/.test(l));
    assert.equal(refusals.length, 1, lines.join("\n"));
    assert.match(refusals[0]!, /^DEBUG start-nice -5 not applied to worker 1 \(\d+\): not permitted .*; not tried again until the master re-executes$/);
    assert.equal(sys.calls.length, 0);
    sys.refuse = undefined; // the second worker was not tried: no call, no record
    for (const p of sys.alive()) p.accepting = true;
    sys.advance(10);
    assert.equal(state.phase, "running");
    assert.deepEqual(sys.calls, [], "nothing to restore");
    assert.ok([...state.processes.values()].every((p) => p.startNice === undefined));
  });

  test("refused for a configured value: a warning", () => {
    const sys = new NiceSystem();
    sys.refuse = "not permitted";
    const { sup, lines } = running(sys, boosted(-10, true));
    sup.start();
    assert.deepEqual(lines.filter((l) => /start-nice/.test(l)).map((l) => l.split(" ")[0]), ["WARNING"]);
  });

  test("startNiceOf: the default, a configured value, 0, and workers ready at spawn", () => {
    const g = config().global;
    assert.equal(DEFAULT_START_NICE, -5);
    assert.deepEqual(startNiceOf(g), { nice: -5, explicit: false });
    assert.deepEqual(startNiceOf({ ...g, startNice: 7 }), { nice: 7, explicit: true });
    assert.deepEqual(startNiceOf({ ...g, startNice: -5 }), { nice: -5, explicit: true });
    assert.equal(startNiceOf({ ...g, startNice: 0 }), undefined);
    assert.equal(startNiceOf({ ...g, ready: { kind: "spawn" } }), undefined);
    assert.deepEqual(startNiceOf({ ...g, ready: { kind: "notify" } }), { nice: -5, explicit: false });
  });

  test("the key takes integers from -20 to 19, from the file or as command-line text", () => {
    const field = GLOBAL_FIELDS.find((f) => f.key === "start-nice")!;
    for (const v of [-20, -5, 0, 19]) assert.deepEqual(field.parse(v, false, "/"), { ok: true, value: v });
    assert.deepEqual(field.parse("-7", true, "/"), { ok: true, value: -7 });
    for (const bad of [-21, 20, 1.5, "-5", true]) {
      const r = field.parse(bad, false, "/");
      assert.equal(r.ok, false, `${JSON.stringify(bad)}`);
      assert.match((r as { error: string }).error, /must be an integer from -20 to 19/);
    }
    assert.equal(field.parse("x", true, "/").ok, false);
  });

  test("why a session's nice value could not be set, in one line", () => {
    assert.equal(sessionNiceProblem("EPERM", "EPERM: operation not permitted, write", -5), "not permitted (a nice value below 0 needs CAP_SYS_NICE or RLIMIT_NICE of at least 25)");
    assert.match(sessionNiceProblem("EACCES", "x", -20), /RLIMIT_NICE of at least 40/);
    assert.match(sessionNiceProblem("ENOENT", "x", -5), /^no \/proc\/PID\/autogroup \(the process is gone, or the kernel was built without autogroup\)$/);
    assert.equal(sessionNiceProblem("EIO", "EIO: i/o error, write", -5), "EIO: i/o error, write");
  });
});
