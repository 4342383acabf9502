/**
 * Failed reloads (REFERENCE §5.4) caused by the configuration or the new workers: each leaves
 * the current generation serving, untouched and still current (same PIDs answer, with
 * the old STEWARD_GENERATION; the failed generation's workers are gone), and the next
 * good reload works. The causes that come from the executable are in upgrade.test.ts.
 */
import assert from "node:assert/strict";
import { renameSync } from "node:fs";
import { describe, test } from "node:test";
import {
  connectError,
  e2e,
  expectReloaded,
  expectReloadFailed,
  fdTable,
  fdTarget,
  fixture,
  freePort,
  goodReloadAfterFailure,
  MODES,
  serving,
  showFds,
  stillServing,
  type ReloadOutcome,
  type TestBed,
  toml,
  workersOf,
} from "./_harness.ts";

const HTTP_WORKER = fixture("http-worker.cjs");
/** reloader.ts: a reload into the same compiled file with an unchanged configuration file */
const NO_PREFLIGHT = /Same executable and configuration file as the running generation's: no preflight/;
const GOOD = serving(HTTP_WORKER, { workers: 2, "ready-timeout": "5s" }, { DRAIN: "1" });

interface Cause {
  name: string;
  /** breaks the configuration in `bed`; returns how to repair it */
  breakIt: (bed: TestBed) => () => void;
  reason: RegExp;
  /** the failed generation started workers (which must be gone) */
  startsWorkers?: boolean;
}

const causes: Cause[] = [
  {
    name: "invalid configuration (unknown key)",
    breakIt: (bed) => {
      bed.write("steward.toml", GOOD.replace("workers = 2", "wrokers = 2"));
      return () => bed.write("steward.toml", GOOD);
    },
    reason: /steward\.toml:\d+: global\.wrokers: unknown key/,
  },
  {
    name: "missing configuration file",
    breakIt: (bed) => {
      renameSync(bed.path("steward.toml"), bed.path("steward.toml.away"));
      return () => renameSync(bed.path("steward.toml.away"), bed.path("steward.toml"));
    },
    reason: /steward\.toml: cannot read the file/,
  },
  {
    name: "a new worker exits (code 3) before it is ready",
    breakIt: (bed) => {
      bed.write("steward.toml", serving(fixture("exit-with.cjs", "3", "100"), { workers: 2, "ready-timeout": "5s" }));
      return () => bed.write("steward.toml", GOOD);
    },
    reason: /worker \d+ \(\d+\) exited with code 3 before it was ready/,
    startsWorkers: true,
  },
  {
    name: "the new generation is not ready within ready-timeout (1s)",
    breakIt: (bed) => {
      bed.write("steward.toml", serving(fixture("listen-elsewhere.cjs"), { workers: 2, "ready-timeout": "1s" }));
      return () => bed.write("steward.toml", GOOD);
    },
    reason: /worker \d+ \(\d+\) not ready within 1s/,
    startsWorkers: true,
  },
];

