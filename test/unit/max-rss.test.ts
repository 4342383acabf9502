import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { samplePeriod } from "../../src/master/rss.ts";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import { Supervisor } from "../../src/master/supervisor.ts";
import { config, planA, planB, runningOnFake } from "./_supervised.ts";

const MiB = 2 ** 20;

describe("max-rss", () => {
  test("sampling period: a tenth of max-rss-for, at least 1 s; 1 s for the budget alone; none when off", () => {
    assert.equal(samplePeriod({ ...DEFAULT_GLOBAL }), undefined);
    assert.equal(samplePeriod({ ...DEFAULT_GLOBAL, maxRss: MiB, maxRssFor: 30_000 }), 3000);
    assert.equal(samplePeriod({ ...DEFAULT_GLOBAL, maxRss: MiB, maxRssFor: 2000 }), 1000);
    assert.equal(samplePeriod({ ...DEFAULT_GLOBAL, oldRssBudget: MiB }), 1000);
  });

  test("off by default: no sampling at all", () => {
    const { sys } = runningOnFake();
    sys.advance(120_000);
    assert.equal(sys.rssReads, 0);
  });

  test("a worker above the limit for max-rss-for is replaced: same id and generation, ready first, then soft-stopped", async () => {
    const { sys, state, flush, of, alive, named } = runningOnFake({ maxRss: 100 * MiB, maxRssFor: 10_000, stopSignal: 10 });
    sys.ignoring.add(10);
    const [w1, w2] = of("/bin/a");
    sys.rss.set(w1!.pid, 150 * MiB);
    sys.rss.set(w2!.pid, 50 * MiB);
    sys.advance(9_000);
    assert.equal(of("/bin/a").length, 4, "not before max-rss-for");
    sys.rss.set(w1!.pid, 90 * MiB); // a dip below the limit starts the count again
    sys.advance(1_000);
    sys.rss.set(w1!.pid, 150 * MiB);
    sys.advance(10_000);
    assert.equal(of("/bin/a").length, 4, "the dip reset the count");
    sys.advance(1_000);
    assert.equal(of("/bin/a").length, 5, "replacement started");
    const replacement = of("/bin/a")[4]!;
    assert.deepEqual(replacement.spec.argv, ["a", "1", "0"]);
    assert.deepEqual(w1!.signals, [], "the old one serves until its replacement is ready");
    sys.advance(5_000);
    assert.equal(of("/bin/a").length, 5, "one recycle at a time");
    replacement.accepting = true;
    sys.advance(30);
    assert.deepEqual(w1!.signals, [10], "soft stop once the replacement is ready");
    assert.equal(state.processes.get(w1!.pid)!.role, "old");
    assert.equal(state.processes.get(replacement.pid)!.role, "current");
    assert.deepEqual(named("recycle"), [{ event: "recycle", worker: 1, workerPid: w1!.pid, rss: 150 * MiB, limit: 100 * MiB }]);
    sys.exitProcess(w1!.pid);
    await flush();
    assert.equal(alive("/bin/a").length, 4);
    assert.equal(sys.exitCode, undefined);
    assert.equal(state.phase, "running");
  });

  test("a replacement that exits before it is ready is not on-failure's business; the old worker keeps serving and is tried again", async () => {
    const { sys, sup, state, flush, of } = runningOnFake({ maxRss: 100 * MiB, maxRssFor: 0, onFailure: "exit" });
    const w1 = of("/bin/a")[0]!;
    sys.rss.set(w1.pid, 150 * MiB);
    sys.advance(1_000);
    const replacement = of("/bin/a")[4]!;
    sys.exitProcess(replacement.pid, 1);
    await flush();
    assert.equal(state.phase, "running", "on-failure = exit did not stop the master");
    assert.equal(sys.exitCode, undefined);
    assert.deepEqual(w1.signals, []);
    sys.advance(1_000);
    assert.equal(of("/bin/a").length, 6, "tried again");
    void sup;
  });

  test("a replacement not ready within ready-timeout is killed; the old worker stays", async () => {
    const { sys, flush, of } = runningOnFake({ maxRss: 100 * MiB, maxRssFor: 0, readyTimeout: 5_000 });
    const w1 = of("/bin/a")[0]!;
    sys.rss.set(w1.pid, 150 * MiB);
    sys.advance(1_000);
    const replacement = of("/bin/a")[4]!;
    sys.advance(5_000);
    await flush();
    assert.equal(replacement.alive, false);
    assert.equal(w1.alive, true);
    assert.deepEqual(w1.signals, []);
  });

  test("a recycle in flight at a re-exec goes on in the new image: the replacement is watched, then the old one retired", () => {
    const { sys, state, of, log } = runningOnFake({ maxRss: 100 * MiB, maxRssFor: 0, stopSignal: 10 });
    sys.ignoring.add(10);
    const w1 = of("/bin/a")[0]!;
    sys.rss.set(w1.pid, 150 * MiB);
    sys.advance(1_000);
    const replacement = of("/bin/a")[4]!;
    // the exec: a new image's supervisor takes over the same state
    state.phase = "reloading";
    sys.dropTimers();
    const next = new Supervisor(config({ maxRss: 100 * MiB, maxRssFor: 0, stopSignal: 10 }), state, sys, log, planA);
    sys.onDeath = (ws) => next.childExited(ws);
    next.resume();
    assert.deepEqual(w1.signals, []);
    replacement.accepting = true;
    sys.advance(30);
    assert.equal(state.processes.get(replacement.pid)!.ready, true, "watched for readiness in the new image");
    assert.deepEqual(w1.signals, [10], "and the old one retired");
    assert.equal(state.processes.get(w1.pid)!.role, "old");
  });

  test("no recycle during a reload", () => {
    const { sys, sup, of } = runningOnFake({ maxRss: 100 * MiB, maxRssFor: 0 });
    sys.rss.set(of("/bin/a")[0]!.pid, 150 * MiB);
    sup.reload(config({ maxRss: 100 * MiB, maxRssFor: 0 }), planB, false, () => {});
    sys.advance(3_000);
    assert.equal(of("/bin/a").length, 4);
  });
});

