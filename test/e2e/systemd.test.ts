/**
 * sd_notify to the service manager with `-Ws` / `--systemd` (REFERENCE §8, README "Under
 * systemd"): the exact datagrams, in order, on a socket standing in for systemd's
 * (test/fixtures/notify-listen.py, which also records each sender's PID), for a path and
 * an abstract `@name` NOTIFY_SOCKET; the watchdog; nothing without -Ws; and workers that
 * never see the service manager's socket.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, test } from "node:test";
import { NotifySink, type Datagram } from "./_extra.ts";
import { ask, e2e, expectReloaded, fixture, MODES, reload, serving, sleep, type Steward } from "./_harness.ts";

const READY = (pid: number) => `READY=1\nMAINPID=${pid}\nSTATUS=Ready`;
const RELOADING = /^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=Reloading$/;
const STOPPING = "STOPPING=1\nSTATUS=Stopping";

/** Texts with the MONOTONIC_USEC value replaced by N, for an exact comparison. */
function shape(datagrams: Datagram[]): string[] {
  return datagrams.map((d) => d.text.replace(/^(RELOADING=1\nMONOTONIC_USEC=)\d+(\n)/, "$1N$2"));
}

function assertFromMaster(datagrams: Datagram[], steward: Steward, sink: NotifySink): void {
  for (const d of datagrams) {
    assert.equal(d.pid, steward.pid, `datagram ${JSON.stringify(d.text)} sent by PID ${d.pid}, not the master ${steward.pid}${sink.describe()}${steward.log()}`);
  }
}

/** What the worker sees, over HTTP: not the service manager's socket nor its watchdog. */
async function assertWorkerShielded(steward: Steward, sink: NotifySink): Promise<void> {
  const http = await steward.listener("http");
  const report = await ask(http.url);
  assert.ok(report.env.NOTIFY_SOCKET, "a worker gets steward's own NOTIFY_SOCKET");
  assert.notEqual(report.env.NOTIFY_SOCKET, sink.address, "a worker must not see the master's NOTIFY_SOCKET");
  assert.ok(!report.env.NOTIFY_SOCKET.startsWith("@"), `steward's own notify socket is a path (got ${report.env.NOTIFY_SOCKET})`);
  assert.equal(report.env.WATCHDOG_USEC, undefined, "WATCHDOG_USEC is the master's, not the worker's");
  assert.equal(report.env.WATCHDOG_PID, undefined, "WATCHDOG_PID is the master's, not the worker's");
}

