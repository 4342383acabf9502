/**
 * Probation (REFERENCE §5.8) under a steady client loop (a new connection per request): a
 * new build whose workers crash 2 s after they are ready is rolled back, losing no more
 * requests than were in flight on the crashing workers, while the previous generation
 * serves throughout; the next good reload works. `promote` and `rollback` on the master
 * CLI; a reload asked for during probation is refused; SIGTERM during probation exits 0
 * with nothing left. Compiled binary and Deno by default (Bun adds nothing here).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import {
  buildSteward,
  collectWorkers,
  e2e,
  expectServedBy,
  fixture,
  installCopy,
  MODES,
  processesOfMaster,
  reachPid,
  request,
  serving,
  sleep,
  type Steward,
  stewardCommand,
  waitReaped,
  waitUntil,
  workersOf,
} from "./_harness.ts";
import { cliRequest, NotifySink } from "./_extra.ts";
import { parseShowProc } from "./_mcli.ts";

const modes = process.env.STEWARD_E2E_MODES ? MODES : MODES.filter((m) => m !== "bun");

/** The configuration: crash-after-ready.cjs draining on its stop signal; with `crashReport`, worker 1 crashes 2 s after it serves. */
function config(probation: string, crashReport?: string): string {
  const env: Record<string, string> = { DRAIN: "1" };
  // worker 1 crashes; worker 2 stays healthy, so the rollback must stop it without losing its requests
  if (crashReport) Object.assign(env, { CRASH_AFTER_MS: "2000", CRASH_ONLY_ID: "1", CRASH_REPORT: crashReport });
  return serving(fixture("crash-after-ready.cjs"), { workers: 2, "ready-timeout": "10s", "on-failure": "restart", probation }, env);
}

