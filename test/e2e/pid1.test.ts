/**
 * Reaping (REFERENCE §5.7, README "Container (PID 1)"): as PID 1 of a PID namespace
 * (`unshare --pid --fork --mount-proc`, run as root) the master reaps every orphaned
 * descendant and still stops with the usual exit codes; not as PID 1 it is a child
 * subreaper and reaps them too. The worker, test/fixtures/orphan-maker.cjs, leaves
 * ORPHANS `sleep 0.5` grandchildren behind and serves HTTP on fd 3.
 *
 * Under unshare the test's child is unshare; the master is its only child (PID 1 inside,
 * another PID outside). Killing unshare's process group at cleanup kills the master, and
 * the kernel then kills everything in its namespace.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, test } from "node:test";
import { childrenOf, descendantsOf, stat, statusField, zombiesOf } from "./_extra.ts";
import { e2e, fixture, MODES, request, serving, sleep, type Steward, stewardCommand, type TestBed, waitUntil, which } from "./_harness.ts";

const ORPHANS = 100;

function unshare(bed: TestBed, orphans: number): Steward {
  const file = bed.write("steward.toml", serving(fixture("orphan-maker.cjs")));
  return bed.start(["--verbose", "-f", file], {
    command: [which("unshare"), "--pid", "--fork", "--mount-proc", ...stewardCommand(bed.mode)],
    env: { ORPHANS: String(orphans) },
  });
}

/** The master's PID outside the namespace: unshare's one child, which is PID 1 inside. */
async function hostPidOfMaster(steward: Steward): Promise<number> {
  const master = await waitUntil(() => childrenOf(steward.pid)[0], 5_000, () => `unshare ${steward.pid} to have a child${steward.log()}`);
  const nspid = statusField(master, "NSpid");
  assert.deepEqual(nspid?.split(/\s+/).map(Number), [master, 1], `the master is PID 1 in its namespace (NSpid: ${nspid})${steward.log()}`);
  return master;
}

/** Waits until `count` orphans were reaped (or 4 s), then checks the count and that none is left. */
async function expectReaped(steward: Steward, master: number, count: number): Promise<void> {
  const reaped = () => steward.matching(/Reaped orphaned process \d+/).length;
  await waitUntil(() => reaped() >= count, 4_000, () => `${count} 'Reaped orphaned process' lines, got ${reaped()}${steward.log(10)}`);
  await sleep(300); // more than `count` would show now
  assert.equal(reaped(), count, `exactly ${count} orphans reaped${steward.log(10)}`);
  const zombies = zombiesOf(master);
  assert.deepEqual(zombies.map((z) => `${z.pid} ${z.comm}`), [], `no zombie under the master ${master}`);
  const sleeps = descendantsOf(master).filter((pid) => stat(pid)?.comm === "sleep");
  assert.deepEqual(sleeps, [], "no orphaned sleep left under the master");
}

for (const mode of MODES) {
  describe(`reaping [${mode}]`, () => {
    test(`PID 1 (unshare --pid): ${ORPHANS} orphans reaped, no zombie, log shows (1); SIGTERM → exit 0`, e2e(mode, async (bed) => {
      const steward = unshare(bed, ORPHANS);
      const { line } = await steward.ready();
      assert.match(line.text, /\(1\) : Loading success\./, "the master logs its PID inside the namespace");
      const master = await hostPidOfMaster(steward);
      const http = await steward.listener("http");
      assert.equal((await request(http.url)).status, 200, "the worker serves");

      await expectReaped(steward, master, ORPHANS);
      for (const found of steward.matching(/Reaped orphaned process/)) assert.match(found.line.text, /\(1\) : Reaped orphaned process \d+ \(exited with code 0\)/);
      assert.equal((await request(http.url)).status, 200, "the worker still serves");

      process.kill(master, "SIGTERM");
      await steward.expectExit(0); // unshare exits with the master's status
      await steward.waitForLine(/\(1\) : Exiting master with code 0\./, 1_000);
    }));

    test("PID 1 (unshare --pid): SIGINT → exit 130", e2e(mode, async (bed) => {
      const steward = unshare(bed, 3);
      await steward.ready();
      const master = await hostPidOfMaster(steward);
      await expectReaped(steward, master, 3);
      process.kill(master, "SIGINT");
      await steward.expectExit(130);
      await steward.waitForLine(/\(1\) : Exiting master with code 130\./, 1_000);
    }));

    test(`not PID 1: the master is a child subreaper and reaps ${ORPHANS} orphans`, e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("orphan-maker.cjs")), "steward.toml", { args: ["--verbose"], env: { ORPHANS: String(ORPHANS) } });
      const { line } = await steward.ready();
      assert.match(line.text, new RegExp(`\\(${steward.pid}\\) : Loading success\\.`));
      await expectReaped(steward, steward.pid, ORPHANS);
      const [worker] = await steward.waitForWorkers(1);
      assert.deepEqual(childrenOf(steward.pid), [worker!.pid], `only the worker is left under the master${steward.log(10)}`);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));
  });
}
