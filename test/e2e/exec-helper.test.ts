/**
 * What starts each child between fork and exec: the compiled executable's native exec
 * helper (src/workers/exec-helper.c, run from a memfd), or `steward __exec` from source.
 * Both print the same line and exit with the shells' codes when the command cannot run.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import process from "node:process";
import { describe, test } from "node:test";
import { e2e, fixture, installScript, MODES, serving } from "./_harness.ts";

const O_CLOEXEC = 0o2000000;

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
  });
}
