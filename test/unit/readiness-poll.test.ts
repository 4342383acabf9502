// The `accepting` poll's duty cycle (src/master/load.ts): the next round waits three times
// what the last one cost the master in CPU time, not in wall time, so a master preempted
// in the middle of a round (64 workers starting in its scheduler group) polls again soon.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Config } from "../../src/config/types.ts";
import { Supervisor } from "../../src/master/supervisor.ts";
import type { MasterState } from "../../src/state.ts";
import { FakeSystem } from "./_fake-system.ts";
import { config as sharedConfig, recordingLog } from "./_supervised.ts";

/** Each check costs 1 ms of the master's CPU and 100 ms of wall time (the master waits for a CPU). */
class Preempted extends FakeSystem {
  wall = 0;
  cpu = 0;
  override now(): number {
    return this.clock + this.wall;
  }
  cpuTime(): number {
    return this.clock + this.cpu;
  }
  override isAccepting(pid: number): boolean {
    this.wall += 100;
    this.cpu += 1;
    return super.isAccepting(pid);
  }
}

/** Records what each round told the ports: whether another round follows. */
class Recording extends FakeSystem {
  rounds: boolean[] = [];
  acceptingPolled(again: boolean): void {
    this.rounds.push(again);
  }
}

function start(sys: FakeSystem, workers: number, readyTimeout = 60_000) {
  const { log } = recordingLog();
  const config = sharedConfig({ workers, readyTimeout });
  const state: MasterState = { pid: 1, startedAt: sys.now(), reloads: 0, failedReloads: 0, version: "test", phase: "starting", processes: new Map() };
  let loaded = 0;
  const sup = new Supervisor(config, state, sys, log, (id) => ({ label: `worker ${id}`, path: "/bin/true", argv: ["true", String(id)], env: {}, fds: [] }), {
    loaded: () => loaded++,
  });
  sup.start();
  return { loaded: () => loaded };
}

describe("accepting poll duty cycle", () => {
  test("a round that cost 4 ms of CPU but 400 ms of wall time is followed by the next after 12 ms, not 1200 ms", () => {
    const sys = new Preempted();
    const { loaded } = start(sys, 4);
    sys.advance(5);
    assert.equal(sys.cpu, 4, "one round over the 4 workers");
    assert.equal(loaded(), 0);
    for (const p of sys.processes.values()) p.accepting = true;
    sys.advance(11);
    assert.equal(loaded(), 0, "not before 3 x 4 ms");
    sys.advance(1);
    assert.equal(loaded(), 1);
  });

  test("without the master's CPU time, wall time counts as before", () => {
    const sys = new Preempted();
    (sys as { cpuTime?: unknown }).cpuTime = undefined;
    const { loaded } = start(sys, 4);
    sys.advance(5);
    for (const p of sys.processes.values()) p.accepting = true;
    sys.advance(1199);
    assert.equal(loaded(), 0);
    sys.advance(1);
    assert.equal(loaded(), 1);
  });

  test("the rounds say whether another follows: the last one (every worker ready) says none, and so does a stop", () => {
    const ready = new Recording();
    start(ready, 2);
    ready.advance(5);
    assert.deepEqual(ready.rounds, [true]);
    for (const p of ready.processes.values()) p.accepting = true;
    ready.advance(5);
    assert.deepEqual(ready.rounds, [true, false]);
    ready.advance(100);
    assert.deepEqual(ready.rounds, [true, false], "no round once nothing waits");

    const failed = new Recording();
    start(failed, 2, 20);
    failed.advance(19);
    assert.equal(failed.rounds.at(-1), true);
    failed.advance(1);
    assert.equal(failed.rounds.at(-1), false, "a failed start stops the master: what the rounds kept is released");
  });
});
