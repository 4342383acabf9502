/**
 * Nothing outlives the master (issue 9, finding 6; README "Stopping"): what a worker
 * leaves behind — a daemon after a double fork (test/fixtures/daemonize.cjs), 200
 * children of a worker that exited (test/fixtures/fork-and-exit.cjs) — is adopted by the
 * master (a child subreaper) and stopped with it: signalled, SIGKILLed after
 * hard-stop-after, and the master exits only once none is left. Before the fix the master
 * exited at once and left them all running.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { e2e, fixture, isAlive, MODES, processesOfMaster, request, serving, type Steward } from "./_harness.ts";
import { connectError } from "./_reload.ts";

/** PIDs from `daemon PID serving` or `forked: PID PID ...` lines. */
async function pidsFrom(steward: Steward, re: RegExp): Promise<number[]> {
  const { match } = await steward.waitForLine(re, 20_000);
  return match[1]!.trim().split(/\s+/).map(Number);
}

/** Once the master has exited, none of `pids` and nothing that names it in its environment may be alive. */
function expectNothingLeft(steward: Steward, pids: number[]): void {
  const alive = pids.filter(isAlive);
  assert.deepEqual(alive, [], `${alive.length} of ${pids.length} outlived the master${steward.log(20)}`);
  assert.deepEqual(processesOfMaster(steward.pid), [], `a process of master ${steward.pid} outlived it${steward.log(20)}`);
}

for (const mode of MODES) {
  describe(`nothing outlives the master [${mode}]`, () => {
    test("a worker that daemonized and exited 0: the master stops, SIGTERMs the daemon, exits 0 once it is gone", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("daemonize.cjs"), { ready: "spawn" }));
      const [daemon] = await pidsFrom(steward, /daemon (\d+) serving/);
      await steward.expectExit(0, 15_000);
      await steward.waitForLine(new RegExp(`daemon ${daemon} received SIGTERM`), 1_000);
      expectNothingLeft(steward, [daemon!]);
    }));

    test("a daemon serving the port that ignores SIGTERM: SIGTERM to the master, the daemon is SIGKILLed after hard-stop-after, then exit 0", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("daemonize.cjs"), { ready: "spawn", "hard-stop-after": "1s" }, { DAEMON_PARENT: "stay", IGNORE_TERM: "1" }));
      const http = await steward.listener("http");
      const [daemon] = await pidsFrom(steward, /daemon (\d+) serving/);
      assert.match((await request(http.url)).body, new RegExp(`daemon ${daemon}`), "the daemon serves the master's listener");
      steward.signal("SIGTERM");
      await steward.waitForLine(new RegExp(`daemon ${daemon} received SIGTERM`), 5_000);
      await steward.expectExit(0, 10_000);
      await steward.waitForLine(/hard-stop-after expired: killed 1 process\(es\) below the master/, 1_000);
      expectNothingLeft(steward, [daemon!]);
      assert.ok(await connectError(http.url), "nothing answers on the port any more");
    }));

    test("a worker that forked 200 children and exited: the master stops them all before it exits 0", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("fork-and-exit.cjs"), { ready: "spawn" }));
      const children = await pidsFrom(steward, /forked: ([\d ]+)/);
      assert.equal(children.length, 200);
      await steward.expectExit(0, 20_000);
      expectNothingLeft(steward, children);
    }));

    test("200 children of a live worker, SIGINT to the master: the worker exits, its orphans are stopped, exit 130", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("fork-and-exit.cjs"), { ready: "spawn" }, { FORK_PARENT: "stay" }));
      const children = await pidsFrom(steward, /forked: ([\d ]+)/);
      steward.signal("SIGINT");
      await steward.expectExit(130, 20_000);
      expectNothingLeft(steward, children);
    }));
  });
}
