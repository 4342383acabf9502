/**
 * `[[program]]` sections (REFERENCE §1, §3, §5.6, §5.7; README "[[program]]"): sidecars
 * started with the master, without listeners, with the master's PID and a CLI socket in
 * their environment; replaced on reload (start-on-reload = true, the default) or left
 * untouched (false); their own on-failure (restart by default, ignore, exit); stopped
 * with SIGTERM with the master. And `user`/`group` in [global]: workers and programs run
 * as that identity, the master stays root (the tests run as root).
 *
 * The program is test/fixtures/program.sh, which records its descriptor table and
 * environment at exec in $PROGRAM_DIR and logs its SIGTERM.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { describe, test } from "node:test";
import { cliRequest, parseEnviron, type ProgramSection, programs, statusField } from "./_extra.ts";
import {
  ask,
  e2e,
  expectReloaded,
  fixture,
  isAlive,
  MODES,
  serving,
  sleep,
  type Steward,
  type TestBed,
  waitGone,
  waitUntil,
} from "./_harness.ts";

/** A configuration with one http-worker and `sections`, each running program.sh NAME. */
function withPrograms(bed: TestBed, sections: Array<Omit<ProgramSection, "command"> & { command?: string[] }>, global: Record<string, string | number> = {}): string {
  return serving(fixture("http-worker.cjs"), global) + "\n" +
    programs(sections.map((p) => ({
      ...p,
      command: p.command ?? fixture("program.sh", p.name),
      env: { PROGRAM_DIR: bed.dir, ...p.env },
    })));
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Waits for `Program 'NAME' (PID) started` from line `from` on; returns the PID and the line. */
async function programStarted(steward: Steward, name: string, from = 0, timeoutMs = 10_000): Promise<{ pid: number; index: number; at: number }> {
  const { line, match } = await steward.waitForLine(new RegExp(`Program '${escape(name)}' \\((\\d+)\\) started`), timeoutMs, from);
  return { pid: Number(match[1]), index: line.index, at: line.at };
}

/** Waits until program.sh says it runs (its SIGTERM handler is in place by then). */
async function programRunning(steward: Steward, name: string, pid: number, from = 0): Promise<void> {
  await steward.waitForLine(new RegExp(`program ${escape(name)} ${pid} running`), 10_000, from);
}

/** What program.sh recorded at exec: its descriptor table and environment. */
async function recorded(bed: TestBed, name: string, pid: number): Promise<{ fds: Map<number, string>; env: Record<string, string> }> {
  const base = bed.path(`${name}.${pid}`);
  await waitUntil(() => existsSync(`${base}.fds`) && existsSync(`${base}.env`), 5_000, `program ${name} (${pid}) to record its descriptors and environment`);
  const fds = new Map<number, string>();
  for (const line of readFileSync(`${base}.fds`, "utf8").split("\n")) {
    const m = /^(\d+) (.*)$/.exec(line);
    if (m) fds.set(Number(m[1]), m[2]!);
  }
  return { fds, env: parseEnviron(readFileSync(`${base}.env`, "latin1")) };
}

for (const mode of MODES) {
  describe(`programs [${mode}]`, () => {
    test("started with the master: no listeners (fds 0, 1, 2), master PID and CLI socket in its environment, in show proc; SIGTERM at stop", e2e(mode, async (bed) => {
      const cli = bed.path("cli.sock");
      const file = bed.write("steward.toml", withPrograms(bed, [{ name: "side", env: { SIDE_VAR: "side value" } }]));
      const steward = bed.start(["-f", file, "-S", cli]);
      const side = await programStarted(steward, "side");
      await steward.ready();
      const [worker] = await steward.waitForWorkers(1);

      const { fds, env } = await recorded(bed, "side", side.pid);
      const own = [...fds].filter(([, target]) => !target.endsWith("/program.sh")).map(([fd]) => fd).sort((a, b) => a - b);
      assert.deepEqual(own, [0, 1, 2], `a program gets no listener and no descriptor of the master: ${JSON.stringify([...fds])}`);
      assert.equal(env.STEWARD_MASTER_PID, String(steward.pid));
      assert.ok(env.STEWARD_CLI_SOCKET, "STEWARD_CLI_SOCKET is set");
      assert.equal(env.SIDE_VAR, "side value", "the program's configured env");
      assert.equal(env.LISTEN_FDS ?? "0", "0", "no LISTEN_FDS for a program");
      assert.equal(env.STEWARD_WORKER_ID, undefined, "a program is not a worker");

      const proc = await cliRequest(cli, "show proc");
      const section = proc.split("# programs")[1];
      assert.ok(section !== undefined, `show proc has a '# programs' section:\n${proc}`);
      assert.match(section, new RegExp(`^${side.pid}\\s+side\\s`, "m"), `show proc lists the program:\n${proc}`);
      assert.ok(!proc.split("# programs")[0]!.includes(`${side.pid} `), `the program is not listed as a worker:\n${proc}`);

      steward.signal("SIGTERM");
      await steward.expectExit(0);
      await steward.waitForLine(new RegExp(`program side ${side.pid} received SIGTERM`), 1_000);
      assert.ok(!isAlive(side.pid) && !isAlive(worker!.pid), `program and worker are gone${steward.log()}`);
    }));

    test("reload: start-on-reload = true is replaced (SIGTERM, new PID); false keeps its PID untouched across reloads", e2e(mode, async (bed) => {
      const file = bed.write("steward.toml", withPrograms(bed, [{ name: "again" }, { name: "keep", "start-on-reload": false }]));
      const steward = bed.start(["-f", file]);
      let again = await programStarted(steward, "again");
      const keep = await programStarted(steward, "keep");
      await steward.ready();
      await programRunning(steward, "again", again.pid);
      await programRunning(steward, "keep", keep.pid);

      for (let round = 1; round <= 2; round++) {
        const outcome = await expectReloaded(steward, "SIGUSR2");
        await steward.waitForLine(new RegExp(`Program 'again' \\(${again.pid}\\) sent SIGTERM \\(start-on-reload\\)`), 5_000, outcome.from);
        const next = await programStarted(steward, "again", outcome.from);
        assert.notEqual(next.pid, again.pid, `reload ${round}: a new instance of 'again'`);
        await steward.waitForLine(new RegExp(`program again ${again.pid} received SIGTERM`), 5_000, outcome.from);
        await waitGone([again.pid], 5_000);
        await programRunning(steward, "again", next.pid, outcome.from);
        assert.ok(isAlive(next.pid), `reload ${round}: the new 'again' runs`);
        again = next;
        assert.ok(isAlive(keep.pid), `reload ${round}: 'keep' still runs`);
      }
      await sleep(200);
      assert.equal(steward.matching(/Program 'keep' \(\d+\) started/).length, 1, `'keep' was started once${steward.log()}`);
      assert.deepEqual(steward.matching(new RegExp(`Program 'keep' \\(${keep.pid}\\) (sent|exited|killed)`)).map((f) => f.line.text), [], "'keep' was never signalled");
      assert.deepEqual(steward.matching(/program keep \d+ received/).map((f) => f.line.text), [], "'keep' never received a signal");
      assert.equal(steward.matching(/Program 'again' \(\d+\) started/).length, 3, `'again' was started 3 times${steward.log()}`);

      steward.signal("SIGTERM");
      await steward.expectExit(0);
      await steward.waitForLine(new RegExp(`program keep ${keep.pid} received SIGTERM`), 1_000);
      await steward.waitForLine(new RegExp(`program again ${again.pid} received SIGTERM`), 1_000);
    }));

    test("on-failure restart (the default): a program that exits 3 is started again after ~1s", e2e(mode, async (bed) => {
      const file = bed.write("steward.toml", withPrograms(bed, [{ name: "crash", env: { EXIT_CODE: "3", EXIT_AFTER_MS: "200" } }]));
      const steward = bed.start(["-f", file]);
      const first = await programStarted(steward, "crash");
      await steward.ready();
      const http = await steward.listener("http");
      const exited = await steward.waitForLine(new RegExp(`Program 'crash' \\(${first.pid}\\) exited with code 3`), 5_000);
      const second = await programStarted(steward, "crash", exited.line.index);
      const backOff = second.at - exited.line.at;
      assert.ok(backOff >= 800 && backOff < 5_000, `restarted ${backOff}ms after the exit, expected a ~1s back-off${steward.log()}`);
      assert.notEqual(second.pid, first.pid);
      await recorded(bed, "crash", second.pid);
      await sleep(300);
      assert.ok(isAlive(second.pid), "the new instance runs");
      assert.equal(steward.exit, undefined, `the master keeps running${steward.log()}`);
      assert.equal((await ask(http.url)).env.STEWARD_MASTER_PID, String(steward.pid), "the worker still serves");
      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));

    test("on-failure ignore: the program is gone, the master and its worker keep serving", e2e(mode, async (bed) => {
      const file = bed.write("steward.toml", withPrograms(bed, [{ name: "crash", "on-failure": "ignore", env: { EXIT_CODE: "3", EXIT_AFTER_MS: "200" } }]));
      const steward = bed.start(["-f", file]);
      const first = await programStarted(steward, "crash");
      await steward.ready();
      const http = await steward.listener("http");
      const [worker] = await steward.waitForWorkers(1);
      await steward.waitForLine(new RegExp(`Program 'crash' \\(${first.pid}\\) exited with code 3`), 5_000);
      // longer than the restart back-off: nothing is restarted, nobody exits
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        assert.equal((await ask(http.url)).pid, worker!.pid);
        await sleep(100);
      }
      assert.equal(steward.matching(/Program 'crash' \(\d+\) started/).length, 1, `no new instance${steward.log()}`);
      assert.equal(steward.exit, undefined, `the master keeps running${steward.log()}`);
      assert.ok(!isAlive(first.pid));
      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));

    test("on-failure exit: the master stops workers and programs and exits with the program's status (3)", e2e(mode, async (bed) => {
      const file = bed.write("steward.toml", withPrograms(bed, [
        { name: "crash", "on-failure": "exit", env: { EXIT_CODE: "3", EXIT_AFTER_MS: "1000" } },
        { name: "other" },
      ]));
      const steward = bed.start(["-f", file]);
      const crash = await programStarted(steward, "crash");
      const other = await programStarted(steward, "other");
      await steward.ready();
      const [worker] = await steward.waitForWorkers(1);
      await programRunning(steward, "other", other.pid);
      await steward.waitForLine(new RegExp(`http-worker ${worker!.pid} serving`));
      assert.equal(steward.exit, undefined, `'other' and the worker were up before 'crash' exited${steward.log()}`);
      await steward.expectExit(3);
      await steward.waitForLine(new RegExp(`Program 'crash' \\(${crash.pid}\\) exited with code 3`), 1_000);
      await steward.waitForLine(new RegExp(`http-worker ${worker!.pid} received SIGTERM`), 1_000);
      await steward.waitForLine(new RegExp(`program other ${other.pid} received SIGTERM`), 1_000);
      await steward.waitForLine(/Exiting master with code 3\./, 1_000);
      assert.ok(!isAlive(worker!.pid) && !isAlive(other.pid), `everything stopped before the master exited${steward.log()}`);
    }));

    test("user = \"nobody\": workers and programs run as nobody (uid, gid, groups); the master stays root", e2e(mode, async (bed) => {
      assert.equal(process.getuid?.(), 0, "this test runs as root");
      chmodSync(bed.dir, 0o777); // nobody's program writes its records here; the worker's cwd
      const file = bed.write("steward.toml", withPrograms(bed, [{ name: "side" }], { user: "nobody" }));
      const steward = bed.start(["-f", file]);
      const side = await programStarted(steward, "side");
      await steward.ready();
      const [worker] = await steward.waitForWorkers(1);
      const http = await steward.listener("http");
      assert.equal((await ask(http.url)).pid, worker!.pid, "the worker serves as nobody");
      await recorded(bed, "side", side.pid);

      const nobody = /^nobody:[^:]*:(\d+):(\d+):/m.exec(readFileSync("/etc/passwd", "utf8"));
      assert.ok(nobody, "/etc/passwd has nobody");
      const [uid, gid] = [nobody[1], nobody[2]];
      for (const [what, pid] of [["worker", worker!.pid], ["program", side.pid]] as const) {
        assert.deepEqual(statusField(pid, "Uid")?.split(/\s+/), [uid, uid, uid, uid], `${what} ${pid} Uid`);
        assert.deepEqual(statusField(pid, "Gid")?.split(/\s+/), [gid, gid, gid, gid], `${what} ${pid} Gid`);
        const groups = statusField(pid, "Groups")?.split(/\s+/).filter((g) => g !== "") ?? [];
        assert.ok(groups.every((g) => g === gid), `${what} ${pid} keeps no supplementary group of the master (Groups: ${groups.join(" ")})`);
      }
      assert.deepEqual(statusField(steward.pid, "Uid")?.split(/\s+/), ["0", "0", "0", "0"], "the master keeps uid 0");
      assert.deepEqual(statusField(steward.pid, "Gid")?.split(/\s+/), ["0", "0", "0", "0"], "the master keeps gid 0");

      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));
  });
}
