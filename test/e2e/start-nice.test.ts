/**
 * `start-nice` (REFERENCE §4): a starting worker's session runs at the nice value until the
 * worker is ready, then at 0; the master's own session is never touched; a reload's new
 * worker started before the master re-executes is set back to 0 by the next image.
 * Read from /proc/PID/autogroup, as the kernel keeps it.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { e2e, fixture, MODES, serving, waitUntil } from "./_harness.ts";

/** The nice value of the scheduler group of `pid`'s session (`/autogroup-N nice V`). */
function sessionNice(pid: number): number {
  const m = /nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, "utf8"));
  if (!m) throw new Error(`no nice value in /proc/${pid}/autogroup`);
  return Number(m[1]);
}

/** Root may lower a nice value (CAP_SYS_NICE); anyone may raise one. */
const root = process.getuid?.() === 0;

for (const mode of MODES) {
  describe(`start-nice [${mode}]`, () => {
    test("default -5 while a worker starts, 0 once ready; a reload across the exec does the same", { skip: !root && "lowering a nice value needs root" }, e2e(mode, async (bed) => {
      const gate = bed.path("gate");
      const config = (note: string) => `# ${note}\n${serving([...fixture("gated.sh"), ...fixture("http-worker.cjs")], { "ready-timeout": "60s" }, { GATE: gate })}`;
      const steward = bed.startWith(config("first"));
      const [first] = await steward.waitForWorkers(1);
      assert.equal(sessionNice(first!.pid), -5, `the starting worker's session${steward.log()}`);
      assert.equal(sessionNice(steward.pid), 0, "the master's session is not touched");
      writeFileSync(gate, "");
      await steward.ready();
      assert.equal(sessionNice(first!.pid), 0, `the ready worker's session${steward.log()}`);

      // a changed file: the master re-executes, the new worker starting before the exec
      rmSync(gate);
      bed.write("steward.toml", config("second"));
      steward.signal("SIGUSR2");
      const [, second] = await steward.waitForWorkers(2);
      await steward.waitForLine(/re-executed/i, 15_000);
      assert.equal(sessionNice(second!.pid), -5, `the new worker's session${steward.log()}`);
      assert.equal(sessionNice(first!.pid), 0, "the serving worker's session keeps 0");
      writeFileSync(gate, "");
      await steward.waitForLine(new RegExp(`Worker 1 \\(${second!.pid}\\) is ready`), 15_000);
      await waitUntil(() => sessionNice(second!.pid) === 0, 2_000, () => `the next image gives it 0${steward.log()}`);
    }));

    test("a configured value, the command line over the file, and 0 (off)", e2e(mode, async (bed) => {
      const gate = bed.path("gate");
      const config = serving([...fixture("gated.sh"), ...fixture("http-worker.cjs")], { "ready-timeout": "60s", "start-nice": 0 }, { GATE: gate });
      const off = bed.startWith(config, "off.toml");
      const [a] = await off.waitForWorkers(1);
      assert.equal(sessionNice(a!.pid), 0, `start-nice = 0${off.log()}`);

      // a value above 0 needs no privilege
      const kind = bed.startWith(config, "kind.toml", { args: ["--start-nice", "7"] });
      const [b] = await kind.waitForWorkers(1);
      assert.equal(sessionNice(b!.pid), 7, `--start-nice 7 over the file's 0${kind.log()}`);
      writeFileSync(gate, "");
      await kind.ready();
      await off.ready();
      assert.equal(sessionNice(b!.pid), 0, `ready${kind.log()}`);
      assert.equal(sessionNice(a!.pid), 0);
    }));
  });
}
