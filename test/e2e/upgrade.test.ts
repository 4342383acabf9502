/**
 * Binary upgrade (REFERENCE §5.5) and the failed reloads that come from the executable
 * (§5.3 step 2, §5.4), compiled binary only: the master runs from a copy of the binary in
 * the test's temp dir, and the test replaces that file (atomic rename) or its mode.
 *
 * A second binary stamped 9.9.9 is built once for the file (scripts/build.mjs, ~1 s).
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  buildSteward,
  childrenOf,
  e2e,
  exeOf,
  expectReloaded,
  expectReloadFailed,
  expectServedBy,
  fdTarget,
  fixture,
  goodReloadAfterFailure,
  installCopy,
  installScript,
  isAlive,
  killQuietly,
  MODES,
  processGroup,
  serving,
  startTicks,
  stewardCommand,
  stillServing,
  type TestBed,
  waitGone,
  waitReaped,
  waitUntil,
  workersOf,
} from "./_harness.ts";

const CONFIG = serving(fixture("http-worker.cjs"), { workers: 2, "ready-timeout": "5s" }, { DRAIN: "1" });
const NEW_VERSION = "9.9.9";

/** Copies the binary under test into the bed and starts the master from there. */
function startFromCopy(bed: TestBed, original: string) {
  const exe = bed.path("steward");
  installCopy(original, exe);
  return { exe, steward: bed.startWith(CONFIG, "steward.toml", { command: [exe] }) };
}