/** Client loops: `clients` at once, each a new connection per request, each request held 20 ms by the worker. */
function clientLoop(url: string, clients = 3) {
  let stop = false;
  const failures: string[] = [];
  const generations = new Map<string, number>();
  let answered = 0;
  const loops = Array.from({ length: clients }, async () => {
    const deadline = Date.now() + 90_000;
    for (let n = 0; !stop && Date.now() < deadline && n < 50_000; n++) {
      try {
        const reply = await request(url, "/?wait=20", 5_000);
        if (reply.status !== 200) throw new Error(`status ${reply.status}`);
        const generation = JSON.parse(reply.body).env.STEWARD_GENERATION as string;
        generations.set(generation, (generations.get(generation) ?? 0) + 1);
        answered++;
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  });
  return {
    failures,
    generations,
    answered: () => answered,
    async end() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

async function cli(steward: Steward, sock: string, command: string): Promise<string> {
  const reply = await cliRequest(sock, command, 30_000);
  return reply.replace(/\n+$/, "");
}

for (const mode of modes) {
  describe(`probation [${mode}]`, () => {
    test("workers crashing 2 s after ready: rolled back; lost requests <= those in flight on them; the old generation serves; the next reload works", e2e(mode, async (bed) => {
      const sock = bed.path("master.sock");
      const crashFile = bed.path("crashes");
      const steward = bed.startWith(config("10s"), "steward.toml", { args: ["-S", sock] });
      await steward.ready();
      const http = await steward.listener("http");
      const gen0 = workersOf(steward, 0).map((w) => w.pid);
      const client = clientLoop(http.url);
      let rolledBack: Awaited<ReturnType<typeof bed.run>>;
      try {
        await sleep(300);
        bed.write("steward.toml", config("10s", crashFile));
        const from = steward.lines.length;
        rolledBack = await bed.run(["reload", "-S", sock], { timeoutMs: 40_000 });
        const rollback = await steward.waitForLine(/Rolled back generation 1: worker 1 \(\d+\) exited with code 1 during probation/, 1_000, from);
        await steward.waitForLine(/Reload failed: rolled back: worker/, 1_000, rollback.line.index);
        // the rolled-back workers are gone; the previous generation was never asked to stop and serves alone
        await waitReaped(steward.pid, workersOf(steward, 1).map((w) => w.pid));
        for (const pid of gen0) assert.equal(steward.matching(new RegExp(`\\(${pid}\\)`)).filter((f) => f.line.index >= from).length, 0, `worker ${pid} untouched${steward.log()}`);
        await expectServedBy(http.url, gen0, 0, () => steward.log());
        await sleep(300);
      } finally {
        await client.end();
      }
      // the CLI requester got the verdict, with the reason
      assert.equal(rolledBack.code, 1, `${rolledBack.stdout}${steward.log()}`);
      assert.match(rolledBack.stdout, /^Success=0$/m);
      assert.match(rolledBack.stdout, /Rolled back generation 1: worker 1 \(\d+\) exited with code 1 during probation/);
      const crashes = existsSync(crashFile) ? readFileSync(crashFile, "utf8").trim().split("\n").map((l) => l.split(" ").map(Number)) : [];
      assert.ok(crashes.length >= 1, `a worker crashed${steward.log()}`);
      const inFlight = crashes.reduce((sum, [, open]) => sum + open!, 0);
      assert.ok(
        client.failures.length <= inFlight,
        `${client.failures.length} failed requests (${client.failures.slice(0, 5).join("; ")}) but ${inFlight} in flight on the crashing workers${steward.log()}`,
      );
      assert.ok(client.answered() >= 50, `the client loop made only ${client.answered()} requests`);
      assert.ok((client.generations.get("0") ?? 0) > 0 && (client.generations.get("1") ?? 0) > 0, `both generations answered: ${[...client.generations]}`);

      // the previous generation restarts from its own plan (not the rolled-back one's CRASH_AFTER_MS)
      const killedAt = steward.lines.length;
      process.kill(gen0[0]!, "SIGKILL");
      const restarted = await steward.waitForLine(/Worker \d \((\d+)\) started \(generation 0\)/, 10_000, killedAt);
      const replacement = Number(restarted.match[1]);
      const report = await reachPid(http.url, replacement);
      assert.equal(report.env.STEWARD_GENERATION, "0");
      assert.equal(report.env.CRASH_AFTER_MS, undefined, "started from the previous configuration");
      gen0[0] = replacement;

      // reported failed everywhere a failed reload is
      const table = parseShowProc(await cli(steward, sock, "show proc"));
      assert.equal(table.master[2], "0 [failed: 1]");
      const status = await bed.run(["status", "-S", sock, "--strict"]);
      assert.equal(status.code, 3, status.stdout);
      assert.match(status.stdout, /last reload failed: rolled back: worker/);
      const metrics = await cli(steward, sock, "show metrics");
      assert.match(metrics, /^steward_rollbacks_total 1$/m);
      assert.match(metrics, /^steward_reload_failures_total 1$/m);

      // the next good reload passes its probation (generation 2: numbers are not reused)
      bed.write("steward.toml", config("2s"));
      const good = await bed.run(["reload", "-S", sock], { timeoutMs: 40_000 });
      assert.equal(good.code, 0, `${good.stdout}${steward.log()}`);
      assert.match(good.stdout, /Generation 2 promoted \(probation ended\)/);
      assert.match(good.stdout, /Master re-executed \(version [^)]+\); reload 2 in progress/);
      await waitReaped(steward.pid, gen0);
      await expectServedBy(http.url, workersOf(steward, 2).map((w) => w.pid), 2, () => steward.log());
    }));

    test("promote and rollback on the master CLI; a reload during probation is refused; nothing without a probation", e2e(mode, async (bed) => {
      const sock = bed.path("master.sock");
      const steward = bed.startWith(config("60s"), "steward.toml", { args: ["-S", sock] });
      await steward.ready();
      const http = await steward.listener("http");
      const gen0 = workersOf(steward, 0).map((w) => w.pid);
      assert.equal(await cli(steward, sock, "rollback"), "No generation is on probation.");
      assert.equal(await cli(steward, sock, "promote"), "No generation is on probation.");

      steward.signal("SIGUSR2");
      await steward.waitForLine(/Generation 1 is on probation for 1m/, 20_000);
      const proc = parseShowProc(await cli(steward, sock, "show proc"));
      assert.match(proc.master[5]!, /^\[probation: generation 1 until \d{4}-\d\d-\d\dT[\d:.]+Z\]$/);
      const both = workersOf(steward, 1).map((w) => w.pid);
      assert.deepEqual(
        proc.workers.map((w) => [Number(w[0]), w[5]]).sort((a, b) => Number(a[0]) - Number(b[0])),
        [...gen0.map((pid) => [pid, undefined]), ...both.map((pid) => [pid, "[probation]"])].sort((a, b) => Number(a[0]) - Number(b[0])),
      );
      const refused = await cli(steward, sock, "reload");
      assert.match(refused, /^Success=0\n--\nGeneration 1 is on probation until .*: 'promote' or 'rollback' first, or wait for its outcome\.$/);
      // both generations serve meanwhile
      await collectWorkers(http.url, (seen) => [...gen0, ...both].every((pid) => seen.has(pid)), 15_000);

      // a reload signal during probation waits for the verdict, then runs
      steward.signal("SIGUSR2");
      await steward.waitForLine(/received during a reload \(a probation\): one more reload will follow its outcome/, 5_000);
      assert.equal(await cli(steward, sock, "rollback"), "Generation 1 rolled back.");
      await steward.waitForLine(/Reload failed: rolled back: rollback from the master CLI/, 5_000);
      await waitReaped(steward.pid, both);
      // the old generation serves on; the merged reload's generation 2 may already answer beside it
      const served = await collectWorkers(http.url, (seen) => gen0.every((pid) => seen.has(pid)), 15_000);
      const strays = [...served.keys()].filter((pid) => !gen0.includes(pid) && !workersOf(steward, 2).some((w) => w.pid === pid));
      assert.deepEqual(strays, [], `only generations 0 and 2 answer after the rollback${steward.log()}`);

      await steward.waitForLine(/Generation 2 is on probation/, 20_000);
      assert.equal(await cli(steward, sock, "promote"), "Generation 2 promoted.");
      await steward.waitForLine(/Loading success\./, 5_000, steward.matching(/Generation 2 is on probation/)[0]!.line.index);
      await waitReaped(steward.pid, gen0);
      await expectServedBy(http.url, workersOf(steward, 2).map((w) => w.pid), 2, () => steward.log());
      assert.equal(await cli(steward, sock, "promote"), "No generation is on probation.");
      assert.ok(!steward.exit, "the master keeps running");
    }));

    test("-Ws: STATUS when the probation begins, READY=1 only at its verdict, STATUS=Rolled back after a rollback", e2e(mode, async (bed) => {
      const sink = await NotifySink.open(bed, bed.path("notify.sock"));
      const steward = bed.startWith(config("10s"), "steward.toml", { args: ["-Ws"], env: { NOTIFY_SOCKET: sink.address } });
      await steward.ready();
      await sink.waitFor(1);
      bed.write("steward.toml", config("10s", bed.path("crashes")));
      steward.signal("SIGUSR2");
      await steward.waitForLine(/Reload failed: rolled back: /, 30_000);
      bed.write("steward.toml", config("1s"));
      steward.signal("SIGUSR2");
      await steward.waitForLine(/Generation 2 promoted/, 30_000);
      steward.signal("SIGTERM");
      await steward.expectExit(0, 20_000);
      await sink.waitFor(8);
      await sleep(200);
      const texts = sink.texts().map((t) => t.replace(/^(RELOADING=1\nMONOTONIC_USEC=)\d+/, "$1N").replace(/until \S+$/, "until T"));
      const ready = `READY=1\nMAINPID=${steward.pid}\nSTATUS=Ready`;
      const reloading = "RELOADING=1\nMONOTONIC_USEC=N\nSTATUS=Reloading";
      assert.equal(texts.length, 8, `${sink.describe()}${steward.log()}`);
      assert.deepEqual(texts.slice(0, 3), [ready, reloading, "STATUS=Generation 1 on probation until T"], sink.describe());
      assert.match(texts[3]!, /^READY=1\nSTATUS=Rolled back: worker \d \(\d+\) exited with code 1 during probation$/);
      assert.deepEqual(texts.slice(4), [reloading, "STATUS=Generation 2 on probation until T", ready, "STOPPING=1\nSTATUS=Stopping"], sink.describe());
    }));

    test("SIGTERM during probation stops both generations and exits 0", e2e(mode, async (bed) => {
      const steward = bed.startWith(config("60s"));
      await steward.ready();
      steward.signal("SIGUSR2");
      await steward.waitForLine(/Generation 1 is on probation/, 20_000);
      const all = steward.started().map((w) => w.pid);
      assert.equal(all.length, 4);
      steward.signal("SIGTERM");
      const exit = await steward.waitForExit(20_000);
      assert.equal(exit.code, 0, steward.log());
      await waitUntil(() => processesOfMaster(steward.pid).length === 0, 5_000, () => `nothing left: ${processesOfMaster(steward.pid)}`);
    }));
  });
}

if (modes.includes("binary")) {
  describe("probation after a binary upgrade [binary]", () => {
    let buildDir = "";
    let upgraded = "";
    before(async () => {
      buildDir = mkdtempSync("/tmp/stw-build-");
      upgraded = await buildSteward("9.9.9", join(buildDir, "steward"));
    });
    after(() => {
      if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    });

    test("an upgrade rolled back: the master stays on the new executable, the previous generation (old version) serves", e2e("binary", async (bed) => {
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const sock = bed.path("master.sock");
      const steward = bed.startWith(config("10s"), "steward.toml", { command: [exe], args: ["-S", sock] });
      await steward.ready();
      const http = await steward.listener("http");
      const gen0 = workersOf(steward, 0).map((w) => w.pid);
      const before = parseShowProc(await cli(steward, sock, "show proc"));
      const oldVersion = before.master[4]!;
      assert.notEqual(oldVersion, "9.9.9");

      installCopy(upgraded, exe);
      bed.write("steward.toml", config("10s", bed.path("crashes")));
      const reply = await bed.run(["reload", "-S", sock], { timeoutMs: 40_000 });
      assert.equal(reply.code, 1, `${reply.stdout}${steward.log()}`);
      assert.match(reply.stdout, /Master re-executed \(version 9\.9\.9\)/);
      assert.match(reply.stdout, /Rolled back generation 1: worker 1 /);
      await waitReaped(steward.pid, workersOf(steward, 1).map((w) => w.pid));
      const table = parseShowProc(await cli(steward, sock, "show proc"));
      assert.equal(table.master[4], "9.9.9", "the master runs the new executable");
      assert.deepEqual(table.workers.map((w) => [Number(w[0]), w[4]]).sort(), gen0.map((pid) => [pid, oldVersion]).sort(), "the previous workers, of the old version");
      await expectServedBy(http.url, gen0, 0, () => steward.log());
    }));
  });
}