for (const mode of MODES) {
  describe(`systemd -Ws [${mode}]`, () => {
    test("start, good reload, bad reload, stop: the exact datagrams in order, all from the master", e2e(mode, async (bed) => {
      const sink = await NotifySink.open(bed, bed.path("notify.sock"));
      const config = serving(fixture("http-worker.cjs"));
      const steward = bed.startWith(config, "steward.toml", { args: ["-Ws"], env: { NOTIFY_SOCKET: sink.address } });
      await steward.ready();
      await sink.waitFor(1);
      await assertWorkerShielded(steward, sink);

      // a good reload (SIGUSR2)
      await expectReloaded(steward, "SIGUSR2");
      await sink.waitFor(3);

      // a bad reload (SIGHUP) of a file that no longer parses
      bed.write("steward.toml", "[global\nworkers = \n");
      const bad = await reload(steward, "SIGHUP");
      assert.ok(!bad.ok, `a reload of an unparsable file must fail${steward.log()}`);
      await sink.waitFor(5);
      assert.equal(steward.exit, undefined, `the master keeps running after a failed reload${steward.log()}`);

      steward.signal("SIGTERM");
      await steward.expectExit(0);
      await sink.waitFor(6);
      await sleep(200); // nothing more may follow
      const got = sink.datagrams();
      assert.deepEqual(
        shape(got),
        [
          READY(steward.pid),
          "RELOADING=1\nMONOTONIC_USEC=N\nSTATUS=Reloading",
          READY(steward.pid),
          "RELOADING=1\nMONOTONIC_USEC=N\nSTATUS=Reloading",
          `READY=1\nSTATUS=Reload failed: ${bad.reason}`,
          STOPPING,
        ],
        `${sink.describe()}${steward.log()}`,
      );
      assertFromMaster(got, steward, sink);

      // MONOTONIC_USEC is CLOCK_MONOTONIC when the reload started: after the datagram
      // before it was received, not after its own receipt
      for (const i of [1, 3]) {
        const usec = Number(RELOADING.exec(got[i]!.text)![1]);
        assert.ok(usec <= got[i]!.monotonic_usec, `MONOTONIC_USEC ${usec} is later than its receipt ${got[i]!.monotonic_usec}`);
        assert.ok(usec >= got[i - 1]!.monotonic_usec, `MONOTONIC_USEC ${usec} is before the previous datagram (${got[i - 1]!.monotonic_usec})`);
      }
    }));

    test("abstract NOTIFY_SOCKET (@name): READY then STOPPING", e2e(mode, async (bed) => {
      const address = `@steward-e2e-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
      const sink = await NotifySink.open(bed, address);
      const steward = bed.startWith(serving(fixture("http-worker.cjs")), "steward.toml", { args: ["--systemd"], env: { NOTIFY_SOCKET: address } });
      await steward.ready();
      await sink.waitFor(1);
      await assertWorkerShielded(steward, sink);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      await sink.waitFor(2);
      await sleep(150);
      assert.deepEqual(shape(sink.datagrams()), [READY(steward.pid), STOPPING], `${sink.describe()}${steward.log()}`);
      assertFromMaster(sink.datagrams(), steward, sink);
    }));

    test("WATCHDOG_USEC=200000: WATCHDOG=1 about every 100ms, from the master", e2e(mode, async (bed) => {
      const sink = await NotifySink.open(bed, bed.path("notify.sock"));
      const steward = bed.startWith(serving(fixture("http-worker.cjs")), "steward.toml", {
        args: ["-Ws"],
        env: { NOTIFY_SOCKET: sink.address, WATCHDOG_USEC: "200000" },
      });
      await steward.ready();
      await sink.waitFor(1, 5_000, (d) => d.text.startsWith("READY=1"));
      await assertWorkerShielded(steward, sink);
      const isWatchdog = (d: Datagram) => d.text === "WATCHDOG=1";
      const before = sink.datagrams().filter(isWatchdog).length;
      await sleep(1_000);
      const inOneSecond = sink.datagrams().filter(isWatchdog).length - before;
      assert.ok(inOneSecond >= 5 && inOneSecond <= 13, `${inOneSecond} WATCHDOG=1 in 1s, expected about 10${sink.describe()}`);
      const watchdogs = sink.datagrams().filter(isWatchdog);
      const gaps = watchdogs.slice(1).map((d, i) => (d.monotonic_usec - watchdogs[i]!.monotonic_usec) / 1000).sort((a, b) => a - b);
      const median = gaps[Math.floor(gaps.length / 2)];
      assert.ok(median! >= 60 && median! <= 200, `median gap between WATCHDOG=1 ${median}ms, expected ~100ms (gaps ${gaps.map(Math.round).join(", ")})`);
      assertFromMaster(sink.datagrams(), steward, sink);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      assert.equal(sink.datagrams().filter((d) => d.text.startsWith("READY=1")).length, 1, sink.describe());
    }));

    test("WATCHDOG_PID of another process: no WATCHDOG=1 (but READY)", e2e(mode, async (bed) => {
      const sink = await NotifySink.open(bed, bed.path("notify.sock"));
      const steward = bed.startWith(serving(fixture("http-worker.cjs")), "steward.toml", {
        args: ["-Ws"],
        env: { NOTIFY_SOCKET: sink.address, WATCHDOG_USEC: "100000", WATCHDOG_PID: String(process.pid) },
      });
      await steward.ready();
      await sink.waitFor(1);
      await sleep(400);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      await sink.waitFor(2);
      assert.deepEqual(shape(sink.datagrams()), [READY(steward.pid), STOPPING], sink.describe());
    }));

    test("without -Ws: nothing is sent across start, reload and stop", e2e(mode, async (bed) => {
      const sink = await NotifySink.open(bed, bed.path("notify.sock"));
      const steward = bed.startWith(serving(fixture("http-worker.cjs")), "steward.toml", {
        env: { NOTIFY_SOCKET: sink.address, WATCHDOG_USEC: "100000" },
      });
      await steward.ready();
      await assertWorkerShielded(steward, sink);
      await expectReloaded(steward, "SIGHUP");
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      await sleep(300);
      assert.deepEqual(sink.texts(), [], `nothing may be sent without -Ws${sink.describe()}`);
    }));
  });
}
