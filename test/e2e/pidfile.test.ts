/**
 * The pidfile (issue 9, finding 4; README "pidfile"): a pidfile that cannot be written is
 * a one-line failed load, at start (exit 1; `-D`: the launcher exits 1; `-Ws`: a failure
 * status, never READY=1) and at reload (the reload fails, the next one works); a reload
 * writes the new configuration's pidfile; the pidfile goes on every exit, also after a
 * reload that failed once the master had re-executed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { describe, test } from "node:test";
import { processesWithArg, killTree, NotifySink } from "./_extra.ts";
import { e2e, expectReloaded, expectReloadFailed, fixture, MODES, serving, waitGone, waitUntil } from "./_harness.ts";
import { replies, socat } from "./_mcli.ts";

const ONE_LINE = /^\[ALERT\] +\(\d+\) : Starting failed: pidfile '.*\/missing\/app\.pid': cannot write it: its directory .*\/missing does not exist$/;

const holds = (path: string, pid: number) => existsSync(path) && readFileSync(path, "utf8") === `${pid}\n`;
const worker = () => serving(fixture("http-worker.cjs"), { workers: 1 });
const withPidfile = (path: string) => serving(fixture("http-worker.cjs"), { workers: 1, pidfile: path });

for (const mode of MODES) {
  describe(`pidfile [${mode}]`, () => {
    test("in a missing directory at start: one line, exit 1, no worker started, no stack trace", e2e(mode, async (bed) => {
      const file = bed.write("steward.toml", worker());
      const steward = bed.start(["-f", file, "-p", bed.path("missing/app.pid")]);
      await steward.expectExit(1);
      const lines = steward.lines.map((l) => l.text).filter((t) => t !== "");
      const alert = lines.filter((t) => t.includes("Starting failed"));
      assert.equal(alert.length, 1, steward.log());
      assert.match(alert[0]!, ONE_LINE);
      assert.deepEqual(lines.filter((t) => !t.startsWith("[")), [], `only log lines, no stack trace${steward.log()}`);
      assert.equal(steward.started().length, 0, `no worker started${steward.log()}`);
      assert.equal(steward.matching(/Loading success/).length, 0, steward.log());
    }));

    test("-D with a pidfile in a missing directory: the launcher exits 1 with the line", e2e(mode, async (bed) => {
      bed.onCleanup(async () => {
        for (const p of processesWithArg(bed.dir)) await killTree(p);
      });
      const file = bed.write("steward.toml", worker());
      const launched = await bed.run(["-D", "-p", bed.path("missing/app.pid"), "-f", file], { timeoutMs: 20_000 });
      assert.equal(launched.code, 1, launched.steward.log());
      assert.match(launched.stderr, /Starting failed: pidfile '.*missing\/app\.pid': cannot write it/, launched.steward.log());
      await waitUntil(() => processesWithArg(bed.dir).length === 0, 3_000, () => `no master left from ${bed.dir}`);
    }));

    test("-Ws with a pidfile in a missing directory: a failure status, never READY=1", e2e(mode, async (bed) => {
      const sink = await NotifySink.open(bed, bed.path("notify.sock"));
      const file = bed.write("steward.toml", worker());
      const steward = bed.start(["-Ws", "-f", file, "-p", bed.path("missing/app.pid")], { env: { NOTIFY_SOCKET: sink.address } });
      await steward.expectExit(1);
      const [status] = await sink.waitFor(1);
      assert.match(status!.text, /^STATUS=Starting failed: pidfile '.*missing\/app\.pid': cannot write it: .*\nERRNO=1$/, sink.describe());
      assert.ok(!sink.datagrams().some((d) => d.text.includes("READY=1")), sink.describe());
    }));

    test("its directory removed while the first generation gets ready: one line, exit 1, workers stopped, never READY=1", e2e(mode, async (bed) => {
      const sink = await NotifySink.open(bed, bed.path("notify.sock"));
      mkdirSync(bed.path("piddir"));
      const file = bed.write("steward.toml", serving(fixture("http-worker.cjs"), { workers: 1, ready: "delay:2s" }));
      const steward = bed.start(["-Ws", "-f", file, "-p", bed.path("piddir/app.pid")], { env: { NOTIFY_SOCKET: sink.address } });
      const [w] = await steward.waitForWorkers(1);
      rmSync(bed.path("piddir"), { recursive: true });
      await steward.expectExit(1);
      assert.equal(steward.matching(/Starting failed: pidfile '.*piddir\/app\.pid': cannot write it: its directory .*piddir does not exist$/).length, 1, steward.log());
      await waitGone([w!.pid], 2_000);
      const [status] = await sink.waitFor(1);
      assert.match(status!.text, /^STATUS=Starting failed: pidfile/, sink.describe());
      assert.ok(!sink.datagrams().some((d) => d.text.includes("READY=1")), sink.describe());
    }));

    test("a reload writes the new configuration's pidfile (and removes the old one)", e2e(mode, async (bed) => {
      const a = bed.path("a.pid");
      const b = bed.path("b.pid");
      const file = bed.write("steward.toml", withPidfile(a));
      const steward = bed.start(["-f", file]);
      await steward.ready();
      // (the pidfile is written just after the `Loading success.` line, before READY=1)
      await waitUntil(() => holds(a, steward.pid), 2_000, `${a} to hold ${steward.pid}`);
      bed.write("steward.toml", withPidfile(b));
      await expectReloaded(steward);
      await waitUntil(() => holds(b, steward.pid), 2_000, `the new path ${b} written at this reload${steward.log()}`);
      assert.ok(!existsSync(a), "the previous configuration's pidfile removed");
      bed.write("steward.toml", worker());
      await expectReloaded(steward);
      await waitUntil(() => !existsSync(b), 2_000, "no pidfile configured any more: removed");
      assert.equal(steward.matching(/pidfile/).length, 0, `no complaint about a pidfile${steward.log()}`);
    }));

    test("a pidfile in a missing directory at reload fails that reload with one line; later reloads (signal and CLI) work", e2e(mode, async (bed) => {
      const a = bed.path("a.pid");
      const admin = bed.path("admin.sock");
      const file = bed.write("steward.toml", withPidfile(a));
      const steward = bed.start(["-f", file, "-S", admin]);
      await steward.ready();
      await waitUntil(() => holds(a, steward.pid), 2_000, `${a} to hold ${steward.pid}`);
      bed.write("steward.toml", withPidfile(bed.path("missing/app.pid")));
      await expectReloadFailed(steward, /^pidfile '.*missing\/app\.pid': cannot write it: its directory .*missing does not exist$/);
      const viaCli = replies((await socat(admin, "reload\n")).stdout)[0]!;
      assert.match(viaCli, /^Success=0\n--\n/, steward.log());
      assert.match(viaCli, /pidfile '.*missing\/app\.pid': cannot write it/);
      assert.equal(readFileSync(a, "utf8"), `${steward.pid}\n`, "the pidfile of the serving configuration stays");
      bed.write("steward.toml", withPidfile(a));
      await expectReloaded(steward);
      const again = replies((await socat(admin, "reload\n")).stdout)[0]!;
      assert.match(again, /^Success=1\n/, `not wedged: ${again}${steward.log()}`);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      assert.ok(!existsSync(a), "removed at exit");
    }));

    test("removed at exit after a reload that failed once the master had re-executed", e2e(mode, async (bed) => {
      const a = bed.path("a.pid");
      const file = bed.write("steward.toml", withPidfile(a));
      const steward = bed.start(["-f", file]);
      await steward.ready();
      await waitUntil(() => holds(a, steward.pid), 2_000, `${a} to hold ${steward.pid}`);
      // passes the preflight, then fails in the new image: its worker exits before ready
      bed.write("steward.toml", serving(fixture("exit-with.cjs", "3"), { workers: 1, pidfile: a }));
      const failed = await expectReloadFailed(steward, /exited with code 3 before it was ready/);
      assert.ok(failed.reload !== undefined, `the master re-executed before the reload failed${steward.log()}`);
      assert.equal(readFileSync(a, "utf8"), `${steward.pid}\n`);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      assert.ok(!existsSync(a), `the pidfile removed at exit${steward.log()}`);
    }));
  });
}
