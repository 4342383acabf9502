import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { batchSize, parseRollout, parseSize } from "../../src/config/rollout.ts";
import { config, planB, runningOnFake } from "./_supervised.ts";

describe("rollout values", () => {
  test("batch:N, batch:P% and all; P% rounds up, at least 1; N above workers is all", () => {
    assert.deepEqual(parseRollout("all"), { ok: true, value: { kind: "all" } });
    assert.deepEqual(parseRollout("batch:2"), { ok: true, value: { kind: "batch", count: 2 } });
    assert.deepEqual(parseRollout("batch:25%"), { ok: true, value: { kind: "batch", percent: 25 } });
    for (const bad of ["batch", "batch:0", "batch:0%", "batch:101%", "batch:-1", "some", 3]) assert.equal(parseRollout(bad).ok, false, String(bad));
    assert.equal(batchSize({ kind: "batch", percent: 25 }, 4), 1);
    assert.equal(batchSize({ kind: "batch", percent: 30 }, 4), 2);
    assert.equal(batchSize({ kind: "batch", percent: 1 }, 8), 1);
    assert.equal(batchSize({ kind: "batch", percent: 100 }, 8), 8);
    assert.equal(batchSize({ kind: "batch", count: 10 }, 4), 4);
    assert.equal(batchSize({ kind: "batch", count: 3 }, 8), 3);
    assert.equal(batchSize({ kind: "all" }, 8), 8);
  });

  test("sizes: IEC and SI units kept apart; one-line errors", () => {
    assert.deepEqual(parseSize("512MiB"), { ok: true, value: 512 * 2 ** 20 });
    assert.deepEqual(parseSize("2GiB"), { ok: true, value: 2 * 2 ** 30 });
    assert.deepEqual(parseSize("100MB"), { ok: true, value: 100_000_000 });
    assert.deepEqual(parseSize("1.5G"), { ok: true, value: 1.5 * 2 ** 30 });
    assert.deepEqual(parseSize("0"), { ok: true, value: 0 });
    assert.deepEqual(parseSize(4096), { ok: true, value: 4096 });
    assert.match((parseSize("512") as { error: string }).error, /missing unit/);
    assert.match((parseSize("5 parsecs") as { error: string }).error, /unknown unit 'parsecs'/);
    assert.match((parseSize("-1MiB") as { error: string }).error, /negative/);
    assert.equal(parseSize("lots").ok, false);
    assert.equal(parseSize(1.5).ok, false);
  });
});

