/**
 * Stopping (REFERENCE §5.7, §6): the signals that stop the master and their exit codes, the
 * stop signal the workers get, hard-stop-after, and a master killed with SIGKILL.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, test } from "node:test";
import { e2e, fixture, isAlive, MODES, serving, waitGone } from "./_harness.ts";

const stops: Array<{ signal: NodeJS.Signals; code: number; stopSignal?: NodeJS.Signals }> = [
  { signal: "SIGTERM", code: 0 },
  { signal: "SIGINT", code: 130 },
  { signal: "SIGUSR1", code: 0 },
  { signal: "SIGTERM", code: 0, stopSignal: "SIGUSR2" },
];

for (const mode of MODES) {
  describe(`stop [${mode}]`, () => {
    for (const { signal, code, stopSignal } of stops) {
      const sent = stopSignal ?? "SIGTERM";
      const name = `${signal} → exit ${code}; the workers get ${sent}${stopSignal ? " (stop-signal)" : ""} and are gone`;
      test(name, e2e(mode, async (bed) => {
        const global: Record<string, string | number> = { workers: 2 };
        if (stopSignal) global["stop-signal"] = stopSignal;
        const steward = bed.startWith(serving(fixture("http-worker.cjs"), global));
        await steward.ready();
        const workers = await steward.waitForWorkers(2);
        steward.signal(signal);

        await steward.expectExit(code);
        for (const worker of workers) {
          assert.ok(!isAlive(worker.pid), `worker ${worker.pid} outlived the master${steward.log()}`);
          await steward.waitForLine(new RegExp(`http-worker ${worker.pid} received ${sent}\\b`), 1_000);
        }
        await steward.waitForLine(new RegExp(`Exiting master with code ${code}\\.`), 1_000);
      }));
    }

    test("hard-stop-after: a worker ignoring its stop signal is SIGKILLed after 1s; exit 0", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("ignore-sigterm.cjs"), { "hard-stop-after": "1s" }));
      await steward.ready();
      const [worker] = await steward.waitForWorkers(1);
      const stoppedAt = Date.now();
      steward.signal("SIGTERM");

      await steward.waitForLine(new RegExp(`ignore-sigterm ${worker!.pid} received SIGTERM`), 5_000);
      const exit = await steward.expectExit(0);
      const took = exit.at - stoppedAt;
      assert.ok(took >= 900, `exited ${took}ms after SIGTERM, before hard-stop-after (1s)${steward.log()}`);
      assert.ok(took < 5_000, `exited only ${took}ms after SIGTERM${steward.log()}`);
      assert.ok(!isAlive(worker!.pid), `worker ${worker!.pid} outlived the master${steward.log()}`);
      await steward.waitForLine(new RegExp(`\\(${worker!.pid}\\).*(signal 9|SIGKILL)`), 1_000);
    }));

    test("a master killed with SIGKILL leaves no worker alive (within ~1s)", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("ignore-sigterm.cjs"), { workers: 2 }));
      await steward.ready();
      const workers = await steward.waitForWorkers(2);
      assert.ok(workers.every((w) => isAlive(w.pid)));
      process.kill(steward.pid, "SIGKILL");

      await waitGone(workers.map((w) => w.pid), 1_500);
      const exit = await steward.waitForExit(5_000);
      assert.equal(exit.signal, "SIGKILL");
    }));
  });
}
