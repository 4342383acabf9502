// The window of `accepting` checks between the poll's rounds (src/master/ready-schedule.ts):
// what is learned from a worker found accepting, and when the next worker is checked.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KEPT_TIMES, WINDOW_CHECKS, learn, learnedFor, nextPollAt, nextWindowCheck, readyKey, sampleOf } from "../../src/master/ready-schedule.ts";

const A = readyKey({ command: ["haproxy", "-db", "-f", "a.cfg"] });

describe("what is learned", () => {
  test("the command (and its directory) is the key: another command, or the same in another directory, learns its own", () => {
    assert.notEqual(readyKey({ command: ["haproxy", "-db", "-f", "b.cfg"] }), A);
    assert.notEqual(readyKey({ command: ["haproxy", "-db", "-f", "a.cfg"], cwd: "/srv" }), A);
    assert.equal(readyKey({ command: ["haproxy", "-db", "-f", "a.cfg"] }), A);
    assert.notEqual(readyKey({ command: ["a b"] }), readyKey({ command: ["a", "b"] }), "arguments are not joined by spaces");
  });

  test("a sample runs from the last check that missed (the spawn when none did) to the check that found it", () => {
    assert.deepEqual(sampleOf(A, 1000, 1040, 1045), { key: A, low: 40, high: 45 });
    assert.deepEqual(sampleOf(A, 1000, undefined, 1045), { key: A, low: 0, high: 45 });
  });

  test("an overlapping sample narrows what is known; a disjoint one replaces it", () => {
    const known = learn(undefined, { key: A, low: 40, high: 45 });
    assert.deepEqual(learn(known, { key: A, low: 0, high: 60 }), [{ key: A, low: 40, high: 45 }], "adopted after an exec: first checked long after");
    assert.deepEqual(learn(known, { key: A, low: 42, high: 50 }), [{ key: A, low: 42, high: 45 }]);
    assert.deepEqual(learn(known, { key: A, low: 45, high: 46 }), [{ key: A, low: 45, high: 46 }], "(40,45] and (45,46] do not overlap");
    assert.deepEqual(learn(known, { key: A, low: 20, high: 25 }), [{ key: A, low: 20, high: 25 }]);
  });

  test("the most recent command first, at most KEPT_TIMES of them", () => {
    let times = learn(undefined, { key: A, low: 40, high: 45 });
    for (let i = 0; i < KEPT_TIMES; i++) times = learn(times, { key: `k${i}`, low: i, high: i + 5 });
    assert.equal(times.length, KEPT_TIMES);
    assert.equal(times[0]!.key, `k${KEPT_TIMES - 1}`);
    assert.equal(learnedFor(times, A), undefined, "the oldest command is forgotten");
    assert.deepEqual(learnedFor(learn(times, { key: "k0", low: 7, high: 9 }), "k0"), { key: "k0", low: 7, high: 9 });
  });
});

describe("when the next worker is checked", () => {
  const learned = { key: A, low: 40, high: 42 };

  test("nothing learned: no check between rounds", () => {
    assert.equal(nextWindowCheck({ startedAt: 1000, windowChecks: 0 }, undefined), undefined);
  });

  test("from the learned low on, at 1 ms steps, each step once: those a check (a round's or a late one) covered are passed", () => {
    assert.equal(nextWindowCheck({ startedAt: 1000, windowChecks: 0 }, learned), 1040);
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1035, windowChecks: 0 }, learned), 1040, "a round before the window");
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1040, windowChecks: 1 }, learned), 1041);
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1042, windowChecks: 1 }, learned), 1043, "a late check covered 1041 and 1042");
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1050, windowChecks: 0 }, learned), undefined, "the window is behind");
  });

  test("the window is WINDOW_CHECKS steps long, however wide what was learned", () => {
    const wide = { key: A, low: 40, high: 400 };
    const steps: number[] = [];
    let w = { startedAt: 0, lastMissAt: undefined as number | undefined, windowChecks: 0 };
    for (let at = nextWindowCheck(w, wide); at !== undefined; at = nextWindowCheck(w, wide)) {
      steps.push(at);
      w = { startedAt: 0, lastMissAt: at, windowChecks: w.windowChecks + 1 };
    }
    assert.deepEqual(steps, Array.from({ length: WINDOW_CHECKS }, (_, i) => 40 + i));
  });

  test("no more than WINDOW_CHECKS checks, even when what is learned moves while the worker waits", () => {
    let w = { startedAt: 0, lastMissAt: undefined as number | undefined, windowChecks: 0 };
    let checks = 0;
    for (let low = 10; low < 100; low += 2) {
      const at = nextWindowCheck(w, { key: A, low, high: low + 1 });
      if (at === undefined) continue;
      checks++;
      w = { startedAt: 0, lastMissAt: at, windowChecks: w.windowChecks + 1 };
    }
    assert.equal(checks, WINDOW_CHECKS);
  });

  test("the timer: the round, or an earlier window check, never before the duty cycle allows", () => {
    assert.equal(nextPollAt(105, [undefined, 103, 104], 0), 103);
    assert.equal(nextPollAt(105, [undefined, 110], 0), 105, "a window after the round waits for it (the round checks every worker)");
    assert.equal(nextPollAt(105, [101], 102.5), 102.5, "three times the last checks' cost after they ended");
    assert.equal(nextPollAt(105, [], 0), 105);
  });
});
