/**
 * What starts each child between fork and exec: the compiled executable's native exec
 * helper (src/workers/exec-helper.c, run from a memfd), or `steward __exec` from source.
 * Both print the same line and exit with the shells' codes when the command cannot run.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import process from "node:process";
import { describe, test } from "node:test";
import { stat } from "./_extra.ts";
import { e2e, fixture, installScript, MODES, serving } from "./_harness.ts";

const O_CLOEXEC = 0o2000000;

/** `/proc/PID/autogroup` (`/autogroup-N nice K`), or undefined without CONFIG_SCHED_AUTOGROUP. */
function autogroup(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/autogroup`, "utf8").split(" nice")[0];
  } catch {
    return undefined;
  }
}
const autogroupsOn = (() => {
  try {
    return readFileSync("/proc/sys/kernel/sched_autogroup_enabled", "utf8").trim() === "1";
  } catch {
    return false;
  }
})();

/** [fd, flags, inode] of each memfd named steward-exec that `pid` holds. */
function helperMemfds(pid: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    let target = "";
    try {
      target = readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue; // closed meanwhile
    }
    if (!target.startsWith("/memfd:steward-exec")) continue;
    const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${name}`, "utf8"))?.[1];
    out.push([Number(name), parseInt(flags ?? "0", 8), statSync(`/proc/${pid}/fd/${name}`).ino]);
  }
  return out;
}

for (const mode of MODES) {
  describe(`exec helper [${mode}]`, () => {
    test("a command the kernel cannot execute: one line naming it, and its 127 is the master's exit code", e2e(mode, async (bed) => {
      const script = bed.path("no-interpreter.sh");
      installScript(script, "#!/nonexistent/interpreter\n");
      const steward = bed.startWith(serving([script]));
      const escaped = script.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      await steward.waitForLine(new RegExp(`^steward: worker 1: cannot execute '${escaped}': No such file or directory \\(ENOENT\\)$`));
      await steward.expectExit(127);
    }));

    test(`children start ${mode === "binary" ? "from the helper's memfd, which is close-on-exec and never in a worker" : "through steward __exec: no memfd"}`, e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2 }));
      await steward.ready();
      const workers = await steward.waitForWorkers(2);
      const held = helperMemfds(steward.pid);
      if (mode === "binary") {
        // still held after two starts: the helper ran (a helper that cannot run is closed)
        assert.equal(held.length, 1, `one steward-exec memfd in the master: ${JSON.stringify(held)}${steward.log()}`);
        assert.ok((held[0]![1] & O_CLOEXEC) !== 0, `the memfd is close-on-exec (flags ${held[0]![1].toString(8)})`);
      } else {
        assert.deepEqual(held, [], "from source, children start through the JavaScript shim");
      }
      for (const w of workers) assert.deepEqual(helperMemfds(w.pid), [], `worker ${w.pid} holds no steward-exec memfd`);

      // Two reloads re-execute the master into the same file: each new image adopts the memfd
      // the previous one kept open across the execve (the same one, close-on-exec again),
      // and its workers neither hold it nor see the variable that named it.
      let from = (await steward.ready()).line.index + 1;
      for (let reload = 1; reload <= 2; reload++) {
        process.kill(steward.pid, "SIGUSR2");
        from = (await steward.waitForLine(/Loading success\./, 15_000, from)).line.index + 1;
        const now = helperMemfds(steward.pid);
        if (mode === "binary") {
          assert.equal(now.length, 1, `one steward-exec memfd after reload ${reload}: ${JSON.stringify(now)}${steward.log()}`);
          assert.equal(now[0]![2], held[0]![2], `reload ${reload}: the new image adopted the memfd (inode ${held[0]![2]}, now ${now[0]![2]})`);
          assert.ok((now[0]![1] & O_CLOEXEC) !== 0, `reload ${reload}: the adopted memfd is close-on-exec (flags ${now[0]![1].toString(8)})`);
        } else {
          assert.deepEqual(now, [], `no steward-exec memfd after reload ${reload}`);
        }
        for (const w of steward.started().filter((w) => w.generation === reload)) {
          assert.deepEqual(helperMemfds(w.pid), [], `worker ${w.pid} of generation ${reload} holds no steward-exec memfd`);
          const environ = readFileSync(`/proc/${w.pid}/environ`, "utf8").split("\0");
          assert.ok(!environ.some((v) => v.startsWith("STEWARD_EXEC_HELPER_FD=")), `worker ${w.pid} does not see STEWARD_EXEC_HELPER_FD`);
        }
      }
    }));

    test("each worker leads a session and a process group of its own, apart from the master's and its siblings', a reload's workers too", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2 }));
      await steward.ready();
      const check = (pids: number[], when: string) => {
        const master = stat(steward.pid);
        assert.ok(master, `master ${steward.pid} is running`);
        for (const pid of pids) {
          const s = stat(pid);
          assert.ok(s, `worker ${pid} is running (${when})`);
          assert.equal(s.session, pid, `worker ${pid} leads its own session (sid ${s.session}, master's ${master.session}; ${when})`);
          assert.equal(s.pgrp, pid, `worker ${pid} leads its own process group (pgid ${s.pgrp}; ${when})`);
          // where the kernel shares the CPU by session, the worker is counted apart from the master
          if (autogroupsOn && autogroup(pid) !== undefined) {
            assert.notEqual(autogroup(pid), autogroup(steward.pid), `worker ${pid} is in an autogroup of its own (${autogroup(pid)}; ${when})`);
          }
        }
        if (autogroupsOn && pids.length === 2 && autogroup(pids[0]!) !== undefined) {
          assert.notEqual(autogroup(pids[0]!), autogroup(pids[1]!), `two workers, two autogroups (${when})`);
        }
      };
      check((await steward.waitForWorkers(2)).map((w) => w.pid), "first generation");
      const from = (await steward.ready()).line.index + 1;
      process.kill(steward.pid, "SIGUSR2");
      await steward.waitForLine(/Loading success\./, 15_000, from);
      check(steward.started().filter((w) => w.generation === 1).map((w) => w.pid), "after a reload");
    }));
  });
}
