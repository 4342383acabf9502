/**
 * Reload under traffic (REFERENCE §5.3): no request refused or dropped across 10 reloads in a
 * row, a request in flight on an old worker completes while it drains, and a storm of
 * reload signals is merged into a few reloads that end with one current generation.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  e2e,
  expectReloaded,
  expectServedBy,
  fixture,
  isAlive,
  liveChildrenOf,
  MODES,
  reloadOutcome,
  request,
  serving,
  sleep,
  waitReaped,
  waitUntil,
  workersOf,
} from "./_harness.ts";

const DRAINING = { DRAIN: "1" };

for (const mode of MODES) {
  describe(`reload under traffic [${mode}]`, () => {
    test("10 reloads in a row: zero failed requests from a steady client loop", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "ready-timeout": "5s" }, DRAINING));
      await steward.ready();
      const http = await steward.listener("http");

      // sequential requests, one connection each (Connection: close), bounded in time and count
      const failures: string[] = [];
      const generations = new Map<string, number>();
      let answered = 0;
      let stop = false;
      const started = Date.now();
      const client = (async () => {
        const deadline = Date.now() + 120_000;
        for (let n = 0; !stop && Date.now() < deadline && n < 100_000; n++) {
          const at = Date.now();
          try {
            const reply = await request(http.url, "/", 5_000);
            if (reply.status !== 200) throw new Error(`status ${reply.status}: ${reply.body.slice(0, 200)}`);
            const generation = JSON.parse(reply.body).env.STEWARD_GENERATION as string;
            generations.set(generation, (generations.get(generation) ?? 0) + 1);
            answered++;
          } catch (error) {
            failures.push(`request ${n} at +${at - started}ms: ${(error as Error).message}`);
          }
        }
      })();
      try {
        await sleep(200);
        for (let reload = 1; reload <= 10; reload++) {
          const outcome = await expectReloaded(steward);
          assert.equal(outcome.reload, reload, steward.log());
        }
        await waitReaped(steward.pid, steward.started().filter((w) => w.generation !== 10).map((w) => w.pid));
        await sleep(200);
      } finally {
        stop = true;
        await client;
      }
      assert.deepEqual(failures, [], `${failures.length} of ${answered + failures.length} requests failed${steward.log()}`);
      assert.ok(answered >= 50, `the client loop made only ${answered} requests`);
      assert.ok(generations.has("0") && generations.has("10"), `answers came from generations ${[...generations.keys()].join(", ")}`);
    }));

    test("a slow request in flight on an old worker completes with 200 while it drains", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "ready-timeout": "5s" }, DRAINING));
      await steward.ready();
      const http = await steward.listener("http");
      const gen0 = workersOf(steward, 0).map((w) => w.pid);

      const from = steward.lines.length;
      // answers 1.5 s after the worker that holds it got its stop signal
      const slow = request(http.url, "/?hold=1500", 30_000).then(
        (reply) => ({ reply, at: Date.now() }),
        (error: Error) => ({ error, at: Date.now() }),
      );
      const held = await steward.waitForLine(/http-worker (\d+) holding a request/, 5_000, from);
      const holder = Number(held.match[1]);
      assert.ok(gen0.includes(holder), `held by ${holder}, a generation-0 worker${steward.log()}`);

      await expectReloaded(steward);
      const stopped = await steward.waitForLine(new RegExp(`http-worker ${holder} received SIGTERM`), 5_000, from);
      const result = await slow;
      assert.ok("reply" in result, `the slow request failed: ${"error" in result ? result.error.message : ""}${steward.log()}`);
      assert.equal(result.reply.status, 200, steward.log());
      const report = JSON.parse(result.reply.body);
      assert.equal(report.pid, holder);
      assert.equal(report.env.STEWARD_GENERATION, "0");
      const after = result.at - stopped.line.at;
      assert.ok(after >= 1_300, `answered ${after}ms after the stop signal: the request was not in flight during the drain`);
      await steward.waitForLine(new RegExp(`Old worker \\d+ \\(${holder}\\) exited with code 0`), 5_000);
      await expectServedBy(http.url, workersOf(steward, 1).map((w) => w.pid), 1, () => steward.log());
    }));

    test("a storm of 20 SIGUSR2 within a second: merged reloads, then one current generation", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2, "ready-timeout": "5s" }, DRAINING));
      await steward.ready();
      const http = await steward.listener("http");
      const master = steward.pid;

      const from = steward.lines.length;
      const stormStart = Date.now();
      for (let i = 0; i < 20; i++) {
        steward.signal("SIGUSR2");
        await sleep(10);
      }
      const stormMs = Date.now() - stormStart;
      assert.ok(stormMs < 1_000, `20 signals took ${stormMs}ms`);

      // settled: every reload has its outcome and the log has been quiet for 1.5 s
      const count = (re: RegExp) => steward.lines.slice(from).filter((l) => re.test(l.text)).length;
      await waitUntil(() => {
        const last = steward.lines[steward.lines.length - 1];
        const reloads = count(/Reloading \(/);
        return reloads > 0 && reloads === count(/Loading success\.|Reload failed:/) && Date.now() - last!.at > 1_500;
      }, 60_000, () => `the reloads to settle${steward.log()}`);

      assert.ok(isAlive(master) && !steward.exit, `the master is alive${steward.log()}`);
      const reloads = count(/Reloading \(/);
      assert.equal(count(/Reload failed:/), 0, steward.log());
      // Two reloads never run at once: each 'Reloading' follows the previous one's outcome.
      const sequence = steward.lines
        .slice(from)
        .filter((l) => /Reloading \(|Loading success\.|Reload failed:/.test(l.text))
        .map((l) => ({ start: /Reloading \(/.test(l.text), at: l.at }));
      sequence.forEach((e, i) => assert.equal(e.start, i % 2 === 0, `reload events alternate start/outcome${steward.log()}`));
      // Signals that arrive during a reload are merged into one more: the storm can start at
      // most one reload per reload that fits in it, plus the merged one after it.
      const durations = sequence.flatMap((e, i) => (e.start ? [sequence[i + 1]!.at - e.at] : []));
      const shortest = Math.max(1, Math.min(...durations));
      const bound = Math.floor(stormMs / shortest) + 2;
      assert.ok(
        reloads >= 1 && reloads <= Math.min(bound, 19),
        `20 signals within ${stormMs}ms made ${reloads} reloads (shortest ${shortest}ms): expected 1 to ${Math.min(bound, 19)} (merged)${steward.log()}`,
      );
      // one re-exec per reload; a compiled master with an unchanged file re-executes once the
      // reloads are quiet: once for the whole storm (REFERENCE §5.3 step 2)
      if (mode === "binary") {
        await steward.waitForLine(/Master re-executed .* after reload \d+/, 5_000, from);
        assert.equal(count(/Master re-executed/), 1, steward.log());
      } else {
        assert.equal(count(/Master re-executed/), reloads, steward.log());
      }

      const generation = Math.max(...steward.started().map((w) => w.generation ?? 0));
      assert.equal(generation, reloads, steward.log());
      const current = workersOf(steward, generation).map((w) => w.pid).sort();
      assert.equal(current.length, 2, steward.log());
      await waitReaped(master, steward.started().filter((w) => w.generation !== generation).map((w) => w.pid));
      const live = liveChildrenOf(master).map((p) => p.pid).sort();
      assert.deepEqual(live, current, `live children of the master are exactly generation ${generation}'s workers${steward.log()}`);
      await expectServedBy(http.url, current, generation, () => steward.log());
    }));

    test("SIGHUP during a reload is merged into one more reload after it", e2e(mode, async (bed) => {
      // workers accept only 800 ms after they start, so a reload is still waiting for its
      // new generation when the second signal comes
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1, "ready-timeout": "5s" }, {
        ...DRAINING,
        LISTEN_DELAY_MS: "800",
      }));
      await steward.ready();
      const from = steward.lines.length;
      steward.signal("SIGUSR2");
      // the new generation has started: the reload is under way (in the new image, or, with
      // an unchanged compiled binary, in the one that re-executes after it)
      await steward.waitForLine(/Worker 1 \(\d+\) started \(generation 1\)/, 10_000, from);
      steward.signal("SIGHUP");
      await steward.waitForLine(/SIGHUP received during a reload: one more reload will follow/, 5_000, from);
      const first = await reloadOutcome(steward, from);
      assert.ok(first.ok, steward.log());
      assert.equal(first.reload, 1, steward.log());
      const second = await reloadOutcome(steward, first.line.index + 1);
      assert.ok(second.ok, steward.log());
      assert.equal(second.reload, 2, steward.log());
      await steward.waitForLine(/Reloading \(merged reload request\)/, 1_000, from);
      await sleep(1_500);
      assert.equal(steward.lines.slice(from).filter((l) => /Reloading \(/.test(l.text)).length, 2, `exactly two reloads${steward.log()}`);
    }));

    test("SIGUSR2 sent the moment a reload succeeded (a compiled master then re-executes) is one more reload, never lost", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1, "ready-timeout": "5s" }, DRAINING));
      await steward.ready();
      const http = await steward.listener("http");
      for (let round = 1; round <= 3; round++) {
        const from = steward.lines.length;
        steward.signal("SIGUSR2");
        await steward.waitForLine(/Loading success\./, 10_000, from);
        // at once: before, during or just after the re-exec that follows a reload loaded first
        steward.signal("SIGUSR2");
        const second = await steward.waitForLine(/Loading success\./, 10_000, steward.matching(/Loading success\./).at(-1)!.line.index + 1);
        if (mode === "binary") await steward.waitForLine(new RegExp(`Master re-executed .* after reload ${round * 2}`), 10_000, second.line.index);
        assert.equal(steward.lines.slice(from).filter((l) => /Reloading \(/.test(l.text)).length, 2, `two reloads in round ${round}${steward.log()}`);
        assert.ok(!steward.exit, `the master is alive${steward.log()}`);
      }
      // generation 5 accepts until it handles its stop signal, which may come after `Loading success.`
      await waitReaped(steward.pid, workersOf(steward, 5).map((w) => w.pid));
      await expectServedBy(http.url, workersOf(steward, 6).map((w) => w.pid), 6, () => steward.log());
    }));
  });
}
