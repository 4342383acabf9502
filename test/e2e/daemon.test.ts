/**
 * `-D` / `--daemon` (REFERENCE §2, §8; README "as a daemon"): the launcher returns only once
 * the first generation is ready, exit 0, leaving the master in a session of its own with
 * stdio on /dev/null and its PID in the pidfile; a failed start is reported by the
 * launcher (the start-up log on stderr, the failure's exit status).
 *
 * A daemonized master is not in the test's process group, so every test registers a
 * cleanup that kills it (and what is below it) by PID: from the pidfile, or found by the
 * test's temp dir in its command line.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { describe, test } from "node:test";
import { childrenByPpid, fdTargets, killTree, processesWithArg, stat } from "./_extra.ts";
import { ask, e2e, fixture, isAlive, MODES, processesOfMaster, serving, type TestBed, toml, waitGone, waitUntil } from "./_harness.ts";

/** Kills, at cleanup, whatever master runs from this bed's directory (and its children). */
function reapDaemons(bed: TestBed, known: () => number | undefined): void {
  bed.onCleanup(async () => {
    const pids = new Set(processesWithArg(bed.dir));
    const pid = known();
    if (pid !== undefined && isAlive(pid)) pids.add(pid);
    for (const p of pids) await killTree(p);
  });
}

/** The test process and its ancestors: where an orphaned master may be reparented (a subreaper), besides 1. */
function ancestors(): number[] {
  const chain: number[] = [];
  for (let pid: number | undefined = process.pid; pid !== undefined && pid > 1; pid = stat(pid)?.ppid) chain.push(pid);
  return chain;
}

function config(bed: TestBed, command: string[], global: Record<string, string | number> = {}): string {
  return toml({
    global: { workers: 2, "ready-timeout": "10s", ...global },
    listen: [{ name: "http", bind: `unix://${bed.path("http.sock")}` }],
    worker: { command },
  });
}

