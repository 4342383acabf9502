/**
 * `show events [since N]` on the master CLI (REFERENCE §7.6): a reload's events in order on
 * one connection that stays open across the master's re-exec, numbered with no gap and no
 * duplicate; `since N` replays exactly the events after N; a line from the client ends the
 * stream; `steward cli` and socat stream until they are interrupted; bad arguments get one
 * line and the master keeps serving.
 *
 * Modes: binary and deno unless STEWARD_E2E_MODES says otherwise (bun runs the same code
 * as the binary).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Buffer } from "node:buffer";
import process from "node:process";
import { MODES } from "./_modes.ts";
import { e2e } from "./_steward.ts";
import { expectReloaded, expectReloadFailed, workersOf } from "./_reload.ts";
import { isAlive, waitUntil } from "./_process.ts";
import { cliConfig, RawSession, replies, SOCAT, socat, socatAddress, startCliMaster } from "./_mcli.ts";

const SUITE_MODES = process.env.STEWARD_E2E_MODES ? MODES : MODES.filter((m) => m !== "bun");

interface Event {
  seq: number;
  time: string;
  event: string;
  generation?: number;
  worker?: number;
  workerPid?: number;
  role?: string;
  [key: string]: unknown;
}

/** The complete JSON lines of a stream so far (a line not ended yet is left out). */
function events(text: string): Event[] {
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Event;
      } catch {
        throw new Error(`not a JSON line: ${JSON.stringify(l)} in ${JSON.stringify(text.slice(-500))}`);
      }
    });
}

/**
 * Connected sockets the master accepted on the unix socket `path` (/proc/net/unix: an
 * accepted socket carries the listener's path; St 03 is connected, the listener is 01).
 */
function sessionsOn(path: string): number {
  return readFileSync("/proc/net/unix", "utf8")
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[7] === path && f[5] === "03").length;
}

/** Numbers strictly increasing by one: no gap, no duplicate. */
function assertConsecutive(list: Event[], what: string): void {
  for (let i = 1; i < list.length; i++) {
    assert.equal(list[i]!.seq, list[i - 1]!.seq + 1, `${what}: seq ${list[i - 1]!.seq} then ${list[i]!.seq}\n${list.map((e) => JSON.stringify(e)).join("\n")}`);
  }
}

/** The index of the first event matching, asserting there is one. */
function indexOf(list: Event[], what: string, match: (e: Event) => boolean): number {
  const i = list.findIndex(match);
  assert.ok(i >= 0, `${what} in\n${list.map((e) => JSON.stringify(e)).join("\n")}`);
  return i;
}

/**
 * The events of one reload in the stream, in order: reload-started (generation g), every
 * new worker started, every one ready, loaded, every old worker exited.
 */
function assertReloadOrder(list: Event[], g: number, newPids: number[], oldPids: number[]): void {
  const started = indexOf(list, `reload-started ${g}`, (e) => e.event === "reload-started" && e.generation === g);
  const loaded = indexOf(list, `loaded ${g}`, (e) => e.event === "loaded" && e.generation === g);
  for (const pid of newPids) {
    const s = indexOf(list, `worker-started ${pid}`, (e) => e.event === "worker-started" && e.workerPid === pid && e.generation === g);
    const r = indexOf(list, `worker-ready ${pid}`, (e) => e.event === "worker-ready" && e.workerPid === pid && e.generation === g);
    assert.ok(started < s && s < r && r < loaded, `reload-started < worker-started < worker-ready < loaded for ${pid}: ${started} ${s} ${r} ${loaded}`);
  }
  for (const pid of oldPids) {
    const x = indexOf(list, `worker-exited ${pid}`, (e) => e.event === "worker-exited" && e.workerPid === pid && e.role === "old");
    assert.ok(loaded < x, `loaded before old worker ${pid} exited`);
  }
}

