/**
 * Old workers after a reload (REFERENCE §5.3 steps 7–8): `hard-stop-after` SIGKILLs one that
 * ignores its stop signal; `max-reloads` sends SIGTERM to one that has survived too many
 * reloads.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  e2e,
  expectReloaded,
  fixture,
  isAlive,
  MODES,
  reachPid,
  serving,
  sleep,
  waitGone,
  waitReaped,
  workersOf,
} from "./_harness.ts";

for (const mode of MODES) {
  describe(`reload: old workers [${mode}]`, () => {
    test("hard-stop-after (1s): an old worker that ignores SIGTERM is SIGKILLed after a reload", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("ignore-sigterm.cjs"), { "hard-stop-after": "1s", "ready-timeout": "5s" }));
      await steward.ready();
      const http = await steward.listener("http");
      const [old] = workersOf(steward, 0);

      await expectReloaded(steward);
      const [current] = workersOf(steward, 1);
      const stopped = await steward.waitForLine(new RegExp(`Old worker 1 \\(${old!.pid}\\) of generation 0 sent SIGTERM`), 5_000);
      await steward.waitForLine(new RegExp(`ignore-sigterm ${old!.pid} received SIGTERM`), 5_000);
      const expired = await steward.waitForLine(/hard-stop-after \(1s\) expired: killing (.*)/, 5_000, stopped.line.index);
      assert.match(expired.match[1]!, new RegExp(`\\b${old!.pid}\\b`), steward.log());
      assert.doesNotMatch(expired.match[1]!, new RegExp(`\\b${current!.pid}\\b`), `the current worker is not killed${steward.log()}`);
      const after = expired.line.at - stopped.line.at;
      assert.ok(after >= 900 && after < 3_000, `killed ${after}ms after its stop signal; hard-stop-after is 1s${steward.log()}`);
      await waitReaped(steward.pid, [old!.pid], 2_000);
      await steward.waitForLine(new RegExp(`\\(${old!.pid}\\).*(signal 9|SIGKILL)`), 2_000);

      assert.ok(isAlive(steward.pid) && !steward.exit, `the master is alive${steward.log()}`);
      assert.ok(isAlive(current!.pid), `the current worker is alive${steward.log()}`);
      const report = await reachPid(http.url, current!.pid);
      assert.equal(report.pid, current!.pid);
    }));

    test("max-reloads = 1: an old worker that ignores its stop-signal gets SIGTERM after the second reload", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("ignore-signal.cjs", "SIGUSR1"), {
        "max-reloads": 1,
        "stop-signal": "SIGUSR1",
        "hard-stop-after": "0",
        "ready-timeout": "5s",
      }));
      await steward.ready();
      const http = await steward.listener("http");
      const [w0] = workersOf(steward, 0);

      // reload 1: w0 is old (1 reload survived), gets SIGUSR1, ignores it and stays
      await expectReloaded(steward);
      const [w1] = workersOf(steward, 1);
      await steward.waitForLine(new RegExp(`Old worker 1 \\(${w0!.pid}\\) of generation 0 sent SIGUSR1`), 5_000);
      await steward.waitForLine(new RegExp(`ignore-signal ${w0!.pid} received SIGUSR1 \\(ignored\\)`), 5_000);
      await sleep(500);
      assert.ok(isAlive(w0!.pid), `w0 (${w0!.pid}) ignores SIGUSR1 and stays${steward.log()}`);
      assert.equal(steward.matching(new RegExp(`\\(${w0!.pid}\\).*survived`)).length, 0, `no max-reloads action after 1 reload${steward.log()}`);

      // reload 2: w0 has survived 2 > 1 reloads: SIGTERM, and it exits; w1 only gets SIGUSR1
      const second = await expectReloaded(steward);
      const [w2] = workersOf(steward, 2);
      const survived = await steward.waitForLine(
        new RegExp(`\\(${w0!.pid}\\).*survived (\\d+) reloads \\(max-reloads = 1\\): sent SIGTERM`),
        5_000,
        second.from,
      );
      assert.equal(survived.match[1], "2", steward.log());
      await steward.waitForLine(new RegExp(`ignore-signal ${w0!.pid} received SIGTERM, exiting`), 5_000);
      await waitGone([w0!.pid], 5_000);
      await steward.waitForLine(new RegExp(`Old worker 1 \\(${w0!.pid}\\) exited with code 0`), 2_000);

      await steward.waitForLine(new RegExp(`Old worker 1 \\(${w1!.pid}\\) of generation 1 sent SIGUSR1`), 5_000);
      await sleep(500);
      assert.ok(isAlive(w1!.pid), `w1 (${w1!.pid}) survived 1 reload only: still alive${steward.log()}`);
      assert.equal(steward.matching(new RegExp(`\\(${w1!.pid}\\).*survived`)).length, 0, steward.log());
      assert.equal((await reachPid(http.url, w2!.pid)).env.STEWARD_GENERATION, "2");
    }));
  });
}
