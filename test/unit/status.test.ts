import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { judge, statusLine } from "../../src/mcli/status.ts";

function reply(master: Record<string, unknown>, workers: Record<string, unknown>[]): string {
  const m = { pid: 10, version: "1.0.0", status: "running", phase: "running", reloads: 2, failedReloads: 0, uptime: 5, ...master };
  return `${JSON.stringify({ master: m, workers, oldWorkers: [], programs: [] })}\n\n`;
}
const w = (generation: number, role: string, ready: boolean, status = ready ? "ready" : "starting") => ({ generation, role, ready, status });

describe("steward status: the verdict on show proc json", () => {
  test("starting: not ready, the loading workers counted", () => {
    const r = judge(reply({ status: "starting", phase: "starting", reloads: 0 }, [w(0, "loading", true), w(0, "loading", false)]), false);
    assert.equal(r.exit, 1);
    assert.equal(statusLine(r), "not ready: master 10 (v1.0.0) starting, generation 0, 1/2 workers ready");
  });

  test("running; reloading keeps serving; loading workers of a reload are not counted", () => {
    assert.equal(judge(reply({}, [w(2, "current", true), w(2, "current", false)]), true).exit, 0);
    const r = judge(reply({ phase: "reloading", status: "reloading" }, [w(2, "current", true), w(3, "loading", false)]), true);
    assert.deepEqual([r.exit, r.generation, r.workers], [0, 2, { ready: 1, total: 1 }]);
  });

  test("no ready current worker, or stopping: not ready", () => {
    assert.equal(judge(reply({}, [w(2, "current", false)]), false).exit, 1);
    assert.equal(judge(reply({}, []), false).exit, 1);
    assert.equal(judge(reply({ phase: "stopping", status: "stopping" }, [w(2, "current", true)]), false).exit, 1);
  });

  test("a failed last reload: 0, or 3 with --strict; a worker's own STATUS= does not hide its readiness", () => {
    const text = reply({ status: "Reload failed: bad file", failedReloads: 1 }, [w(2, "current", true, "serving 4 tenants")]);
    const lax = judge(text, false);
    assert.equal(lax.exit, 0);
    assert.equal(statusLine(lax), "ready: master 10 (v1.0.0) running, generation 2, 1/1 workers ready, last reload failed: bad file");
    const strict = judge(text, true);
    assert.deepEqual([strict.exit, strict.status, strict.lastReloadFailure], [3, "reload failed", "bad file"]);
  });

  test("a master without phase and ready fields (an older version) is judged from status", () => {
    const old = JSON.stringify({ master: { pid: 1, version: "0.1.0", status: "Reload failed: x", reloads: 1, failedReloads: 1, uptime: 1 }, workers: [{ generation: 1, role: "current", status: "ready" }] });
    assert.deepEqual([judge(old, false).exit, judge(old, true).exit], [0, 3]);
  });

  test("refused or unreadable replies: not ready, saying why", () => {
    assert.match(statusLine(judge("Permission denied\n\n", false)), /^not ready: the master CLI refused 'show proc'/);
    assert.match(statusLine(judge("Unknown command: 'show'\n", false)), /^not ready: unexpected reply to 'show proc json'/);
  });
});