if (MODES.includes("binary")) {
  describe("binary upgrade [binary]", () => {
    let original = "";
    let buildDir = "";
    let upgraded = "";

    before(async () => {
      original = stewardCommand("binary")[0]!;
      buildDir = mkdtempSync("/tmp/stw-build-");
      upgraded = await buildSteward(NEW_VERSION, join(buildDir, "steward"));
    });
    after(() => {
      if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    });

    test(`a new binary renamed over the running one, then SIGUSR2: same PID, version ${NEW_VERSION}, /proc/PID/exe is the new file; and back`, e2e("binary", async (bed) => {
      const { exe, steward } = startFromCopy(bed, original);
      await steward.ready();
      const http = await steward.listener("http");
      const master = steward.pid;
      const startedAt = startTicks(master);
      const socket = fdTarget(master, http.fd);
      const gen0 = workersOf(steward, 0);
      assert.equal(exeOf(master), exe);

      installCopy(upgraded, exe);
      assert.equal(exeOf(master), `${exe} (deleted)`, "the running master still maps the replaced file");
      const outcome = await expectReloaded(steward);
      assert.equal(outcome.version, NEW_VERSION, `'Master re-executed (version ${NEW_VERSION})'${steward.log()}`);
      await steward.waitForLine(new RegExp(`\\(${master}\\) : Master re-executed \\(version 9\\.9\\.9\\); reload 1 in progress`), 1_000);

      assert.ok(isAlive(master) && !steward.exit, steward.log());
      assert.equal(exeOf(master), exe, "/proc/PID/exe is the new file, not '(deleted)'");
      assert.equal(startTicks(master), startedAt, "the master's start time did not change");
      assert.equal(fdTarget(master, http.fd), socket, "the listener socket is kept");
      await waitReaped(master, gen0.map((w) => w.pid));
      await expectServedBy(http.url, workersOf(steward, 1).map((w) => w.pid), 1, () => steward.log());
      const version = await bed.run(["version"], { command: [exe] });
      assert.equal(version.stdout.trim(), NEW_VERSION);

      // the upgraded master reloads itself, then goes back to the original binary
      const again = await expectReloaded(steward);
      assert.equal(again.version, NEW_VERSION, steward.log());
      installCopy(original, exe);
      const back = await expectReloaded(steward);
      assert.notEqual(back.version, NEW_VERSION, `downgraded: ${steward.log()}`);
      assert.equal(exeOf(master), exe);
      assert.equal(fdTarget(master, http.fd), socket, "the listener socket is kept");
      await waitReaped(master, workersOf(steward, 2).map((w) => w.pid));
      await expectServedBy(http.url, workersOf(steward, 3).map((w) => w.pid), 3, () => steward.log());
    }));

    const causes: Array<{ name: string; breakIt: (exe: string) => void; reason: RegExp; slow?: boolean }> = [
      {
        name: "the new binary is not executable (chmod -x)",
        breakIt: (exe) => chmodSync(exe, 0o644),
        reason: /^new binary: \S+\/steward is not executable$/,
      },
      {
        name: "the new binary crashes (a script that exits 1)",
        breakIt: (exe) => installScript(exe, "#!/bin/sh\nexit 1\n"),
        reason: /^preflight of \S+\/steward exited with code 1$/,
      },
      {
        name: "the new binary cannot read the state format (exits 3 for __preflight)",
        breakIt: (exe) =>
          installScript(
            exe,
            `#!/bin/sh\nif [ "$1" = __preflight ]; then\n  echo "steward 0.0.1: unsupported state format $2" >&2\n  exit 3\nfi\nexec ${original} "$@"\n`,
          ),
        reason: /^preflight of \S+\/steward exited with code 3: steward 0\.0\.1: unsupported state format \d+$/,
      },
      {
        name: "the new binary answers exit 0 and a version to any arguments: no handshake",
        breakIt: (exe) => installScript(exe, "#!/bin/sh\necho 9.9.9\nexit 0\n"),
        reason: /^preflight of \S+\/steward exited 0 without answering the handshake: not a steward that takes over state format \d+$/,
      },
      {
        name: "the new binary's check hangs (sleeps 30 s): given up after 10 s",
        breakIt: (exe) => installScript(exe, "#!/bin/sh\nsleep 30\n"),
        reason: /^preflight of \S+\/steward did not finish within 10s$/,
        slow: true,
      },
    ];

    test("SIGTERM while the new binary's check hangs: the master stops (exit 0) and leaves no preflight process behind", e2e("binary", async (bed) => {
      const { exe, steward } = startFromCopy(bed, original);
      await steward.ready();
      const gen0 = workersOf(steward, 0);
      installScript(exe, "#!/bin/sh\nsleep 30\n");
      const from = steward.lines.length;
      steward.signal("SIGUSR2");
      await steward.waitForLine(/Reloading \(SIGUSR2\)/, 5_000, from);
      const check = await waitUntil(
        () => childrenOf(steward.pid).find((p) => p.cmdline.includes("__preflight")),
        5_000,
        () => `the preflight process${steward.log()}`,
      );
      // the check runs in a process group of its own: whatever the test leaves, cleanup ends
      bed.onCleanup(() => {
        if (processGroup(check.pid) === check.pid) killQuietly(-check.pid);
      });
      const [sleeper] = await waitUntil(() => {
        const kids = childrenOf(check.pid);
        return kids.length > 0 ? kids : undefined;
      }, 5_000, "the check's `sleep 30`");

      steward.signal("SIGTERM");
      await steward.expectExit(0, 10_000);
      for (const w of gen0) assert.ok(!isAlive(w.pid), `worker ${w.pid} outlived the master${steward.log()}`);
      const left = [check, sleeper].filter((p) => isAlive(p!.pid));
      await waitGone([check.pid, sleeper!.pid], 1_000).catch(() => {
        throw new Error(
          `the master exited but its preflight is still running: ${left.map((p) => `${p!.pid} (${p!.cmdline})`).join("; ")}${steward.log()}`,
        );
      });
    }));

    for (const cause of causes) {
      test(`${cause.name}: the old generation keeps serving; with the real binary back the next reload works`, e2e("binary", async (bed) => {
        const { exe, steward } = startFromCopy(bed, original);
        await steward.ready();
        const http = await steward.listener("http");
        const master = steward.pid;
        const gen0 = workersOf(steward, 0);

        cause.breakIt(exe);
        const signalledAt = Date.now();
        const failed = await expectReloadFailed(steward, cause.reason, 25_000);
        const took = failed.line.at - signalledAt;
        if (cause.slow) assert.ok(took >= 9_500 && took < 15_000, `failed ${took}ms after the signal; the limit is 10s${steward.log()}`);
        assert.equal(failed.reload, undefined, `the master did not re-execute${steward.log()}`);
        // stillServing also checks that no preflight process (or its `sleep`) is left behind
        await stillServing(steward, http, gen0, failed);

        installCopy(original, exe);
        await goodReloadAfterFailure(steward, http, gen0);
        assert.equal(exeOf(master), exe);
      }));
    }
  });
}
