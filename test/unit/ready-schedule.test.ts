// The window of `accepting` checks between the poll's rounds (src/master/ready-schedule.ts):
// what is learned from a worker found accepting, and when the next worker is checked.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KEPT_SAMPLES, KEPT_TIMES, WINDOW_CHECKS, learn, learnedFor, nextPollAt, nextWindowCheck, readyKey, sampleOf, windowSteps } from "../../src/master/ready-schedule.ts";

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

  const span = (times: ReturnType<typeof learn>) => times.map((t) => [t.low, t.high]);

  test("the recent starts of a command are kept, most recent first, the last KEPT_SAMPLES; low-high spans them", () => {
    let known = learn(undefined, { key: A, low: 40, high: 45 });
    assert.deepEqual(known, [{ key: A, low: 40, high: 45, samples: [[40, 45]] }]);
    known = learn(known, { key: A, low: 36, high: 37 });
    known = learn(known, { key: A, low: 60, high: 61 });
    assert.deepEqual(span(known), [[36, 61]]);
    assert.deepEqual(known[0]!.samples, [[60, 61], [36, 37], [40, 45]]);
    for (let i = 0; i < KEPT_SAMPLES; i++) known = learn(known, { key: A, low: 30, high: 31 });
    assert.deepEqual(span(known), [[30, 31]], "older starts are forgotten");
    assert.equal(known[0]!.samples!.length, KEPT_SAMPLES);
  });

  test("a sample wider than WINDOW_CHECKS ms is not learned (adopted after an exec: first checked long after)", () => {
    const known = learn(undefined, { key: A, low: 40, high: 41 });
    assert.deepEqual(learn(known, { key: A, low: 0, high: 60 }), known);
    assert.deepEqual(learn(undefined, { key: A, low: 100, high: 100 + WINDOW_CHECKS + 1 }), []);
    assert.deepEqual(span(learn(known, { key: A, low: 100, high: 100 + WINDOW_CHECKS })), [[40, 100 + WINDOW_CHECKS]]);
  });

  test("what an earlier version handed over (no samples) is the one start it describes", () => {
    assert.deepEqual(learn([{ key: A, low: 40, high: 45 }], { key: A, low: 46, high: 47 }), [{ key: A, low: 40, high: 47, samples: [[46, 47], [40, 45]] }]);
    assert.deepEqual(windowSteps({ key: A, low: 40, high: 42 }), [41, 42]);
  });

  test("the most recent command first, at most KEPT_TIMES of them", () => {
    let times = learn(undefined, { key: A, low: 40, high: 45 });
    for (let i = 0; i < KEPT_TIMES; i++) times = learn(times, { key: `k${i}`, low: i, high: i + 5 });
    assert.equal(times.length, KEPT_TIMES);
    assert.equal(times[0]!.key, `k${KEPT_TIMES - 1}`);
    assert.equal(learnedFor(times, A), undefined, "the oldest command is forgotten");
    assert.deepEqual(learnedFor(learn(times, { key: "k0", low: 7, high: 9 }), "k0"), { key: "k0", low: 0, high: 9, samples: [[7, 9], [0, 5]] });
  });
});

