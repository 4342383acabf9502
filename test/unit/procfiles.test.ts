// The accepting poll's kept /proc files (src/workers/procfiles.ts), on real /proc files of
// a `sleep` this test starts (and kills, by PID).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { KeptProcFiles, openFilesLimit } from "../../src/workers/procfiles.ts";
import { procfs } from "../../src/workers/proctree.ts";

/** A `sleep` asleep (exec'd, blocked in its syscall), so that its /proc files hold still. */
async function sleeper() {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  const gone = new Promise((r) => child.once("exit", r));
  const kill = async () => (child.kill("SIGKILL"), await gone);
  for (const deadline = Date.now() + 10_000; !/^\d+ \(sleep\) S /.test(procfs.read(`/proc/${child.pid}/stat`)); ) {
    if (Date.now() > deadline) {
      await kill();
      throw new Error("sleep not asleep within 10 s");
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { pid: child.pid!, kill };
}

describe("kept /proc files", () => {
  test("a kept file answers as a fresh read, from one descriptor, and a fresh one after the process is gone", async () => {
    const s = await sleeper();
    try {
      const kept = new KeptProcFiles();
      const path = `/proc/${s.pid}/task/${s.pid}/children`;
      const cmdline = `/proc/${s.pid}/cmdline`;
      assert.equal(kept.read(path), procfs.read(path));
      assert.equal(kept.read(path), readFileSync(path, "utf8"));
      assert.equal(kept.size, 1);
      assert.equal(kept.read(cmdline), procfs.read(cmdline), "other files are read as before");
      assert.equal(kept.size, 1, "and not kept");
      const syscall = `/proc/${s.pid}/task/${s.pid}/syscall`;
      assert.equal(kept.read(syscall), procfs.read(syscall));
      assert.equal(kept.size, 2);
      await s.kill();
      assert.equal(procfs.read(syscall), "");
      assert.equal(kept.read(syscall), "", "gone: as a fresh read");
      assert.equal(kept.size, 1, "and closed");
      assert.equal(kept.read(path), "", "children of a thread that is gone read empty");
    } finally {
      await s.kill();
    }
  });

  test("a sweep closes what was not read since the last one; sweep(true) closes everything", async () => {
    const a = await sleeper();
    const b = await sleeper();
    try {
      const kept = new KeptProcFiles();
      const pa = `/proc/${a.pid}/task/${a.pid}/syscall`;
      const pb = `/proc/${b.pid}/task/${b.pid}/syscall`;
      kept.read(pa);
      kept.read(pb);
      kept.sweep();
      assert.equal(kept.size, 2);
      kept.read(pa);
      kept.sweep();
      assert.equal(kept.size, 1, "b was not read since the last sweep");
      kept.read(pa);
      kept.sweep(true);
      assert.equal(kept.size, 0);
    } finally {
      await a.kill();
      await b.kill();
    }
  });

  test("past the limit, files are read as before and not kept", async () => {
    const a = await sleeper();
    try {
      const kept = new KeptProcFiles(procfs, 1);
      const syscall = `/proc/${a.pid}/task/${a.pid}/syscall`;
      const children = `/proc/${a.pid}/task/${a.pid}/children`;
      kept.read(syscall);
      assert.equal(kept.read(children), procfs.read(children));
      assert.equal(kept.size, 1);
    } finally {
      await a.kill();
    }
  });

  test("the open-files limit from /proc/self/limits", () => {
    const line = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${soft}                20000                files     \n`;
    assert.equal(openFilesLimit(line("1024")), 1024);
    assert.equal(openFilesLimit(line("unlimited")), Infinity);
    assert.equal(openFilesLimit(""), 1024);
    assert.ok(openFilesLimit() >= 1);
  });
});