for (const mode of MODES) {
  describe(`failed reload [${mode}]`, () => {
    for (const cause of causes) {
      test(`${cause.name}: the old generation keeps serving; the next reload works`, e2e(mode, async (bed) => {
        const steward = bed.startWith(GOOD);
        await steward.ready();
        const http = await steward.listener("http");
        const gen0 = workersOf(steward, 0);

        const repair = cause.breakIt(bed);
        const failed = await expectReloadFailed(steward, cause.reason);
        if (cause.startsWorkers) {
          assert.ok(failed.started.length > 0, `the failed reload started workers${steward.log()}`);
        } else {
          assert.equal(failed.reload, undefined, `a preflight failure does not re-execute the master${steward.log()}`);
        }
        await stillServing(steward, http, gen0, failed);

        repair();
        await goodReloadAfterFailure(steward, http, gen0);
      }));
    }

    test("a failed reload closes the listener it added and keeps the others' sockets", e2e(mode, async (bed) => {
      const steward = bed.startWith(GOOD);
      await steward.ready();
      const http = await steward.listener("http");
      const master = steward.pid;
      const socket = fdTarget(master, http.fd);
      const gen0 = workersOf(steward, 0);
      const fdsBefore = fdTable(master);

      const port = await freePort();
      bed.write("steward.toml", toml({
        global: { workers: 2, "ready-timeout": "5s" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }, { name: "extra", bind: `tcp://127.0.0.1:${port}` }],
        worker: { command: fixture("exit-with.cjs", "3", "100") },
      }));
      const failed = await expectReloadFailed(steward, /exited with code 3 before it was ready/);
      const extra = await steward.listener("extra", 1_000);
      await stillServing(steward, http, gen0, failed);
      assert.equal(fdTarget(master, http.fd), socket, `listener 'http' kept its socket${steward.log()}`);
      assert.equal(await connectError(extra.url), "ECONNREFUSED", `the listener added by the failed reload is closed${steward.log()}`);
      const fdsAfter = fdTable(master);
      assert.ok(
        Math.abs(fdsAfter.size - fdsBefore.size) <= 2,
        `descriptors of the master before: ${showFds(fdsBefore)}\nafter: ${showFds(fdsAfter)}`,
      );

      bed.write("steward.toml", GOOD);
      await goodReloadAfterFailure(steward, http, gen0);
      assert.equal(fdTarget(master, http.fd), socket, steward.log());
    }));

    test("the preflight is skipped only for the same executable and an unchanged configuration file", e2e(mode, async (bed) => {
      const steward = bed.startWith(GOOD);
      await steward.ready();
      const http = await steward.listener("http");
      const gen0 = workersOf(steward, 0);
      const skipped = (o: ReloadOutcome) => steward.lines.slice(o.from, o.line.index).some((l) => NO_PREFLIGHT.test(l.text));
      const compiled = mode === "binary";

      // unchanged: a compiled master loads the new generation at once and re-executes after it
      const same = await expectReloaded(steward);
      assert.equal(skipped(same), compiled, `no preflight ${compiled ? "expected" : "from source"}${steward.log()}`);
      const reexecAt = steward.lines.findIndex((l, i) => i >= same.from && /Master re-executed/.test(l.text));
      assert.equal(reexecAt > same.line.index, compiled, `re-executed after 'Loading success.'${steward.log()}`);
      assert.equal(same.reexecAfter === true, compiled, steward.log());
      assert.ok(same.started.length === 2 && same.started.every((w) => w.index < reexecAt) === compiled, `workers started before the exec${steward.log()}`);

      // the same content written again is a changed file: checked again
      bed.write("steward.toml", GOOD);
      assert.equal(skipped(await expectReloaded(steward)), false, `a rewritten file is checked${steward.log()}`);
      // and an invalid edit fails in the preflight, before any exec
      bed.write("steward.toml", GOOD.replace("workers = 2", "wrokers = 2"));
      const failed = await expectReloadFailed(steward, /^preflight of \S+ exited with code 1: .*global\.wrokers: unknown key/);
      assert.equal(failed.reload, undefined, `a preflight failure does not re-execute the master${steward.log()}`);
      const gen2 = workersOf(steward, 2);
      await stillServing(steward, http, gen2, failed, 2);
      // the failed file is not what the running generation read: checked again, even unchanged
      const again = await expectReloadFailed(steward, /global\.wrokers: unknown key/);
      assert.equal(again.reload, undefined, `checked again before any exec${steward.log()}`);
      await stillServing(steward, http, gen2, again, 2);
      assert.equal(gen0.length, 2, steward.log());
      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));

    test("two failed reloads in a row, then a good one", e2e(mode, async (bed) => {
      const steward = bed.startWith(GOOD);
      await steward.ready();
      const http = await steward.listener("http");
      const gen0 = workersOf(steward, 0);
      bed.write("steward.toml", serving(fixture("exit-with.cjs", "3", "100"), { workers: 2, "ready-timeout": "5s" }));
      await stillServing(steward, http, gen0, await expectReloadFailed(steward, /exited with code 3 before it was ready/));
      bed.write("steward.toml", GOOD.replace("workers = 2", 'workers = "two"'));
      await stillServing(steward, http, gen0, await expectReloadFailed(steward, /global\.workers/));
      bed.write("steward.toml", GOOD);
      await goodReloadAfterFailure(steward, http, gen0);
    }));
  });
}
