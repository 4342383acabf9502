/**
 * Readiness (REFERENCE §5.2): accepting, notify, delay:DUR, spawn; and a first generation that
 * is never ready (exit 1 after ready-timeout, with the reason) or dies first (its code).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ask, e2e, fixture, isAlive, MODES, serving, type Steward, waitGone } from "./_harness.ts";

/** Milliseconds between worker 1's `started` line and its `is ready` line. */
async function readyAfter(steward: Steward): Promise<{ ms: number; pid: number }> {
  const started = await steward.waitForLine(/Worker 1 \((\d+)\) started/, 15_000);
  const pid = Number(started.match[1]);
  const ready = await steward.waitForLine(new RegExp(`Worker 1 \\(${pid}\\) is ready`), 10_000, started.line.index);
  return { ms: ready.line.at - started.line.at, pid };
}

/** The start-up must fail with `code` and a `Loading failure:` line matching `reason`. */
async function expectLoadingFailure(steward: Steward, code: number, reason: RegExp): Promise<{ pid: number; ms: number }> {
  const started = await steward.waitForLine(/Worker 1 \((\d+)\) started/, 15_000);
  const pid = Number(started.match[1]);
  const exit = await steward.expectExit(code, 15_000);
  const failure = steward.matching(/Loading failure: (.*)/);
  assert.equal(failure.length, 1, `one 'Loading failure:' line${steward.log()}`);
  assert.match(failure[0]!.match[1]!, reason, steward.log());
  assert.match(failure[0]!.match[1]!, new RegExp(`\\b${pid}\\b`), `the reason names the worker's PID${steward.log()}`);
  assert.equal(steward.matching(/Loading success\./).length, 0, steward.log());
  await waitGone([pid], 1_000);
  return { pid, ms: exit.at - started.line.at };
}

for (const mode of MODES) {
  describe(`readiness [${mode}]`, () => {
    test("accepting: ready only once the worker accepts on its listener", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { ready: "accepting" }, { LISTEN_DELAY_MS: "700" }));
      const { ms, pid } = await readyAfter(steward);
      assert.ok(ms >= 500, `ready ${ms}ms after start, but the worker only accepts after 700ms${steward.log()}`);
      await steward.ready();
      const http = await steward.listener("http");
      assert.equal((await ask(http.url)).pid, pid);
    }));

    test("accepting: a worker listening on another port fails the start after ready-timeout, exit 1", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("listen-elsewhere.cjs"), { ready: "accepting", "ready-timeout": "1s" }));
      await steward.waitForLine(/listen-elsewhere \d+ listening on port/);
      const { ms } = await expectLoadingFailure(steward, 1, /not ready within 1s.*not accepting/);
      assert.ok(ms >= 800, `failed ${ms}ms after start, before ready-timeout (1s)${steward.log()}`);
    }));

    test("notify: ready when the worker sends READY=1, not when it accepts", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("notify-ready.py", "700"), { ready: "notify" }));
      const { ms, pid } = await readyAfter(steward);
      assert.ok(ms >= 500, `ready ${ms}ms after start, but READY=1 is sent after 700ms${steward.log()}`);
      await steward.waitForLine(new RegExp(`notify-ready ${pid} sent READY=1`));
      await steward.ready();
      const http = await steward.listener("http");
      const report = await ask(http.url);
      assert.equal(report.pid, pid);
      assert.equal(report.env.LISTEN_PID, String(pid));
    }));

    test("notify: a worker that never sends READY=1 fails the start after ready-timeout, exit 1", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("notify-ready.py", "never"), { ready: "notify", "ready-timeout": "1s" }));
      const { ms } = await expectLoadingFailure(steward, 1, /not ready within 1s/);
      assert.ok(ms >= 800, `failed ${ms}ms after start, before ready-timeout (1s)${steward.log()}`);
    }));

    test("delay:700ms: ready when still alive 700ms after spawn, listening or not", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("listen-elsewhere.cjs"), { ready: "delay:700ms", "ready-timeout": "5s" }));
      const { ms, pid } = await readyAfter(steward);
      assert.ok(ms >= 500, `ready ${ms}ms after start, before the 700ms delay${steward.log()}`);
      await steward.ready();
      assert.ok(isAlive(pid));
    }));

    test("delay: a worker exiting with 3 before the delay fails the start with exit 3", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("exit-with.cjs", "3", "200"), { ready: "delay:1s", "ready-timeout": "5s" }));
      await expectLoadingFailure(steward, 3, /exited with code 3/);
    }));

    test("spawn: ready as soon as spawned, listening or not", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("listen-elsewhere.cjs"), { ready: "spawn", "ready-timeout": "1s" }));
      const { ms, pid } = await readyAfter(steward);
      assert.ok(ms < 800, `ready ${ms}ms after spawn${steward.log()}`);
      await steward.ready();
      assert.ok(isAlive(pid));
    }));
  });
}