for (const mode of SUITE_MODES) {
  describe(`show events [${mode}]`, () => {
    test("a reload's events in order on one connection across two re-execs; since N replays exactly from N+1", e2e(mode, async (bed) => {
      const { steward, operator, config } = await startCliMaster(bed, { workers: 2 });
      const gen0 = (await steward.waitForWorkers(2)).map((w) => w.pid);
      const stream = new RawSession(operator);
      await stream.connected;
      // since 0: the start's events (2 started, 2 ready, loaded), then it follows live
      stream.write("show events since 0\n");
      await stream.until((t) => events(t).some((e) => e.event === "loaded"), 10_000, "the start's events");
      const start = events(stream.text);
      assert.deepEqual(start.map((e) => e.seq), [1, 2, 3, 4, 5]);
      assert.deepEqual(start.map((e) => e.event).sort(), ["loaded", "worker-ready", "worker-ready", "worker-started", "worker-started"]);

      // a configuration change, then SIGUSR2: the master re-executes (same PID) and swaps workers
      writeFileSync(config, cliConfig({ workers: 2, env: { CHANGED: "1" } }));
      const first = await expectReloaded(steward);
      assert.equal(first.reload, 1, `the master re-executed${steward.log()}`);
      const gen1 = workersOf(steward, 1).map((w) => w.pid);
      assert.equal(gen1.length, 2);
      const oldExited = (t: string, pids: number[]) => pids.every((pid) => events(t).some((e) => e.event === "worker-exited" && e.workerPid === pid));
      await stream.until((t) => oldExited(t, gen0), 20_000, "the old workers' worker-exited events");
      let list = events(stream.text);
      assert.equal(list[5]!.event, "reload-started", "the reload's events follow the start's");
      assertConsecutive(list, "first reload");
      assertReloadOrder(list, 1, gen1, gen0);
      for (const e of list) assert.ok(!Number.isNaN(Date.parse(e.time)), `an ISO time: ${JSON.stringify(e)}`);

      // a second re-exec: the stream, adopted once, crosses again
      writeFileSync(config, cliConfig({ workers: 2, env: { CHANGED: "2" } }));
      const second = await expectReloaded(steward);
      assert.equal(second.reload, 2);
      const gen2 = workersOf(steward, 2).map((w) => w.pid);
      await stream.until((t) => oldExited(t, gen1), 20_000, "the second reload's worker-exited events");
      list = events(stream.text);
      assertConsecutive(list, "two reloads");
      assertReloadOrder(list, 2, gen2, gen1);
      assert.ok(!stream.closed && stream.error === undefined, "the same connection throughout");
      assert.equal(steward.exit, undefined);

      // since N: exactly the events after N that this stream saw, then it follows on; a line ends it
      const n = list[7]!.seq;
      const replay = new RawSession(operator);
      await replay.connected;
      replay.write(`show events since ${n}\n`);
      const expected = list.filter((e) => e.seq > n);
      await replay.until((t) => events(t).length >= expected.length, 10_000, "the replay");
      assert.deepEqual(events(replay.text).slice(0, expected.length), expected);
      const mark = replay.text.length;
      replay.end("show cli level\n");
      const rest = (await replay.untilClosed()).slice(mark);
      assert.equal(rest, "\noperator\n\n", "the line ended the stream (its empty line), then ran");

      // the first client goes away with nothing more to send it: the master closes its end
      // at once (POLLHUP), not at the next event, and keeps serving
      await waitUntil(() => sessionsOn(operator) === 1, 10_000, "the stream as the one session on the operator socket");
      stream.destroy();
      await waitUntil(() => sessionsOn(operator) === 0, 10_000, "the master to close the stream's session");
      const after = replies((await socat(operator, "show version\n")).stdout);
      assert.equal(after.length, 1);
      assert.equal(steward.exit, undefined);
    }));

    test("bad arguments get one line and the master keeps serving; user level is refused; a failed reload is an event", e2e(mode, async (bed) => {
      const { steward, operator, user, config } = await startCliMaster(bed, { workers: 1 });
      // a command after `show events` on the same line ends it after its replay: without since, nothing
      const dump = replies((await socat(operator, "show events; show events since 1; show cli level\n")).stdout);
      assert.equal(dump.length, 3, JSON.stringify(dump));
      assert.equal(dump[0], "", "without since, only new events: none before the next command");
      assert.deepEqual(dump[1]!.split("\n").map((l) => JSON.parse(l).event), ["worker-ready", "loaded"]);
      assert.equal(dump[2], "operator");
      const r = replies((await socat(operator, "show events since x\nshow events since 99\nshow events later\nshow version\n")).stdout);
      assert.deepEqual(r.slice(0, 3), [
        "show events since: 'x' is not an event number (a whole number, 0 or more)",
        // three events so far: worker-started, worker-ready, loaded
        "show events since 99: no such event yet, the latest is 3 (numbers start again at 1 when the master starts afresh)",
        "show events: unexpected 'later': the only option is 'since N'",
      ]);
      assert.equal(r.length, 4);
      assert.deepEqual(replies((await socat(user, "show events\n")).stdout), ["Permission denied"]);
      const cli = await bed.run(["cli", "-S", operator, "show", "events", "since", "x"]);
      assert.equal(cli.stdout.trim(), "show events since: 'x' is not an event number (a whole number, 0 or more)");

      // a reload refused by its preflight: reload-started, then reload-failed with the reason
      const stream = new RawSession(operator);
      await stream.connected;
      stream.write("show events since 3\n");
      writeFileSync(config, `[global]\nworkers = "many"\n`);
      await expectReloadFailed(steward, /preflight/);
      await stream.until((t) => events(t).some((e) => e.event === "reload-failed"), 10_000, "reload-failed");
      const failed = events(stream.text);
      assert.deepEqual(failed.map((e) => [e.seq, e.event, e.generation]), [[4, "reload-started", 1], [5, "reload-failed", 1]]);
      assert.match(String(failed[1]!.reason), /^preflight of .* exited with code 1: /);
      stream.end("\n");
      assert.equal((await stream.untilClosed()).slice(stream.text.lastIndexOf("}") + 1), "\n\n", "an empty line ends the stream");

      // at a prompt, a half-close (a person's ^D or ^C) ends the stream: its empty line, the prompt, the close
      const person = new RawSession(operator);
      await person.connected;
      person.write("prompt\nshow events\n");
      await person.until((t) => t === "\nmaster[ReloadFailed]> ", 10_000, "the prompt");
      person.end();
      assert.equal(await person.untilClosed(), "\nmaster[ReloadFailed]> \nmaster[ReloadFailed]> ");
      assert.equal(steward.exit, undefined);
    }));

    test("a probation's events: probation-started, then rollback and reload-failed from the CLI, the new worker exited", e2e(mode, async (bed) => {
      const { steward, operator } = await startCliMaster(bed, { workers: 1, global: { probation: "30s" } });
      const [old] = await steward.waitForWorkers(1);
      const stream = new RawSession(operator);
      await stream.connected;
      stream.write("show events since 3\n");
      steward.signal("SIGUSR2");
      await stream.until((t) => events(t).some((e) => e.event === "probation-started"), 20_000, "probation-started");
      const answer = replies((await socat(operator, "rollback\n")).stdout);
      assert.equal(answer.length, 1, JSON.stringify(answer));
      const gone = (t: string) => events(t).some((e) => e.event === "worker-exited" && e.generation === 1);
      await stream.until(gone, 20_000, "the rolled-back worker's exit");
      const list = events(stream.text);
      assertConsecutive(list, "probation");
      assert.equal(list[0]!.seq, 4);
      const at = (name: string) => indexOf(list, name, (e) => e.event === name && e.generation === 1);
      const order = ["reload-started", "worker-started", "worker-ready", "probation-started", "rollback"].map(at);
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `in order: ${order}`);
      assert.ok(at("reload-failed") > at("rollback") && at("worker-exited") > at("rollback"));
      assert.ok(!list.some((e) => e.event === "worker-exited" && e.workerPid === old!.pid), "the previous generation serves on");
      assert.ok(!stream.closed);
      stream.destroy();
    }));

    test("steward cli and socat stream what the master logs until interrupted", e2e(mode, async (bed) => {
      const { steward, operator } = await startCliMaster(bed, { workers: 1 });
      // one-shot steward cli: it half-closes after the command, the stream goes on
      const cli = bed.start(["cli", "-S", operator, "show", "events", "since", "0"]);
      const stdout = () => cli.stdout.map((l) => `${l.text}\n`).join("");
      await waitUntil(() => events(stdout()).some((e) => e.event === "loaded"), 15_000, "steward cli's replay");
      assert.deepEqual(events(stdout()).map((e) => [e.seq, e.event]), [[1, "worker-started"], [2, "worker-ready"], [3, "loaded"]]);
      // socat with its input ended: -t keeps it waiting for more (its default is 0.5 s)
      const sc = spawn(SOCAT, ["-t", "3600", "-", socatAddress(operator)], { stdio: ["pipe", "pipe", "ignore"] });
      const chunks: Buffer[] = [];
      sc.stdout.on("data", (d: Buffer) => chunks.push(d));
      // since 3 (the start's last event): the reload's events, whenever socat's line arrives
      sc.stdin.end("show events since 3\n");
      await expectReloaded(steward);
      const seen = (text: string) => events(text).filter((e) => e.event === "worker-exited" && e.role === "old").length >= 1;
      await waitUntil(() => seen(stdout()) && seen(Buffer.concat(chunks).toString()), 20_000, "both clients saw the old worker exit");
      assertConsecutive(events(stdout()), "steward cli");
      const viaSocat = events(Buffer.concat(chunks).toString());
      assertConsecutive(viaSocat, "socat");
      assert.equal(viaSocat[0]!.event, "reload-started");
      // ^C on both: the master serves on
      cli.signal("SIGINT");
      sc.kill("SIGINT");
      await cli.waitForExit(10_000);
      await waitUntil(() => !isAlive(sc.pid!), 10_000, "socat's exit");
      assert.equal(replies((await socat(operator, "show version\n")).stdout).length, 1);
      assert.equal(steward.exit, undefined);
    }));
  });
}