for (const mode of MODES) {
  describe(`daemon -D [${mode}]`, () => {
    test("the launcher exits 0 once ready; the master runs in its own session, stdio on /dev/null, PID in the pidfile", e2e(mode, async (bed) => {
      const pidfile = bed.path("app.pid");
      const daemon: { pid?: number } = {};
      reapDaemons(bed, () => daemon.pid);
      const file = bed.write("steward.toml", config(bed, fixture("http-worker.cjs")));
      const launched = await bed.run(["-D", "-p", pidfile, "-f", file], { timeoutMs: 20_000 });
      // at once, before anything else can happen: the first generation is ready and the pidfile written
      const pidText = existsSync(pidfile) ? readFileSync(pidfile, "utf8") : undefined;
      const first = await ask(`unix://${bed.path("http.sock")}`).catch((e: Error) => e);

      assert.equal(launched.code, 0, `launcher exit status${launched.steward.log()}`);
      assert.equal(launched.stdout, "", "the launcher prints nothing on stdout");
      const seen = () => `; files in ${bed.dir}: ${readdirSync(bed.dir).join(" ")}; masters running from it: ${processesWithArg(bed.dir).join(", ") || "none"}`;
      assert.ok(pidText !== undefined, `no pidfile ${pidfile} when the launcher returned${seen()}${launched.steward.log()}`);
      assert.match(pidText, /^\d+\n$/, `the pidfile holds the master PID and a newline${seen()}`);
      const master = Number(pidText);
      daemon.pid = master;
      assert.notEqual(master, launched.steward.pid, "the master is not the launcher");
      assert.ok(!(first instanceof Error), `the first generation must serve as soon as the launcher returns: ${first}`);
      assert.deepEqual(readdirSync(bed.dir).filter((f) => f.includes(".tmp")), [], "no temp file of the pidfile left behind");

      const s = stat(master);
      assert.ok(s && isAlive(master), `master ${master} is running`);
      assert.equal(s.session, master, `the master leads its own session (sid ${s.session})`);
      assert.equal(s.pgrp, master, `the master leads its own process group (pgid ${s.pgrp})`);
      assert.ok(s.ppid === 1 || ancestors().includes(s.ppid), `the master's parent ${s.ppid} is init or a subreaper above the test, not the launcher`);
      const fds = fdTargets(master);
      for (const fd of [0, 1, 2]) assert.equal(fds.get(fd), "/dev/null", `master fd ${fd} -> ${fds.get(fd)}`);

      const workers = childrenByPpid(master).filter((pid) => stat(pid)?.comm === "node");
      assert.equal(workers.length, 2, `two workers under the master (children: ${childrenByPpid(master).map((p) => `${p} ${stat(p)?.comm}`).join(", ")})`);
      assert.ok(workers.includes((first as { pid: number }).pid), "the answer came from one of the master's workers");
      for (const w of workers) {
        // each worker leads a session of its own, as systemd starts a service (REFERENCE §4)
        assert.equal(stat(w)?.session, w, `worker ${w} leads its own session, not the master's (${master})`);
        for (const fd of [0, 1, 2]) assert.equal(fdTargets(w).get(fd), "/dev/null", `worker ${w} fd ${fd}`);
      }

      process.kill(master, "SIGTERM");
      await waitGone([master, ...workers], 10_000);
      await waitUntil(() => !existsSync(pidfile), 2_000, `the pidfile ${pidfile} to be removed`);
      assert.ok(!existsSync(bed.path("http.sock")), "the unix socket file is removed");
    }));

    test("a worker that exits 3 before ready: the launcher prints the start-up log and exits 3", e2e(mode, async (bed) => {
      const pidfile = bed.path("app.pid");
      reapDaemons(bed, () => undefined);
      const file = bed.write("steward.toml", config(bed, fixture("exit-with.cjs", "3", "200"), { workers: 1 }));
      const launched = await bed.run(["--daemon", "-p", pidfile, "-f", file], { timeoutMs: 20_000 });
      assert.equal(launched.code, 3, `launcher exit status${launched.steward.log()}`);
      assert.match(launched.stderr, /Worker 1 \(\d+\) started/, `the start-up log is printed${launched.steward.log()}`);
      assert.match(launched.stderr, /exited with code 3 before it was ready/, launched.steward.log());
      assert.ok(!existsSync(pidfile), "no pidfile after a failed start");
      await waitUntil(() => processesWithArg(bed.dir).length === 0, 3_000, () => `no master left running from ${bed.dir}: ${processesWithArg(bed.dir).join(", ")}`);
    }));

    test("a generation not ready within ready-timeout: the launcher exits 1 with the reason", e2e(mode, async (bed) => {
      const pidfile = bed.path("app.pid");
      reapDaemons(bed, () => undefined);
      const file = bed.write("steward.toml", serving(fixture("listen-elsewhere.cjs"), { "ready-timeout": "1s" }));
      const started = Date.now();
      const launched = await bed.run(["-D", "-p", pidfile, "-f", file], { timeoutMs: 20_000 });
      const took = Date.now() - started;
      assert.equal(launched.code, 1, `launcher exit status${launched.steward.log()}`);
      assert.ok(took >= 900, `the launcher returned after ${took}ms, before ready-timeout (1s)`);
      assert.match(launched.stderr, /not ready within 1s/, launched.steward.log());
      assert.ok(!existsSync(pidfile), "no pidfile after a failed start");
      await waitUntil(() => processesWithArg(bed.dir).length === 0, 3_000, () => `no master left running from ${bed.dir}`);
      // the worker that never got ready is gone too
      const masterPid = Number(/\((\d+)\) : /.exec(launched.stderr)?.[1]);
      assert.ok(masterPid > 0, `the start-up log names the master's PID${launched.steward.log()}`);
      await waitUntil(() => processesOfMaster(masterPid).length === 0, 3_000, () => `the workers of ${masterPid} to be gone: ${processesOfMaster(masterPid).join(", ")}`);
    }));

    test("-D with -Ws is a usage error (exit 2)", e2e(mode, async (bed) => {
      reapDaemons(bed, () => undefined);
      const launched = await bed.run(["-D", "-Ws", "-l", "tcp://127.0.0.1:0", "--", ...fixture("http-worker.cjs")]);
      assert.equal(launched.code, 2, launched.steward.log());
      assert.match(launched.stderr, /--help/, launched.steward.log());
    }));
  });
}
