/**
 * Reload (REFERENCE §5.3): what survives a reload (master PID, start time, listener sockets,
 * descriptor count, no zombie), the generation counter workers see, and a changed
 * configuration applied by the next reload (workers, env, command, listeners added,
 * removed and kept).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  ask,
  connectError,
  e2e,
  expectReloaded,
  expectServedBy,
  fdTable,
  fdTarget,
  fixture,
  freePort,
  isAlive,
  liveChildrenOf,
  MODES,
  serving,
  showFds,
  startTicks,
  toml,
  waitReaped,
  workersOf,
  zombiesOf,
} from "./_harness.ts";

for (const mode of MODES) {
  describe(`reload [${mode}]`, () => {
    test("5 reloads: same master PID, start time and listener socket; generations 1..5 answer; no fd leak, no zombie", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "ready-timeout": "5s" }, { DRAIN: "1" }));
      await steward.ready();
      const http = await steward.listener("http");
      const master = steward.pid;
      const socket = fdTarget(master, http.fd);
      assert.match(socket ?? "", /^socket:\[\d+\]$/, `fd ${http.fd} of the master is the listener${steward.log()}`);
      const startedAt = startTicks(master);
      let previous = workersOf(steward, 0);
      assert.equal(previous.length, 2, steward.log());
      await expectServedBy(http.url, previous.map((w) => w.pid), 0, () => steward.log());
      const fdsBefore = fdTable(master);

      for (let generation = 1; generation <= 5; generation++) {
        const signal = generation % 2 === 1 ? "SIGUSR2" : "SIGHUP";
        const outcome = await expectReloaded(steward, signal);
        assert.equal(outcome.reload, generation, `'Master re-executed ... reload ${generation} in progress'${steward.log()}`);
        const current = workersOf(steward, generation);
        assert.deepEqual(current.map((w) => w.id).sort(), [1, 2], `generation ${generation} started workers 1 and 2${steward.log()}`);
        await waitReaped(master, previous.map((w) => w.pid));
        await expectServedBy(http.url, current.map((w) => w.pid), generation, () => steward.log());
        assert.equal(fdTarget(master, http.fd), socket, `the listener socket after reload ${generation}${steward.log()}`);
        previous = current;
      }

      assert.ok(isAlive(master) && !steward.exit, `the master is alive${steward.log()}`);
      assert.equal(startTicks(master), startedAt, "the master's start time (/proc/PID/stat field 22) did not change");
      const reexecs = steward.matching(/\((\d+)\) : Master re-executed/);
      assert.equal(reexecs.length, 5, steward.log());
      for (const { match } of reexecs) assert.equal(Number(match[1]), master, "re-executed with the same PID");
      const fdsAfter = fdTable(master);
      assert.ok(
        Math.abs(fdsAfter.size - fdsBefore.size) <= 2,
        `the master had ${fdsBefore.size} descriptors before 5 reloads and ${fdsAfter.size} after:\n` +
          `before: ${showFds(fdsBefore)}\nafter:  ${showFds(fdsAfter)}`,
      );
      assert.deepEqual(zombiesOf(master), [], "no zombie child of the master");
    }));

    test(mode === "binary"
      ? "an unchanged compiled binary loads the new generation and answers before it re-executes"
      : "from source, the new image starts the new generation after the re-exec", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "ready-timeout": "5s" }, { DRAIN: "1" }));
      await steward.ready();
      const http = await steward.listener("http");
      let previous = workersOf(steward, 0);
      for (let generation = 1; generation <= 2; generation++) {
        const from = steward.lines.length;
        const outcome = await expectReloaded(steward, "SIGUSR2");
        assert.equal(outcome.reload, generation, steward.log());
        const reexec = (await steward.waitForLine(/Master re-executed/, 10_000, from)).line.index;
        assert.equal(outcome.reexecAfter, mode === "binary" ? true : undefined, steward.log());
        if (mode === "binary") assert.ok(outcome.line.index < reexec, `'Loading success.' before the re-exec${steward.log()}`);
        const started = workersOf(steward, generation);
        assert.equal(started.length, 2, steward.log());
        for (const w of started) {
          if (mode === "binary") assert.ok(w.index < reexec, `worker ${w.id} of generation ${generation} started before the re-exec${steward.log()}`);
          else assert.ok(w.index > reexec, `worker ${w.id} of generation ${generation} started after the re-exec${steward.log()}`);
        }
        await waitReaped(steward.pid, previous.map((w) => w.pid));
        await expectServedBy(http.url, started.map((w) => w.pid), generation, () => steward.log());
        previous = started;
      }
    }));

    if (mode === "binary") {
      test("a configuration that changes during the exec: the workers started before it are killed, and the generation starts again from what the new image read", e2e(mode, async (bed) => {
        // The configuration file is a FIFO: each read gets what the test writes next — the
        // start, the check before the exec, the new image's own read — so the second and
        // third reads can differ, as when the file is edited during the exec.
        const fifo = join(bed.dir, "steward.toml");
        execFileSync("mkfifo", [fifo]);
        const text = (workers: number) => serving(fixture("http-worker.cjs"), { workers, "ready-timeout": "5s" }, { DRAIN: "1" });
        const steward = bed.start(["-f", fifo]);
        await writeFile(fifo, text(1));
        await steward.ready();
        const http = await steward.listener("http");
        const from = steward.lines.length;
        steward.signal("SIGUSR2");
        await writeFile(fifo, text(2)); // read by the check: 2 workers started before the exec
        // once they are, the check has read and closed the file (a write before that could
        // join the same read)
        await steward.waitForLine(/Worker 2 \(\d+\) started \(generation 1\)/, 10_000, from);
        await writeFile(fifo, text(3)); // read by the new image
        await steward.waitForLine(/The configuration changed during the exec: generation 1 is started again from it/, 10_000, from);
        await steward.waitForLine(/Loading success\./, 10_000, from);
        const gen1 = workersOf(steward, 1);
        assert.equal(gen1.length, 5, `2 workers started early, then 3 from the new image's configuration${steward.log()}`);
        const [early, final] = [gen1.slice(0, 2), gen1.slice(2)];
        assert.deepEqual(final.map((w) => w.id), [1, 2, 3], steward.log());
        await waitReaped(steward.pid, [...early, ...workersOf(steward, 0)].map((w) => w.pid));
        assert.deepEqual(liveChildrenOf(steward.pid).map((p) => p.pid).sort(), final.map((w) => w.pid).sort(), steward.log());
        await expectServedBy(http.url, final.map((w) => w.pid), 1, () => steward.log());
      }));
    }

    test("a second after each load the master gives back its executable's start-up pages, and still reloads and serves", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1, "ready-timeout": "5s" }, { DRAIN: "1" }), "steward.toml", {
        env: { STEWARD_LOG_LEVEL: "debug" },
      });
      await steward.ready();
      const gaveBack = /Gave back (\d+\.\d) MiB of start-up pages/;
      const first = await steward.waitForLine(gaveBack, 10_000);
      assert.ok(Number(first.match[1]) > 0, `some pages were given back after the first load${steward.log()}`);
      if (mode === "binary") {
        // the compiled executable's embedded module graph (its .bun section) is given back too
        const graph = / \((\d+\.\d) MiB of its module graph\)/.exec(first.line.text);
        assert.ok(Number(graph?.[1]) > 0, `module graph pages were given back: ${first.line.text}`);
      }
      const http = await steward.listener("http");
      await expectServedBy(http.url, workersOf(steward, 0).map((w) => w.pid), 0, () => steward.log());
      const outcome = await expectReloaded(steward, "SIGUSR2");
      assert.equal(outcome.reload, 1, steward.log());
      await steward.waitForLine(gaveBack, 10_000, first.line.index + 1);
      await waitReaped(steward.pid, workersOf(steward, 0).map((w) => w.pid));
      await expectServedBy(http.url, workersOf(steward, 1).map((w) => w.pid), 1, () => steward.log());
    }));

    test("a changed configuration applies: workers 2→3, env, command args, a listener added, one removed, one kept", e2e(mode, async (bed) => {
      const [removedPort, addedPort] = [await freePort(), await freePort()];
      const config = (variant: "one" | "two") =>
        toml({
          global: { workers: variant === "one" ? 2 : 3, "ready-timeout": "5s" },
          listen: [
            { name: "http", bind: "tcp://127.0.0.1:0" },
            variant === "one"
              ? { name: "removed", bind: `tcp://127.0.0.1:${removedPort}` }
              : { name: "added", bind: `tcp://127.0.0.1:${addedPort}` },
          ],
          worker: { command: [...fixture("http-worker.cjs"), "--variant", variant], env: { GREETING: variant, DRAIN: "1" } },
        });
      const steward = bed.startWith(config("one"));
      await steward.ready();
      const http = await steward.listener("http");
      const removed = await steward.listener("removed");
      const master = steward.pid;
      const httpSocket = fdTarget(master, http.fd);
      const removedSocket = fdTarget(master, removed.fd);
      const gen0 = workersOf(steward, 0);
      const before = await expectServedBy(http.url, gen0.map((w) => w.pid), 0, () => steward.log());
      for (const report of before.values()) {
        assert.equal(report.env.GREETING, "one");
        assert.deepEqual(report.argv, ["--variant", "one"]);
      }
      assert.equal((await ask(removed.url)).listener, "removed");

      bed.write("steward.toml", config("two"));
      const outcome = await expectReloaded(steward);
      const added = await steward.listener("added");
      assert.equal(added.url, `tcp://127.0.0.1:${addedPort}`);
      const gen1 = workersOf(steward, 1);
      assert.equal(gen1.length, 3, `3 workers in generation 1${steward.log()}`);
      assert.ok(outcome.line.index > steward.matching(/Listener 'added' bound to/)[0]!.line.index);

      // kept: same socket; the new generation answers with the new env and arguments
      assert.equal(fdTarget(master, http.fd), httpSocket, `listener 'http' kept its socket${steward.log()}`);
      await waitReaped(master, gen0.map((w) => w.pid));
      const after = await expectServedBy(http.url, gen1.map((w) => w.pid), 1, () => steward.log());
      for (const [pid, report] of after) {
        assert.equal(report.env.GREETING, "two", `GREETING of ${pid}`);
        assert.deepEqual(report.argv, ["--variant", "two"], `arguments of ${pid}`);
        assert.equal(report.env.LISTEN_FDNAMES, "http:added", `LISTEN_FDNAMES of ${pid}`);
        assert.equal(report.env.LISTEN_FDS, "2", `LISTEN_FDS of ${pid}`);
      }
      // added: serves, from the new generation
      const viaAdded = await ask(added.url);
      assert.equal(viaAdded.listener, "added");
      assert.ok(gen1.some((w) => w.pid === viaAdded.pid), `answered by generation 1 (${viaAdded.pid})${steward.log()}`);
      // removed: closed once the old generation is gone, and only then
      const closed = await steward.waitForLine(/Listener 'removed' \((\S+)\) closed: no longer configured/, 5_000);
      assert.equal(closed.match[1], removed.url);
      for (const w of gen0) {
        const exited = await steward.waitForLine(new RegExp(`Old worker \\d+ \\(${w.pid}\\) exited`), 2_000);
        assert.ok(closed.line.index > exited.line.index, `'removed' closed after old worker ${w.pid} exited${steward.log()}`);
      }
      assert.equal(await connectError(removed.url), "ECONNREFUSED", `connecting to the removed listener ${removed.url}`);
      assert.ok(![...fdTable(master).values()].includes(removedSocket!), `the master no longer holds ${removedSocket}`);
    }));

    test("a listener added on port 0 next to a kept port-0 listener gets a socket of its own", e2e(mode, async (bed) => {
      const config = (extra: boolean) =>
        toml({
          global: { workers: 1, "ready-timeout": "5s" },
          listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }, ...(extra ? [{ name: "extra", bind: "tcp://127.0.0.1:0" }] : [])],
          worker: { command: fixture("http-worker.cjs"), env: { DRAIN: "1" } },
        });
      const steward = bed.startWith(config(false));
      await steward.ready();
      const http = await steward.listener("http");
      bed.write("steward.toml", config(true));
      await expectReloaded(steward);
      const extra = await steward.listener("extra", 2_000);
      assert.notEqual(extra.url, http.url, `'extra' must be another socket than 'http'${steward.log()}`);
      assert.equal((await ask(extra.url)).listener, "extra");
    }));
  });
}
