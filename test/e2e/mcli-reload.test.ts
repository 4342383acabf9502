/**
 * `reload` through the master CLI (REFERENCE §5.3, §5.4, §7.3): the synchronous reply, the
 * requesting connection surviving the re-exec, `show proc` with old workers and their
 * reload counts, a reload during another, a failed reload and the prompt it leaves, and
 * `steward reload` exit codes.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { MODES } from "./_modes.ts";
import { e2e } from "./_steward.ts";
import { fdTable } from "./_reload.ts";
import { waitUntil } from "./_process.ts";
import { cliConfig, exchange, parseShowProc, RawSession, replies, socat, startCliMaster } from "./_mcli.ts";

const SUCCESS = /^Success=1\n--\n/;

/** The log lines of a reload reply: HAProxy-style, ending with the outcome. */
function assertLoadLog(reply: string, outcome: RegExp): void {
  const [, ...log] = reply.split("\n--\n");
  const lines = log.join("\n--\n").split("\n");
  assert.ok(lines.length >= 2, reply);
  for (const line of lines) assert.match(line, /^\[(NOTICE|WARNING|ALERT)\] +\(\d+\) : /, reply);
  assert.match(lines.at(-1)!, outcome, reply);
}

for (const mode of MODES) {
  describe(`master CLI reload [${mode}]`, () => {
    test("reload answers Success=1, --, the load's log; the same connection then answers show proc with old workers", e2e(mode, async (bed) => {
      // old workers linger 20 s after their stop signal, so they are listed
      const { steward, operator } = await startCliMaster(bed, { workers: 2, env: { LINGER_MS: "20000" } });
      const first = await steward.waitForWorkers(2);
      const r = replies((await socat(operator, "reload; show proc; show cli level\n")).stdout);
      assert.equal(r.length, 3, JSON.stringify(r));
      assert.match(r[0]!, SUCCESS);
      assertLoadLog(r[0]!, /Loading success\.$/);
      assert.match(r[0]!, /Worker 1 \(\d+\) started \(generation 1\)/);
      const table = parseShowProc(`${r[1]}\n\n`);
      assert.deepEqual([table.master[0], table.master[2]], [String(steward.pid), "1 [failed: 0]"]);
      assert.equal(table.workers.length, 2);
      for (const w of table.workers) assert.equal(w[2], "0");
      assert.deepEqual(table.oldWorkers.map((w) => [Number(w[0]), w[2]]), first.map((w) => [w.pid, "1"]));
      assert.equal(r[2], "operator", "the session kept its level across the re-exec");

      // a second reload: the first generation has survived 2 reloads, the second 1
      const second = table.workers.map((w) => Number(w[0]));
      const again = replies((await socat(operator, "reload; show proc json\n")).stdout);
      assert.match(again[0]!, SUCCESS);
      const json = JSON.parse(again[1]!);
      assert.equal(json.master.reloads, 2);
      const old = new Map(json.oldWorkers.map((w: { pid: number; reloads: number; generation: number; status: string }) => [w.pid, w]));
      for (const w of first) assert.deepEqual([(old.get(w.pid) as { reloads: number })?.reloads, (old.get(w.pid) as { generation: number }).generation], [2, 0]);
      for (const pid of second) assert.equal((old.get(pid) as { reloads: number })?.reloads, 1);
      for (const w of old.values()) assert.equal((w as { status: string }).status, "stopping");
      const text = replies((await socat(operator, "show proc\n")).stdout)[0]!;
      const rows = parseShowProc(`${text}\n\n`).oldWorkers.map((w) => [Number(w[0]), w[2]]);
      assert.deepEqual(new Set(rows.map(([pid, reloads]) => `${pid}:${reloads}`)), new Set([...first.map((w) => `${w.pid}:2`), ...second.map((p) => `${p}:1`)]));
    }));

    test("a reload during another answers Success=0, --, Another reload is still in progress.", e2e(mode, async (bed) => {
      const { steward, operator, admin } = await startCliMaster(bed, { workers: 1, global: { ready: "delay:2s" } });
      const first = new RawSession(operator);
      await first.connected;
      const from = steward.lines.length;
      first.write("reload\n");
      await steward.waitForLine(/Reloading \(reload from the master CLI\)/, 10_000, from);
      const started = Date.now();
      const second = await socat(admin, "reload\n");
      assert.equal(second.stdout, "Success=0\n--\nAnother reload is still in progress.\n\n");
      assert.ok(!first.text.startsWith("Success"), "the first reload was still running when the second was refused");
      const done = await first.until((t) => t.endsWith("\n\n"), 30_000, "the first reload's reply");
      assert.match(done, SUCCESS);
      assert.ok(Date.now() - started < 30_000);
      // the refused request did not queue another reload
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(steward.matching(/Reloading \(/).length, 1, steward.log());
      first.end();
    }));

    test("a failed reload answers Success=0 with the reason; the prompt becomes master[ReloadFailed]> until a good one", e2e(mode, async (bed) => {
      const { steward, admin, config } = await startCliMaster(bed, { workers: 1 });
      const [worker] = await steward.waitForWorkers(1);
      const s = new RawSession(admin);
      await s.connected;
      s.write("prompt\n");
      await s.until((t) => t.endsWith("master> "));
      writeFileSync(config, `[global]\nworkers = "many"\n`);
      let mark = s.text.length;
      s.write("reload\n");
      const failed = (await s.until((t) => t.endsWith("master[ReloadFailed]> "), 30_000, "the failed reload's reply")).slice(mark);
      assert.match(failed, /^Success=0\n--\n/);
      assert.match(failed, /workers/, "the reply explains the failure");
      assert.ok(failed.endsWith("\n\nmaster[ReloadFailed]> "), JSON.stringify(failed));
      mark = s.text.length;
      s.write("show proc\n");
      const proc = (await s.until((t) => t.length > mark && t.endsWith("master[ReloadFailed]> "))).slice(mark);
      const table = parseShowProc(proc.replace(/master\[ReloadFailed\]> $/, ""));
      assert.equal(table.master[2], "0 [failed: 1]");
      assert.deepEqual(table.workers.map((w) => Number(w[0])), [worker!.pid], "the current worker keeps serving");
      // steward reload: exit 1 and the reply on stdout
      const cliFailed = await bed.run(["reload", "-S", admin], { timeoutMs: 60_000 });
      assert.equal(cliFailed.code, 1, cliFailed.stderr);
      assert.match(cliFailed.stdout, /^Success=0\n--\n/);
      // a good configuration again: Success=1, exit 0, the prompt back to master>
      writeFileSync(config, cliConfig({ workers: 1 }));
      const ok = await bed.run(["reload", "-S", `${admin},level,admin`], { timeoutMs: 60_000 });
      assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
      assert.match(ok.stdout, SUCCESS);
      // Sessions other than the requester end with the image that re-executed (as in
      // HAProxy); one at a prompt is told so.
      assert.match(await s.untilClosed(), /\nThe master is re-executing for a reload: this session ends; reconnect\.\n$/);
      const again = await socat(admin, "prompt\nshow cli level\n");
      assert.equal(again.stdout, "\nmaster> admin\n\nmaster> ");
    }));

    test("a prompt session that asked for a reload goes on after the master's re-exec (during the reload, or once reloads are quiet)", e2e(mode, async (bed) => {
      const { steward, admin } = await startCliMaster(bed, { workers: 1 });
      const s = new RawSession(admin);
      await s.connected;
      s.write("prompt\n");
      await s.until((t) => t.endsWith("master> "));
      const from = steward.lines.length;
      let mark = s.text.length;
      s.write("reload\n");
      const reply = (await s.until((t) => t.length > mark && /Success=\d[\s\S]*master> $/.test(t.slice(mark)), 60_000)).slice(mark);
      assert.match(reply, /Success=1\n--\n/, steward.log());
      await steward.waitForLine(/Master re-executed/, 10_000, from);
      mark = s.text.length;
      s.write("show cli level\n");
      const level = (await s.until((t) => t.length > mark && t.endsWith("master> "), 10_000)).slice(mark);
      assert.match(level, /^admin\n/, `${JSON.stringify(level)}${steward.log()}`);
      assert.equal(s.closed, false);
    }));

    test("a connection accepted just before the re-exec that has sent nothing yet is served by the new image", e2e(mode, async (bed) => {
      const { steward, admin, operator } = await startCliMaster(bed, { workers: 1 });
      const before = fdTable(steward.pid).size;
      const quiet = new RawSession(admin);
      await quiet.connected;
      // the old image has accepted it: one more descriptor in the master
      await waitUntil(() => fdTable(steward.pid).size === before + 1, 5_000, () => `the master to accept the connection${steward.log()}`);
      const reload = await exchange(operator, "reload\n", 60_000);
      assert.match(reload.text, /^Success=1\n/, `${reload.error ?? ""} ${reload.text}${steward.log()}`);
      assert.equal(quiet.closed, false, `the quiet session was closed at the re-exec: ${JSON.stringify(quiet.text)}`);
      quiet.end("show proc\n");
      const text = await quiet.untilClosed(15_000);
      const table = parseShowProc(text);
      assert.equal(Number(table.master[0]), steward.pid, text);
      assert.match(table.master[2]!, /^1\b/, `answered after reload 1, by the new image: ${text}`);
    }));

    test("steward reload: exit 0 on success, 1 without a master, 2 without -S; refused at user level", e2e(mode, async (bed) => {
      const { admin, user } = await startCliMaster(bed, { workers: 1 });
      const ok = await bed.run(["reload", "-S", admin], { timeoutMs: 60_000 });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Loading success\./);
      const refused = await bed.run(["reload", "-S", `${user},level,user`]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stdout.trim(), "Permission denied");
      const none = await bed.run(["reload", "-S", bed.path("none.sock")]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /cannot connect to the master CLI at \S*none\.sock/);
      const usage = await bed.run(["reload"]);
      assert.equal(usage.code, 2, usage.stderr);
    }));

    test("hard-reload: admin only, answered like reload", e2e(mode, async (bed) => {
      const { admin, operator } = await startCliMaster(bed, { workers: 1 });
      assert.deepEqual(replies((await socat(operator, "hard-reload\n")).stdout), ["Permission denied"]);
      const r = replies((await socat(admin, "hard-reload\n")).stdout);
      assert.match(r[0]!, SUCCESS);
      assertLoadLog(r[0]!, /Loading success\.$/);
    }));
  });
}
