/**
 * `rollout = "batch:1"` (REFERENCE §5.3.1) with 4 Node workers under a steady client loop
 * (a new connection per request): the master's live worker children, sampled every 20 ms
 * from /proc, never exceed 5; no request fails; a build whose 2nd batch exits before it is
 * ready fails the reload and leaves 4 workers of the old generation serving.
 * Binary and Deno by default (STEWARD_E2E_MODES overrides): Bun runs the same code.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { describe, test } from "node:test";
import {
  e2e, expectReloaded, expectReloadFailed, expectServedBy, fixture, MODES, request, serving, sleep, waitUntil,
  type Steward,
} from "./_harness.ts";

const modes = process.env.STEWARD_E2E_MODES ? MODES : MODES.filter((m) => m !== "bun");

/** Live (not zombie) children of `master` running the fixture `name`, from /proc/PID/task/TID/children. */
function workerChildren(master: number, name: string): { pid: number; generation?: string }[] {
  const out: { pid: number; generation?: string }[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${master}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    let children = "";
    try {
      children = readFileSync(`/proc/${master}/task/${tid}/children`, "utf8");
    } catch {
      continue;
    }
    for (const word of children.split(" ")) {
      const pid = Number(word);
      if (!word.trim() || !Number.isInteger(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") continue;
        if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(name)) continue;
        const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((e) => e.startsWith("STEWARD_GENERATION="));
        out.push({ pid, ...(env ? { generation: env.slice("STEWARD_GENERATION=".length) } : {}) });
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/** Samples the live worker count every 20 ms until stopped; returns the peak. */
function sampleWorkers(master: number): { stop: () => number; peak: () => number } {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, workerChildren(master, "http-worker.cjs").length);
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
    peak: () => peak,
  };
}

/** Sequential requests, one connection each, until stopped (bounded in count and time). */
function clientLoop(url: string): { stop: () => Promise<{ answered: number; failures: string[] }> } {
  const failures: string[] = [];
  let answered = 0;
  let stop = false;
  const started = Date.now();
  const done = (async () => {
    const deadline = Date.now() + 60_000;
    for (let n = 0; !stop && Date.now() < deadline && n < 50_000; n++) {
      try {
        const reply = await request(url, "/", 5_000);
        if (reply.status !== 200) throw new Error(`status ${reply.status}`);
        answered++;
      } catch (error) {
        failures.push(`request ${n} at +${Date.now() - started}ms: ${(error as Error).message}`);
      }
    }
  })();
  return {
    stop: async () => {
      stop = true;
      await done;
      return { answered, failures };
    },
  };
}

const CONFIG = (env: Record<string, string> = {}) =>
  serving(fixture("http-worker.cjs"), { workers: 4, rollout: "batch:1", "ready-timeout": "10s" }, {
    DRAIN: "1",
    ...env,
  });

async function fourServing(steward: Steward, generation: string): Promise<void> {
  await waitUntil(() => {
    const w = workerChildren(steward.pid, "http-worker.cjs");
    return w.length === 4 && w.every((x) => x.generation === generation);
  }, 15_000, () => `4 workers of generation ${generation}: ${JSON.stringify(workerChildren(steward.pid, "http-worker.cjs"))}${steward.log()}`);
}

for (const mode of modes) {
  describe(`batch rollout [${mode}]`, () => {
    test("batch:1 with 4 workers: never more than 5 alive, 0 failed requests, one batch-step per batch", e2e(mode, async (bed) => {
      const steward = bed.startWith(CONFIG());
      await steward.ready();
      const http = await steward.listener("http");
      await fourServing(steward, "0");
      const sampler = sampleWorkers(steward.pid);
      const client = clientLoop(http.url);
      let result: { answered: number; failures: string[] };
      let peak: number;
      try {
        await sleep(200);
        const outcome = await expectReloaded(steward, "SIGUSR2", 30_000);
        const steps = steward.lines.slice(outcome.from).filter((l) => /Batch \d+ of generation 1 ready/.test(l.text));
        assert.equal(steps.length, 4, steward.log());
        await fourServing(steward, "1");
        await sleep(200);
      } finally {
        peak = sampler.stop();
        result = await client.stop();
      }
      assert.ok(peak <= 5, `${peak} workers alive at once${steward.log()}`);
      assert.ok(peak === 5, `the sampler saw at most ${peak} workers: it did not see a batch`);
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.answered + result.failures.length} requests failed${steward.log()}`);
      assert.ok(result.answered >= 20, `the client loop made only ${result.answered} requests`);
    }));

    test("a build whose 2nd batch exits before it is ready: reload failed, 4 old workers serve again", e2e(mode, async (bed) => {
      const steward = bed.startWith(CONFIG());
      await steward.ready();
      const http = await steward.listener("http");
      await fourServing(steward, "0");
      const sampler = sampleWorkers(steward.pid);
      const client = clientLoop(http.url);
      let result: { answered: number; failures: string[] };
      let peak: number;
      try {
        bed.write("steward.toml", CONFIG({ EXIT_IF_WORKER: "2" }));
        await expectReloadFailed(steward, /worker 2 \(\d+\) exited with code 3 before it was ready/, 30_000);
        await steward.waitForLine(/Batch rollout of generation 1 failed: starting 1 old worker\(s\) again: 1/, 10_000);
        await fourServing(steward, "0");
        await sleep(300);
      } finally {
        peak = sampler.stop();
        result = await client.stop();
      }
      assert.ok(peak <= 5, `${peak} workers alive at once${steward.log()}`);
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.answered + result.failures.length} requests failed${steward.log()}`);
      await expectServedBy(http.url, workerChildren(steward.pid, "http-worker.cjs").map((w) => w.pid), 0, () => steward.log());
      // and the next good reload works
      bed.write("steward.toml", CONFIG());
      await expectReloaded(steward, "SIGUSR2", 30_000);
      await fourServing(steward, "1");
    }));
  });
}
