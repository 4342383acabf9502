/**
 * `show proc`, `show proc json` and `show metrics` show a current worker that holds none of its listeners
 * (issue 9, finding 9; src/workers/holding.ts): it keeps running and stays `ready`, but
 * connections would wait in the backlog for it. Read from /proc when the command runs.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, test } from "node:test";
import { ask } from "./_http.ts";
import { fixture, MODES } from "./_modes.ts";
import { isAlive } from "./_process.ts";
import { e2e } from "./_steward.ts";
import { parseShowProc, replies, socat, startCliMaster } from "./_mcli.ts";

interface JsonWorker {
  pid: number;
  status: string;
  listening?: boolean;
}

async function jsonWorkers(admin: string): Promise<JsonWorker[]> {
  const [reply] = replies((await socat(admin, "show proc json\n")).stdout);
  return (JSON.parse(reply!) as { workers: JsonWorker[] }).workers;
}

for (const mode of MODES) {
  describe(`show proc: workers holding their listeners [${mode}]`, () => {
    test("a worker that closed its listener is shown not listening; a healthy one listening", e2e(mode, async (bed) => {
      const { steward, admin } = await startCliMaster(bed, { workers: 2, command: fixture("close-listener-on-usr2.cjs") });
      const [first, second] = await steward.waitForWorkers(2);
      const http = await steward.listener("http");
      const before = await jsonWorkers(admin);
      assert.deepEqual(before.map((w) => [w.pid, w.listening]), [[first!.pid, true], [second!.pid, true]]);

      process.kill(first!.pid, "SIGUSR2");
      await steward.waitForLine(new RegExp(`close-listener-on-usr2 ${first!.pid} closed its listeners`), 10_000);
      const after = await jsonWorkers(admin);
      assert.deepEqual(after.map((w) => [w.pid, w.listening]), [[first!.pid, false], [second!.pid, true]]);
      // alive and still ready by every other measure: this field is what tells
      assert.ok(isAlive(first!.pid));
      assert.equal(after[0]!.status, "ready");

      const table = parseShowProc((await socat(admin, "show proc\n")).stdout);
      assert.deepEqual(table.workers.map((w) => [Number(w[0]), w[5]]), [[first!.pid, "[not listening]"], [second!.pid, undefined]]);
      // the metrics say it too: steward_worker_listening 0 for it, 1 for the other
      const [metrics] = replies((await socat(admin, "show metrics\n")).stdout);
      const listening = [...metrics!.matchAll(/^steward_worker_listening\{id="\d+",generation="\d+",pid="(\d+)"\} (\d)$/gm)]
        .map((m) => [Number(m[1]), Number(m[2])]);
      assert.deepEqual(listening.sort((a, b) => a[0]! - b[0]!), [[first!.pid, 0], [second!.pid, 1]].sort((a, b) => a[0]! - b[0]!));
      // the port is served by the other worker alone
      for (let i = 0; i < 6; i++) assert.equal((await ask(http.url)).pid, second!.pid);
    }));
  });
}
