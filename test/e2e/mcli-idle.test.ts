/**
 * Idle clients cannot lock the administrator out of the master CLI (issue 9, finding 8;
 * src/mcli/sessions.ts): with 300 idle connections on the admin socket, a `show proc`
 * through socat is answered, as it is during a reload and right after it. The longest
 * idle session makes room, told why; idle sessions are not carried across the re-exec.
 */
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MODES } from "./_modes.ts";
import { waitUntil } from "./_process.ts";
import { e2e } from "./_steward.ts";
import { connectRetrying, EVICTED, parseShowProc, RawSession, socat, startCliMaster, type ProcTable } from "./_mcli.ts";

const TOO_MANY = "Too many sessions (at most 64 per listener).\n\n";
const IDLE_AT_EXEC = "The master is re-executing for a reload: this idle session ends; reconnect.\n";
/** the idle time after which a session may give its place (EVICT_AFTER_IDLE_MS), with a margin */
const IDLE_THRESHOLD_MS = 1_500;

/**
 * Opens `count` connections at once and leaves them silent; resolves once the master has
 * settled them: 64 per listener held open (with those already open), the others closed
 * with a reason. Returns the time it settled.
 */
async function flood(address: string, count: number, all: RawSession[]): Promise<number> {
  const deadline = Date.now() + 30_000;
  all.push(...(await Promise.all(Array.from({ length: count }, () => connectRetrying(address, deadline)))));
  await waitUntil(() => all.filter((s) => !s.closed).length <= 64, 30_000, () => `64 sessions held, got ${all.filter((s) => !s.closed).length}`);
  const unexplained = all.filter((s) => s.closed && s.text !== TOO_MANY && !EVICTED.test(s.text) && s.text !== IDLE_AT_EXEC);
  assert.deepEqual(unexplained.map((s) => JSON.stringify(s.text)), [], "every closed connection was told why");
  return Date.now();
}

/** `show proc` through socat, as an administrator would, until answered (bounded); with the refusals seen before. */
async function adminShowProc(address: string): Promise<{ table: ProcTable; refusals: number }> {
  let refusals = 0;
  const table = await waitUntil(async () => {
    const { stdout } = await socat(address, "show proc\n", 5, 20_000);
    if (stdout.startsWith("#<PID>")) return parseShowProc(stdout);
    assert.equal(stdout, TOO_MANY);
    refusals++;
    return undefined;
  }, 15_000, "an administrator's show proc to be answered");
  return { table, refusals };
}

for (const mode of MODES) {
  describe(`master CLI with idle sessions [${mode}]`, () => {
    test("300 idle sessions: an admin's show proc is answered, before, during and right after a reload", e2e(mode, async (bed) => {
      // new workers take 4 s to be ready: a reload stays in progress after the re-exec
      const { steward, admin, config } = await startCliMaster(bed, { workers: 1, global: { ready: "delay:4s" } });
      const oldest = new RawSession(admin);
      await oldest.connected;
      const idle: RawSession[] = [oldest];
      await flood(admin, 299, idle);

      // the session idle the longest made room, and said why
      const before = await adminShowProc(admin);
      assert.equal(Number(before.table.master[0]), steward.pid);
      assert.match(await oldest.untilClosed(), EVICTED);

      // 300 more; then every held session is idle past the threshold when the reload begins
      const settled = await flood(admin, 300, idle);
      const held = idle.filter((s) => !s.closed);
      assert.equal(held.length, 64);
      await waitUntil(() => Date.now() - settled > IDLE_THRESHOLD_MS, 5_000, "the held sessions to be idle");

      // the file written again (same text): a compiled master checks it and re-executes first,
      // rather than loading the reload before its re-exec (REFERENCE §5.3 step 2)
      bed.write("steward.toml", readFileSync(config, "utf8"));
      const from = steward.lines.length;
      steward.signal("SIGUSR2");
      await steward.waitForLine(/Master re-executed/, 30_000, from);
      // idle sessions ended with the old image, told why; none was carried across
      for (const s of held) assert.equal(await s.untilClosed(), IDLE_AT_EXEC);
      const during = await adminShowProc(admin);
      assert.equal(during.refusals, 0, "the idle sessions were not carried across the re-exec");
      assert.equal(steward.matching(/Loading success\./).filter((f) => f.line.index >= from).length, 0, "answered while the reload was in progress");
      assert.equal(Number(during.table.master[0]), steward.pid);

      await steward.waitForLine(/Loading success\./, 30_000, from);
      const after = await adminShowProc(admin);
      assert.equal(after.refusals, 0);
      assert.match(after.table.master[2]!, /^1 \[failed: 0\]$/);
      assert.equal(after.table.workers.length, 1);
    }));
  });
}
