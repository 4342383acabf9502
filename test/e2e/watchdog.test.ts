/**
 * The workers' watchdog and health checks (REFERENCE §5.10) with real workers: a worker that
 * stops sending WATCHDOG=1 is failed and replaced; a failing health command gets its worker
 * replaced (on-failure = restart); steward/worker answers `health` on its CLI socket, asked
 * by the documented socat one-liner. Bun runs the same code as the binary: by default this
 * suite runs the compiled binary and Deno (STEWARD_E2E_MODES still picks).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { describe, test } from "node:test";
import { ask, e2e, expectReloadFailed, FIXTURES, reload, fixture, isAlive, MODES, NODE, ROOT, toml, waitUntil } from "./_harness.ts";
import { waitReaped, workersOf } from "./_reload.ts";

const SUITE_MODES = process.env.STEWARD_E2E_MODES ? MODES : MODES.filter((m) => m !== "bun");

/** the documented one-liner: healthy when the worker's socket answers `health` with `ok` */
const SOCAT_CHECK = ["/bin/sh", "-c", `echo health | socat -t 2 - UNIX-CONNECT:"$STEWARD_CLI_SOCKET" | tee "$REPLIES/$STEWARD_WORKER_ID-$STEWARD_WORKER_PID" | grep -qx ok`];