describe("batch rollout", () => {
  test("batch:1 of 4: one new worker, ready, one old stopped, its exit, the next; never more than 5 alive", async () => {
    const { sys, sup, state, flush, of, alive, named } = runningOnFake({ stopSignal: 10 });
    sys.ignoring.add(10); // old workers drain until the test ends them
    sys.peakAlive = 0;
    let result: { ok: boolean } | undefined;
    sup.reload(config({ rollout: { kind: "batch", count: 1 }, stopSignal: 10 }), planB, false, (r) => (result = r));
    for (let step = 1; step <= 4; step++) {
      assert.equal(of("/bin/b").length, step, `batch ${step} started alone`);
      const fresh = of("/bin/b")[step - 1]!;
      assert.equal(fresh.spec.argv[1], String(step), "new ids in order");
      sys.advance(100);
      assert.equal(of("/bin/b").length, step, "no next batch before this one is ready");
      fresh.accepting = true;
      sys.advance(30);
      if (step === 4) break;
      const stopped = of("/bin/a").filter((p) => p.signals.includes(10));
      assert.equal(stopped.length, step, "one old worker stopped per batch");
      assert.equal(stopped[step - 1]!.spec.argv[1], String(step), "the old worker with the id just replaced");
      assert.equal(alive("/bin/a").length + alive("/bin/b").length, 5);
      sys.advance(1000);
      assert.equal(of("/bin/b").length, step, "the next batch waits until the stopped old worker is gone");
      sys.exitProcess(stopped[step - 1]!.pid);
      await flush();
    }
    assert.deepEqual(result, { ok: true });
    assert.equal(state.reloads, 1);
    assert.ok(sys.peakAlive <= 5, `peak ${sys.peakAlive}`);
    assert.equal(sys.peakAlive, 5);
    const roles = [...state.processes.values()].map((p) => `${p.generation}:${p.role}`);
    assert.deepEqual(roles.filter((r) => r.endsWith("current")).length, 4);
    assert.deepEqual(of("/bin/a").filter((p) => p.signals.includes(10)).length, 4, "the last old worker retired with the reload");
    assert.deepEqual(named("batch-step").map((f) => [f.generation, f.started, f.stopped]), [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]);
  });

  test("each batch has its own ready-timeout", async () => {
    const { sys, sup, flush, of } = runningOnFake({ readyTimeout: 1000 });
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(config({ rollout: { kind: "batch", count: 2 }, readyTimeout: 1000 }), planB, false, (r) => (result = r));
    for (let batch = 0; batch < 2; batch++) {
      sys.advance(800);
      for (const p of of("/bin/b")) p.accepting = true;
      sys.advance(10);
      await flush(); // the stopped old workers (SIGTERM, not ignored) exit
    }
    assert.deepEqual(result, { ok: true }, "1.6 s in all, under 1 s per batch");
  });

  test("a batch that fails restores the old generation to its full count from its own plan, once the new workers are gone", async () => {
    const { sys, sup, state, flush, of, alive, named } = runningOnFake({ stopSignal: 10 });
    sys.ignoring.add(10);
    sys.peakAlive = 0;
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(config({ rollout: { kind: "batch", count: 1 }, stopSignal: 10 }), planB, false, (r) => (result = r));
    of("/bin/b")[0]!.accepting = true;
    sys.advance(30);
    const firstOld = of("/bin/a").find((p) => p.signals.includes(10))!;
    sys.exitProcess(firstOld.pid);
    await flush();
    const second = of("/bin/b")[1]!;
    sys.exitProcess(second.pid, 3); // the 2nd batch's worker exits before it is ready
    await flush();
    assert.equal(result?.ok, false);
    assert.match(result!.reason!, /worker 2 \(\d+\) exited with code 3 before it was ready/);
    const first = of("/bin/b")[0]!;
    assert.deepEqual(first.signals, [10], "the ready new worker (it served) gets its stop signal, not SIGKILL");
    assert.equal(of("/bin/a").filter((p) => p.alive && p.spec.argv[1] === "1").length, 0, "no restore while it drains");
    sys.exitProcess(first.pid);
    await flush();
    assert.equal(alive("/bin/b").length, 0, "every new worker gone");
    const restarted = of("/bin/a").filter((p) => p.alive && p.spec.argv[1] === "1");
    assert.equal(restarted.length, 1, "old worker 1 started again");
    assert.deepEqual(restarted[0]!.spec.argv, ["a", "1", "0"], "from the old plan, same id and generation");
    const current = [...state.processes.values()].filter((p) => p.role === "current");
    assert.deepEqual(current.map((p) => `${p.id}:${p.generation}`).sort(), ["1:0", "2:0", "3:0", "4:0"]);
    assert.equal(state.reloads, 0);
    assert.ok(sys.peakAlive <= 5, `peak ${sys.peakAlive}`);
    assert.equal(named("batch-step").length, 1);
    // the restored worker is current: it becomes ready and the next reload works
    restarted[0]!.accepting = true;
    sys.advance(30);
    assert.equal(state.processes.get(restarted[0]!.pid)!.ready, true);
    let again: { ok: boolean } | undefined;
    sup.reload(config({ ready: { kind: "spawn" } }), planB, false, (r) => (again = r));
    assert.deepEqual(again, { ok: true });
  });

  test("a batch not ready within ready-timeout fails the same way; restore waits until the killed new workers are gone", async () => {
    const { sys, sup, state, flush, of } = runningOnFake({ readyTimeout: 1000 });
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(config({ rollout: { kind: "batch", percent: 50 }, readyTimeout: 1000 }), planB, false, (r) => (result = r));
    assert.equal(of("/bin/b").length, 2, "50% of 4");
    for (const p of of("/bin/b")) p.accepting = true;
    sys.advance(30);
    await flush(); // the 2 stopped old workers exit on SIGTERM
    assert.equal(of("/bin/b").length, 4);
    sys.ignoring.add(9); // the new workers take their time to die of SIGKILL
    sys.advance(1000);
    assert.match(result!.reason!, /not ready within 1s/);
    assert.equal(of("/bin/a").length, 4, "no old worker restarted while killed new ones live");
    sys.ignoring.delete(9);
    for (const p of of("/bin/b")) sys.exitProcess(p.pid, 137);
    await flush();
    assert.equal(of("/bin/a").filter((p) => p.alive).length, 4);
    assert.equal([...state.processes.values()].filter((p) => p.role === "current").length, 4);
  });

  test("a new worker that was ready but dies while later batches start fails the rollout too", async () => {
    const { sys, sup, state, flush, of } = runningOnFake();
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(config({ rollout: { kind: "batch", count: 1 } }), planB, false, (r) => (result = r));
    of("/bin/b")[0]!.accepting = true;
    sys.advance(30);
    await flush(); // old worker 1 exits on SIGTERM; batch 2 starts
    assert.equal(of("/bin/b").length, 2);
    sys.exitProcess(of("/bin/b")[0]!.pid, 1);
    await flush();
    await flush();
    assert.match(result!.reason!, /worker 1 \(\d+\) exited with code 1 before its generation's rollout was over/);
    assert.deepEqual([...state.processes.values()].filter((p) => p.role === "current").map((p) => `${p.id}:${p.generation}`).sort(), ["1:0", "2:0", "3:0", "4:0"]);
  });

  test("before a same-binary exec only the first batch starts early; the adopting load goes on batch by batch", async () => {
    const { sys, sup, state, flush, of } = runningOnFake();
    const cfg = config({ rollout: { kind: "batch", count: 1 } });
    sup.spawnEarly(cfg, planB);
    assert.equal(of("/bin/b").length, 1);
    let result: { ok: boolean } | undefined;
    sup.reload(cfg, planB, false, (r) => (result = r), undefined, true);
    for (let step = 1; step <= 4; step++) {
      assert.equal(of("/bin/b").length, step);
      of("/bin/b")[step - 1]!.accepting = true;
      sys.advance(30);
      await flush();
    }
    assert.deepEqual(result, { ok: true });
    assert.equal(state.reloads, 1);
  });

  test("with probation, the probation starts after the last batch; a rollback brings back the old workers the batches stopped", async () => {
    const { sys, sup, state, flush, of, alive, named } = runningOnFake({ stopSignal: 10 });
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(config({ rollout: { kind: "batch", count: 1 }, probation: 10_000 }), planB, false, (r) => (result = r));
    for (let step = 1; step <= 4; step++) {
      assert.equal(named("probation-started").length, 0, `no probation before batch ${step} is ready`);
      of("/bin/b")[step - 1]!.accepting = true;
      sys.advance(30);
      await flush();
    }
    assert.equal(named("batch-step").length, 4);
    assert.equal(named("probation-started").length, 1);
    assert.equal(result as unknown, undefined, "the reload waits for the verdict");
    assert.equal(alive("/bin/a").length, 1, "the last batch's old worker serves beside the new generation");
    sup.probation.rollback("test");
    await flush();
    assert.equal(result?.ok, false);
    assert.equal(alive("/bin/a").length, 4, "the 3 old workers the batches stopped are started again");
    assert.deepEqual([...state.processes.values()].filter((p) => p.role === "current").map((p) => p.id).sort(), [1, 2, 3, 4]);
  });

  test("rollout = all (the default) starts every new worker at once", () => {
    const { sup, of } = runningOnFake();
    sup.reload(config(), planB, false, () => {});
    assert.equal(of("/bin/b").length, 4);
  });
});

