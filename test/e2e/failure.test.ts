/**
 * A current worker killed with SIGKILL, under each `on-failure` policy (REFERENCE §5.6).
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, test } from "node:test";
import { ask, collectPids, e2e, fixture, isAlive, MODES, reachPid, serving, sleep, waitGone } from "./_harness.ts";

for (const mode of MODES) {
  describe(`on-failure [${mode}]`, () => {
    test("exit: the master stops the other workers and exits 137", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "on-failure": "exit" }));
      await steward.ready();
      const [victim, other] = await steward.waitForWorkers(2);
      process.kill(victim!.pid, "SIGKILL");

      await steward.expectExit(137);
      await steward.waitForLine(new RegExp(`\\(${victim!.pid}\\) (exited|killed)\\b.*(signal 9|SIGKILL)`), 1_000);
      assert.ok(!isAlive(other!.pid), `worker ${other!.pid} still alive after the master exited${steward.log()}`);
      await steward.waitForLine(new RegExp(`http-worker ${other!.pid} received SIGTERM`), 1_000);
      await steward.waitForLine(/Exiting master with code 137/, 1_000);
    }));

    test("restart: a new worker with the same id is started after ~1s and serves", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "on-failure": "restart" }));
      await steward.ready();
      const http = await steward.listener("http");
      const [victim, other] = await steward.waitForWorkers(2);
      const killedAt = Date.now();
      process.kill(victim!.pid, "SIGKILL");

      const restarted = await steward.waitForLine(
        new RegExp(`Worker ${victim!.id} \\((?!${victim!.pid}\\))(\\d+)\\) started`),
        10_000,
        victim!.index + 1,
      );
      const pid = Number(restarted.match[1]);
      const backOff = restarted.line.at - killedAt;
      assert.ok(backOff >= 800, `replacement started ${backOff}ms after the kill, expected a ~1s back-off${steward.log()}`);
      assert.ok(backOff < 5_000, `replacement started only ${backOff}ms after the kill${steward.log()}`);
      await steward.waitForLine(new RegExp(`Worker ${victim!.id} \\(${pid}\\) is ready`), 10_000, restarted.line.index);

      const report = await reachPid(http.url, pid);
      assert.equal(report.env.STEWARD_WORKER_ID, String(victim!.id));
      assert.equal(report.env.STEWARD_GENERATION, "0");
      assert.equal(report.env.LISTEN_PID, String(pid));
      assert.ok(isAlive(other!.pid), "the other worker was left alone");
      assert.equal(steward.exit, undefined, `the master keeps running${steward.log()}`);
    }));

    test("ignore: the master and the other worker keep serving, nothing is restarted", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "on-failure": "ignore" }));
      await steward.ready();
      const http = await steward.listener("http");
      const [victim, other] = await steward.waitForWorkers(2);
      await collectPids(http.url, 2);
      process.kill(victim!.pid, "SIGKILL");

      await steward.waitForLine(new RegExp(`\\(${victim!.pid}\\) (exited|killed)\\b.*(signal 9|SIGKILL)`), 5_000);
      await waitGone([victim!.pid], 1_000);
      // longer than the restart back-off (1s): proves nothing is restarted and nobody exits
      const until = Date.now() + 1_300;
      while (Date.now() < until) {
        assert.equal((await ask(http.url)).pid, other!.pid);
        await sleep(50);
      }
      assert.equal(steward.exit, undefined, `the master keeps running${steward.log()}`);
      assert.equal(steward.started().length, 2, `no replacement worker${steward.log()}`);
      assert.ok(isAlive(other!.pid));

      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));
  });
}
