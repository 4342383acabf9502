/**
 * `max-rss` (REFERENCE §5.9): a Node worker that grows past the limit (`?grow=MB` of
 * http-worker.cjs) is replaced by a worker with the same id and generation, which is ready
 * before the big one gets its stop signal; under wrk with a new connection per request
 * (`-H "Connection: close"`, loopback, bounded duration) no request fails.
 * `old-rss-budget`: an old worker that drains a held request while over the budget is
 * killed long before `hard-stop-after`.
 * Binary and Deno by default (STEWARD_E2E_MODES overrides).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { describe, test } from "node:test";
import { e2e, expectReloaded, fixture, isAlive, MODES, request, serving, sleep, waitUntil, which } from "./_harness.ts";

const modes = process.env.STEWARD_E2E_MODES ? MODES : MODES.filter((m) => m !== "bun");

function wrk(url: string, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(which("wrk"), ["-t1", "-c4", `-d${seconds}s`, "--timeout", "5s", "-H", "Connection: close", url], { timeout: (seconds + 20) * 1000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`wrk: ${error.message}\n${stderr}`)) : resolve(stdout));
  });
}

for (const mode of modes) {
  describe(`max-rss [${mode}]`, () => {
    test("a worker past max-rss is replaced (same id, ready first), 0 failed requests under wrk", e2e(mode, async (bed) => {
      const steward = bed.startWith(
        serving(fixture("http-worker.cjs"), { workers: 2, "max-rss": "200MiB", "max-rss-for": "1s", "ready-timeout": "10s" }, { DRAIN: "1" }),
      );
      await steward.ready();
      const http = await steward.listener("http");
      const load = wrk(`${http.url}/`, 8);
      await sleep(1_000);
      const grown = await request(http.url, "/?grow=300", 10_000);
      assert.equal(grown.status, 200);
      const big = JSON.parse(grown.body) as { pid: number; env: Record<string, string> };
      const recycle = await steward.waitForLine(new RegExp(`Worker (\\d) \\(${big.pid}\\) above max-rss \\(([\\d.]+)MiB > 200\\.0MiB\\) for 1s: starting its replacement`), 10_000);
      assert.equal(recycle.match[1], big.env.STEWARD_WORKER_ID);
      assert.ok(Number(recycle.match[2]) > 300, `sampled ${recycle.match[2]} MiB`);
      const replaced = await steward.waitForLine(new RegExp(`Worker ${big.env.STEWARD_WORKER_ID} \\(${big.pid}\\) replaced by (\\d+) \\(max-rss\\)`), 15_000);
      const replacement = Number(replaced.match[1]);
      const started = steward.started().find((w) => w.pid === replacement);
      assert.ok(started, `the replacement ${replacement} was started by the master${steward.log()}`);
      assert.equal(String(started.id), big.env.STEWARD_WORKER_ID, "same id");
      assert.equal(started.generation, 0, "same generation");
      const ready = steward.lines.findIndex((l) => new RegExp(`Worker \\d \\(${replacement}\\) is ready`).test(l.text));
      const stopped = steward.lines.findIndex((l) => new RegExp(`Old worker \\d \\(${big.pid}\\) of generation 0 sent SIGTERM`).test(l.text));
      assert.ok(ready >= 0 && stopped > ready, `the replacement was ready before the old worker was stopped${steward.log()}`);
      await steward.waitForLine(new RegExp(`Old worker \\d \\(${big.pid}\\) exited with code 0`), 10_000);
      const out = await load;
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      assert.ok(requests > 100, `wrk made ${requests} requests:\n${out}`);
      assert.doesNotMatch(out, /Socket errors|Non-2xx/, `${out}${steward.log()}`);
      // one recycle, not a loop: the replacement is small
      assert.equal(steward.lines.filter((l) => /above max-rss/.test(l.text)).length, 1, steward.log());
    }));

    test("old-rss-budget: a draining worker over the budget is killed, not left until hard-stop-after", e2e(mode, async (bed) => {
      const steward = bed.startWith(
        serving(fixture("http-worker.cjs"), { workers: 2, "old-rss-budget": "150MiB", "hard-stop-after": "5m", "ready-timeout": "10s" }, { DRAIN: "1" }),
      );
      await steward.ready();
      const http = await steward.listener("http");
      // one worker grows by 200 MiB and holds this request until 20 s after its stop signal
      const held = request(http.url, "/?grow=200&hold=20000", 60_000).then(() => "answered", (e: Error) => e.message);
      const { match } = await steward.waitForLine(/http-worker (\d+) holding a request/, 10_000);
      const big = Number(match[1]);
      await expectReloaded(steward);
      const hit = await steward.waitForLine(new RegExp(`Old workers use [\\d.]+MiB, above old-rss-budget \\(150\\.0MiB\\): killing the oldest, worker \\d \\(${big}\\)`), 10_000);
      await waitUntil(() => !isAlive(big), 5_000, () => `worker ${big} still alive${steward.log()}`);
      assert.ok(Date.now() - hit.line.at < 5_000);
      assert.notEqual(await held, "answered", "the held request died with its worker");
      // the other old worker (small) drained normally and the new generation serves
      const reply = await request(http.url, "/", 5_000);
      assert.equal(JSON.parse(reply.body).env.STEWARD_GENERATION, "1");
      assert.equal(steward.lines.filter((l) => /above old-rss-budget/.test(l.text)).length, 1, steward.log());
    }));
  });
}