describe("old-rss-budget", () => {
  test("old workers above the budget together: the oldest first, until the rest fit; stop signal already sent → SIGKILL", async () => {
    const { sys, sup, state, flush, of, named } = runningOnFake({ oldRssBudget: 250 * MiB, stopSignal: 10 });
    sys.ignoring.add(10);
    const gen0 = of("/bin/a");
    const cfg = config({ ready: { kind: "spawn" }, oldRssBudget: 250 * MiB, stopSignal: 10 });
    sys.advance(1);
    sup.reload(cfg, planB, false, () => {});
    sys.advance(1);
    sup.reload(cfg, planB, false, () => {});
    const gen1 = of("/bin/b").slice(0, 4);
    for (const p of [...gen0, ...gen1]) sys.rss.set(p.pid, 50 * MiB); // 8 old workers, 400 MiB
    sys.advance(1_000);
    await flush();
    const hit = named("budget-kill").map((f) => f.workerPid);
    assert.deepEqual(hit, gen0.slice(0, 3).map((p) => p.pid), "the 3 oldest: 400 → 250 MiB");
    for (const p of gen0.slice(0, 3)) assert.deepEqual(p.signals, [10, 9]);
    assert.deepEqual(gen0[3]!.signals, [10]);
    for (const p of gen1) assert.equal(p.alive, true);
    sys.advance(5_000);
    assert.equal(named("budget-kill").length, 3, "under budget now");
    assert.equal(state.phase, "running");
  });

  test("current workers do not count against the budget", () => {
    const { sys, of, named } = runningOnFake({ oldRssBudget: 10 * MiB });
    for (const p of of("/bin/a")) sys.rss.set(p.pid, 50 * MiB);
    sys.advance(5_000);
    assert.equal(named("budget-kill").length, 0);
  });
});
