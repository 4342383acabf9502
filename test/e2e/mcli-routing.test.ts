/**
 * Routing master-CLI commands to workers (REFERENCE §7.4): `@N`, `@!PID`, `@master`, default
 * targets, the level prefix a worker sees, workers without a CLI, unknown targets; and the
 * worker-side helper src/worker.ts running under Bun and under Deno as the worker.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { MODES, ROOT } from "./_modes.ts";
import { waitUntil } from "./_process.ts";
import { e2e } from "./_steward.ts";
import { parseInfo, RawSession, replies, socat, startCliMaster } from "./_mcli.ts";

const NO_TARGET = (prefix: string) => `Can't find the target PID matching the prefix '${prefix}'`;

for (const mode of MODES) {
  describe(`master CLI routing [${mode}]`, () => {
    test("@N and @!PID reach the worker; it sees the session's level (admin: no prefix)", e2e(mode, async (bed) => {
      const { steward, admin, operator, user } = await startCliMaster(bed, { workers: 2 });
      const [w1, w2] = await steward.waitForWorkers(2);
      const fromAdmin = replies((await socat(admin, `@1 show info; @!${w2!.pid} show info; @master show cli level; @0 show version\n`)).stdout);
      assert.deepEqual(parseInfo(fromAdmin[0]!), { pid: w1!.pid, worker: 1, generation: 0, level: "admin" });
      assert.deepEqual(parseInfo(fromAdmin[1]!), { pid: w2!.pid, worker: 2, generation: 0, level: "admin" });
      assert.equal(fromAdmin[2], "admin");
      assert.match(fromAdmin[3]!, /^\d+\.\d+\.\d+/);
      const fromOperator = replies((await socat(operator, "@2 show info\n")).stdout);
      assert.deepEqual(parseInfo(fromOperator[0]!), { pid: w2!.pid, worker: 2, generation: 0, level: "operator" });
      const fromUser = replies((await socat(user, "@1 show info\n")).stdout);
      assert.equal(parseInfo(fromUser[0]!).level, "user");
      // an admin session lowered to user forwards as user too
      const lowered = replies((await socat(admin, "user; @1 show info\n")).stdout);
      assert.equal(parseInfo(lowered[1]!).level, "user");
    }));

    test("words keep their escapes on the way to the worker", e2e(mode, async (bed) => {
      const { admin } = await startCliMaster(bed, { workers: 1 });
      const r = replies((await socat(admin, "@1 echo a\\;b c\\ d e\\\\f\n")).stdout);
      assert.equal(r[0], "a\\;b c\\ d e\\\\f");
    }));

    test("a prefix alone sets the default target (prompt shows its PID); '@' resets it", e2e(mode, async (bed) => {
      const { steward, admin } = await startCliMaster(bed, { workers: 2 });
      const [w1, w2] = await steward.waitForWorkers(2);
      const s = new RawSession(admin);
      await s.connected;
      s.write("prompt\n");
      await s.until((t) => t.endsWith("master> "));
      s.write("@1\n");
      await s.until((t) => t.endsWith(`\n${w1!.pid}> `));
      s.write("show info\n");
      const afterInfo = await s.until((t) => t.endsWith(`\n\n${w1!.pid}> `) && t.includes(`pid: ${w1!.pid}`));
      assert.match(afterInfo, new RegExp(`${w1!.pid}> pid: ${w1!.pid}\\nworker: 1\\n`));
      s.write(`@!${w2!.pid}\nshow info\n`);
      await s.until((t) => t.includes(`pid: ${w2!.pid}`) && t.endsWith(`\n\n${w2!.pid}> `));
      s.write("@master show cli level\n");
      await s.until((t) => t.endsWith(`admin\n\n${w2!.pid}> `), 10_000, "@master while a default target is set");
      s.write("@\nshow cli level\n");
      await s.until((t) => t.endsWith("admin\n\nmaster> "));
      s.write("quit\n");
      await s.untilClosed();
      // without a prompt: the same, in one line
      const r = replies((await socat(admin, "@2; show info; quit\n")).stdout);
      assert.equal(r[0], "");
      assert.equal(parseInfo(r[1]!).pid, w2!.pid);
      assert.equal(r.length, 2, "quit is the master's even with a default target");
    }));

    test("unknown targets: @N beyond the workers, @!PID of no child, a word", e2e(mode, async (bed) => {
      const { steward, admin } = await startCliMaster(bed, { workers: 1 });
      const r = replies((await socat(admin, `@5 show info; @!1 show info; @!${steward.pid} show info; @nobody; @7; show cli level\n`)).stdout);
      assert.deepEqual(r, [NO_TARGET("5"), NO_TARGET("!1"), NO_TARGET(`!${steward.pid}`), NO_TARGET("nobody"), NO_TARGET("7"), "admin"]);
    }));

    test("a worker without a CLI: Can't connect to the target CLI!", e2e(mode, async (bed) => {
      const { admin } = await startCliMaster(bed, { workers: 1, env: { NO_CLI: "1" } });
      const r = replies((await socat(admin, "@1 show info; show cli level\n")).stdout);
      assert.deepEqual(r, ["Can't connect to the target CLI!", "admin"]);
    }));

    for (const runtime of ["bun", "deno"] as const) {
      test(`src/worker.ts under ${runtime} as the worker: routed commands and levels`, e2e(mode, async (bed) => {
        const script = join(ROOT, "test", "fixtures", "cli-worker.ts");
        const bin = join(ROOT, "node_modules", ".bin", runtime);
        const command = runtime === "bun" ? [bin, script] : [bin, "run", "-A", script];
        const { steward, admin, user } = await startCliMaster(bed, { workers: 2, listen: false, command, global: { ready: "spawn" } });
        const [w1] = await steward.waitForWorkers(2);
        // ready at spawn: wait until the worker listens on its socket
        const info = await waitUntil(async () => {
          const r = replies((await socat(admin, "@1 show info\n")).stdout);
          return r[0]!.startsWith("pid:") ? r[0] : undefined;
        }, 30_000, `worker 1 (${runtime}) answering${steward.log()}`);
        assert.deepEqual(parseInfo(info), { pid: w1!.pid, worker: 1, generation: 0, level: "admin" });
        const fromUser = replies((await socat(user, "@1 show info; @1 echo x\\ y\n")).stdout);
        assert.equal(parseInfo(fromUser[0]!).level, "user");
        assert.equal(fromUser[1], "x\\ y");
      }));
    }
  });
}