describe("when the next worker is checked", () => {
  const learned = { key: A, low: 40, high: 42 };

  test("nothing learned: no check between rounds", () => {
    assert.equal(nextWindowCheck({ startedAt: 1000, windowChecks: 0 }, undefined), undefined);
  });

  test("the steps: every whole ms where the recent starts were found (low excluded, high included), gaps narrower than a round filled; evenly further apart beyond WINDOW_CHECKS steps", () => {
    const near = learn(learn(undefined, { key: A, low: 28, high: 29 }), { key: A, low: 26, high: 32 })[0]!;
    assert.deepEqual(windowSteps(near), [27, 28, 29, 30, 31, 32]);
    assert.deepEqual(windowSteps({ key: A, low: 30, high: 30 }), [31], "one step at least");
    assert.deepEqual(windowSteps({ key: A, low: 10, high: 10 + WINDOW_CHECKS }), Array.from({ length: WINDOW_CHECKS }, (_, i) => 11 + i));
    const bimodal = learn([near], { key: A, low: 45, high: 50 })[0]!;
    assert.deepEqual(windowSteps(bimodal), [27, 28, 29, 30, 31, 32, 46, 47, 48, 49, 50], "two clusters, every 1 ms in each; the rounds cover the 13 ms between");
    const gap = { key: A, low: 20, high: 40, samples: [[20, 22], [26, 27], [36, 40]] as Array<[number, number]> };
    assert.deepEqual(windowSteps(gap), [21, 22, 23, 24, 25, 26, 27, 37, 38, 39, 40], "a 3 ms gap is filled, an 8 ms one is not");
    const wide = windowSteps({ key: A, low: 100, high: 100 + 5 * WINDOW_CHECKS });
    assert.equal(wide.length, WINDOW_CHECKS);
    assert.deepEqual([wide[0], wide[1]! - wide[0]!], [101, 5], "101..180: every 5 ms");
    assert.ok(wide.at(-1)! <= 100 + 5 * WINDOW_CHECKS);
  });

  test("each step once: those a check (a round's or a late one) covered are passed", () => {
    assert.equal(nextWindowCheck({ startedAt: 1000, windowChecks: 0 }, learned), 1041);
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1035, windowChecks: 0 }, learned), 1041, "a round before the window");
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1041, windowChecks: 1 }, learned), 1042);
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1042, windowChecks: 2 }, learned), 1043, "the window is behind: the checks left follow it, 1 ms apart");
    assert.equal(nextWindowCheck({ startedAt: 1000, lastMissAt: 1045.5, windowChecks: 1 }, learned), 1046, "after a late check or a round: the next whole ms after it");
    const bimodal = { key: A, low: 28, high: 50, samples: [[28, 29], [48, 50]] as Array<[number, number]> };
    assert.equal(nextWindowCheck({ startedAt: 0, lastMissAt: 29, windowChecks: 1 }, bimodal), 49, "from one cluster to the next: the rounds cover the gap");
    assert.equal(nextWindowCheck({ startedAt: 0, lastMissAt: 47, windowChecks: 1 }, bimodal), 49);
    assert.equal(nextWindowCheck({ startedAt: 0, lastMissAt: 49, windowChecks: 2 }, bimodal), 50);
    assert.equal(nextWindowCheck({ startedAt: 0, lastMissAt: 50, windowChecks: 3 }, bimodal), 51);
  });

  test("a worker slower than its recent starts: the checks left every 1 ms after the window, WINDOW_CHECKS in all", () => {
    const steps: number[] = [];
    let w = { startedAt: 0, lastMissAt: undefined as number | undefined, windowChecks: 0 };
    for (let at = nextWindowCheck(w, learned); at !== undefined; at = nextWindowCheck(w, learned)) {
      steps.push(at);
      w = { startedAt: 0, lastMissAt: at, windowChecks: w.windowChecks + 1 };
    }
    assert.deepEqual(steps, Array.from({ length: WINDOW_CHECKS }, (_, i) => 41 + i));
  });

  test("the window is WINDOW_CHECKS steps long at most, however wide what was learned", () => {
    const wide = { key: A, low: 40, high: 400, samples: [[40, 52], [60, 72], [80, 92]] as Array<[number, number]> };
    const steps: number[] = [];
    let w = { startedAt: 0, lastMissAt: undefined as number | undefined, windowChecks: 0 };
    for (let at = nextWindowCheck(w, wide); at !== undefined; at = nextWindowCheck(w, wide)) {
      steps.push(at);
      w = { startedAt: 0, lastMissAt: at, windowChecks: w.windowChecks + 1 };
    }
    assert.equal(steps.length, WINDOW_CHECKS);
    assert.deepEqual(steps, windowSteps(wide));
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