for (const mode of SUITE_MODES) {
  describe(`watchdog and health checks [${mode}]`, () => {
    test("a worker that stops sending WATCHDOG=1 is failed after the interval and replaced within 2 × the interval", e2e(mode, async (bed) => {
      const interval = 3_000;
      const steward = bed.startWith(toml({
        global: { watchdog: "3s", ready: "notify", "on-failure": "restart", "ready-timeout": "10s" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command: fixture("watchdog-pings.py", "3") },
      }));
      await steward.ready();
      const [first] = await steward.waitForWorkers(1);
      const pid = first!.pid;
      const env = await steward.waitForLine(new RegExp(`watchdog-pings ${pid} env WATCHDOG_USEC=(\\S+) WATCHDOG_PID=(\\S+)`));
      assert.equal(env.match[1], String(interval * 1000));
      assert.equal(env.match[2], String(pid), "WATCHDOG_PID is the worker's own PID");

      const lastPing = await steward.waitForLine(new RegExp(`watchdog-pings ${pid} sent WATCHDOG=1 #3`), 10_000);
      const missed = await steward.waitForLine(new RegExp(`Worker 1 \\(${pid}\\) missed its watchdog: no WATCHDOG=1 for 3s: sending SIGTERM`), 10_000);
      assert.ok(missed.line.index > lastPing.line.index, `the miss came after the last WATCHDOG=1${steward.log()}`);
      const killed = await steward.waitForLine(new RegExp(`watchdog-pings ${pid} received SIGTERM`), 5_000);
      assert.ok(killed.line.index > missed.line.index, `the stop signal came after the miss${steward.log()}`);

      // the bound: the replacement runs within 2 × the interval of the last WATCHDOG=1
      const deadline = lastPing.line.at + 2 * interval;
      const replaced = await steward.waitForLine(new RegExp(`Worker 1 \\((?!${pid}\\))(\\d+)\\) started`), Math.max(0, deadline - Date.now()), missed.line.index);
      assert.ok(replaced.line.at <= deadline, `replacement started ${replaced.line.at - lastPing.line.at}ms after the last WATCHDOG=1${steward.log()}`);
      await steward.waitForLine(new RegExp(`Worker 1 \\(${replaced.match[1]}\\) is ready`), 10_000, replaced.line.index);
      assert.ok(!isAlive(pid), "the failed worker is gone");

      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));

    test("after a re-exec (a reload that failed in the new image) the current worker is still watched", e2e(mode, async (bed) => {
      const config = (command: string[]) => toml({
        global: { watchdog: "2s", ready: "notify", "on-failure": "restart", "ready-timeout": "10s" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command },
      });
      // 20 pings half a second apart: 10 s, time enough for the reload to come and go
      const steward = bed.startWith(config(fixture("watchdog-pings.py", "20")));
      await steward.ready();
      const [first] = await steward.waitForWorkers(1);
      bed.write("steward.toml", config(fixture("exit-with.cjs", "3")));
      const failed = await expectReloadFailed(steward, /exited with code 3 before it was ready/);
      assert.ok(steward.lines.slice(failed.from).some((l) => /Master re-executed/.test(l.text)), `the master re-executed${steward.log()}`);
      const stopped = await steward.waitForLine(new RegExp(`watchdog-pings ${first!.pid} stops pinging`), 20_000);
      assert.ok(stopped.line.index > failed.line.index, `the worker pinged past the reload: this test needs a longer run of pings${steward.log()}`);
      const missed = await steward.waitForLine(new RegExp(`Worker 1 \\(${first!.pid}\\) missed its watchdog`), 10_000, stopped.line.index);
      await steward.waitForLine(new RegExp(`Worker 1 \\((?!${first!.pid}\\))(\\d+)\\) started`), 10_000, missed.line.index);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));

    test("steward/worker answers `health` to the socat one-liner; a check failing twice replaces that very worker", e2e(mode, async (bed) => {
      assert.ok(existsSync(join(ROOT, "dist", "worker.mjs")), "dist/worker.mjs: run `npm run build` first");
      const replies = bed.path("replies");
      mkdirSync(replies);
      const flag = bed.path("unhealthy");
      const steward = bed.startWith(toml({
        global: { workers: 2, "on-failure": "restart", "ready-timeout": "10s" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command: [NODE, join(FIXTURES, "health-worker.mjs")], env: { REPLIES: replies, UNHEALTHY_IF: flag } },
      }).replace(/^\[worker\]$/m, `[worker]\nhealth = { command = ${JSON.stringify(SOCAT_CHECK)}, interval = "300ms", timeout = "3s", failures = 2 }`));
      await steward.ready();
      const [w1, w2] = await steward.waitForWorkers(2);
      const reply = (w: { id: number; pid: number }) => join(replies, `${w.id}-${w.pid}`);
      const replied = (w: { id: number; pid: number }, text: string) => existsSync(reply(w)) && readFileSync(reply(w), "utf8") === text;
      await waitUntil(() => replied(w1!, "ok\n") && replied(w2!, "ok\n"), 10_000, () => `"ok" from each worker's own socket${steward.log()}`);

      // only worker 2 turns unhealthy: its check, and no other, must see it
      writeFileSync(`${flag}-${w2!.pid}`, "");
      const failed = await steward.waitForLine(new RegExp(`Worker (\\d+) \\((\\d+)\\) failed its health check 2 time\\(s\\) in a row \\(last: exited with code 1\\): sending SIGTERM`), 15_000);
      assert.deepEqual([Number(failed.match[1]), Number(failed.match[2])], [2, w2!.pid], `worker 2 was failed${steward.log()}`);
      assert.equal(readFileSync(reply(w2!), "utf8"), `unhealthy: ${flag}-${w2!.pid} exists\n`);
      const replaced = await steward.waitForLine(new RegExp(`Worker 2 \\((?!${w2!.pid}\\))(\\d+)\\) started`), 15_000, failed.line.index);
      const next = { id: 2, pid: Number(replaced.match[1]) };
      await waitUntil(() => replied(next, "ok\n"), 10_000, () => `"ok" from the replacement${steward.log()}`);
      assert.ok(!isAlive(w2!.pid), "the unhealthy worker is gone");
      assert.ok(isAlive(w1!.pid), "the healthy worker was left alone");
      assert.equal(steward.matching(/: Worker \d+ \(\d+\) failed its health check/).length, 1, `one failure only${steward.log()}`);
      assert.ok([w1!.pid, next.pid].includes((await ask((await steward.listener("http")).url)).pid), "the two healthy workers serve");

      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));

    test("a failing health check during probation rolls the reload back; the previous generation serves on", e2e(mode, async (bed) => {
      // generation 0 is healthy; any later generation fails its check
      const config = toml({
        global: { probation: "20s", "on-failure": "restart", "ready-timeout": "10s" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command: fixture("http-worker.cjs") },
      }).replace(/^\[worker\]$/m, `[worker]\nhealth = { command = ["/bin/sh", "-c", "test \\"$STEWARD_GENERATION\\" = 0 || { echo generation $STEWARD_GENERATION is sick; exit 1; }"], interval = "300ms", timeout = "3s", failures = 2 }`);
      const steward = bed.startWith(config);
      await steward.ready();
      const http = await steward.listener("http");
      const [old] = await steward.waitForWorkers(1);
      const outcome = await reload(steward);
      assert.equal(outcome.ok, false, `the reload was rolled back${steward.log()}`);
      assert.match(outcome.reason!, /rolled back: worker 1 \(\d+\) failed its health check 2 time\(s\) in a row \(last: exited with code 1: generation 1 is sick\)/, steward.log());
      assert.ok(steward.matching(/Worker 1 \(\d+\) failed its health check 2 time\(s\) in a row .* during probation/).length === 1, steward.log());
      // the rolled-back workers (this fixture without DRAIN) exit at once on their stop signal,
      // resetting a connection one of them accepted just then: ask once they are gone
      await waitReaped(steward.pid, workersOf(steward, 1).map((w) => w.pid));
      assert.equal((await ask(http.url)).pid, old!.pid, "the previous generation serves");
      assert.ok(isAlive(old!.pid));
      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));

    test("a check still running after its timeout is killed and counts; the master leaves no check behind", e2e(mode, async (bed) => {
      const steward = bed.startWith(toml({
        global: { "on-failure": "restart", "ready-timeout": "10s" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command: fixture("http-worker.cjs") },
      }).replace(/^\[worker\]$/m, `[worker]\nhealth = { command = ["sleep", "30"], interval = "200ms", timeout = "300ms", failures = 1 }`));
      await steward.ready();
      const [w] = await steward.waitForWorkers(1);
      await steward.waitForLine(new RegExp(`Worker 1 \\(${w!.pid}\\) failed its health check 1 time\\(s\\) in a row \\(last: did not finish within 300ms\\)`), 10_000);
      await steward.waitForLine(new RegExp(`Worker 1 \\((?!${w!.pid}\\))(\\d+)\\) started`), 10_000);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      assert.deepEqual(sleepsOf(bed.dir), [], "no health check left running");
    }));
  });
}

/** PIDs of `sleep 30` processes whose working directory is `dir` (the checks of this test). */
function sleepsOf(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd === "sleep\u000030\u0000" && readlinkSync(`/proc/${entry}/cwd`) === dir) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
