/**
 * The master CLI's commands and sessions (REFERENCE §7.1–§7.3, §7.5) through socat, an
 * independent client, and through `steward cli` (one-shot, stdin, interactive on a pty).
 */
import assert from "node:assert/strict";
import { readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fixture, MODES, ROOT, stewardCommand, which } from "./_modes.ts";
import { e2e } from "./_steward.ts";
import { waitUntil } from "./_process.ts";
import { freeTcpPort, parseShowProc, RawSession, replies, socat, startCliMaster } from "./_mcli.ts";
import { spawn, spawnSync } from "node:child_process";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const DENIED = "Permission denied";

for (const mode of MODES) {
  describe(`master CLI commands [${mode}]`, () => {
    test("user level: help, echo, version, level; the rest is refused; the level never rises", e2e(mode, async (bed) => {
      const { steward, user } = await startCliMaster(bed);
      const input = "help; echo hello\\ world  again; show version; show cli level; show proc; show proc json; show listeners; " +
        "show startup-logs; show env; reload; hard-reload; operator; show cli level\n";
      const r = replies((await socat(user, input)).stdout);
      assert.equal(r.length, 13, JSON.stringify(r));
      assert.match(r[0]!, /^The following commands are valid at this level:\n/);
      for (const hidden of ["show proc", "show env", "reload", "show listeners", "operator"]) {
        assert.ok(!r[0]!.includes(`  ${hidden}`), `help at user level does not list ${hidden}: ${r[0]}`);
      }
      for (const shown of ["help", "prompt", "quit", "echo", "show version", "show cli level", "user"]) {
        assert.ok(r[0]!.includes(`  ${shown}`), `help lists ${shown}: ${r[0]}`);
      }
      assert.deepEqual(r.slice(1, 4), ["hello world again", VERSION, "user"]);
      assert.deepEqual(r.slice(4, 12), Array(8).fill(DENIED));
      assert.equal(r[12], "user");
      assert.equal(steward.matching(/Reloading/).length, 0, "no reload happened");
    }));

    test("operator level: show proc, listeners, startup logs; not env or hard-reload; 'user' lowers it", e2e(mode, async (bed) => {
      const { steward, operator } = await startCliMaster(bed);
      const http = await steward.listener("http");
      const input = "show cli level; help; show listeners; show startup-logs; show env; hard-reload; user; show proc; show cli level\n";
      const r = replies((await socat(operator, input)).stdout);
      assert.equal(r.length, 9, JSON.stringify(r));
      assert.equal(r[0], "operator");
      assert.match(r[1]!, /  show proc/);
      assert.ok(!/  show env|  hard-reload/.test(r[1]!), r[1]!);
      assert.equal(r[2], `3 http ${http.url} tcp`);
      assert.match(r[3]!, /Worker 1 \(\d+\) started/);
      assert.match(r[3]!, /Loading success\./);
      assert.deepEqual(r.slice(4, 6), [DENIED, DENIED]);
      assert.equal(r[6], "");
      assert.equal(r[7], DENIED);
      assert.equal(r[8], "user");
    }));

    test("admin level: show env [VAR]; operator lowers the session", e2e(mode, async (bed) => {
      const { admin } = await startCliMaster(bed, { args: [] });
      const r = replies((await socat(admin, "show cli level; show env PATH; show env NO_SUCH_VARIABLE_X; show env; operator; show env PATH; show cli level\n")).stdout);
      assert.equal(r[0], "admin");
      assert.match(r[1]!, /^PATH=\S+$/);
      assert.equal(r[2], "Variable not found: 'NO_SUCH_VARIABLE_X'");
      assert.match(r[3]!, /^PATH=/m);
      assert.match(r[3]!, /^NO_COLOR=1$/m);
      assert.deepEqual(r.slice(4), ["", DENIED, "operator"]);
    }));

    test("show proc: HAProxy's layout, 15-character columns, the master and its workers", e2e(mode, async (bed) => {
      const { steward, admin } = await startCliMaster(bed, { workers: 3 });
      const workers = await steward.waitForWorkers(3);
      const { stdout } = await socat(admin, "show proc\n");
      const table = parseShowProc(stdout);
      assert.deepEqual(table.master, [String(steward.pid), "master", "0 [failed: 0]", table.master[3], VERSION]);
      assert.deepEqual(table.workers.map((w) => Number(w[0])), workers.map((w) => w.pid));
      for (const w of table.workers) assert.deepEqual([w[1], w[2], w[4]], ["worker", "0", VERSION]);
      assert.deepEqual(table.oldWorkers, []);
      assert.deepEqual(table.programs, []);
      assert.ok(stdout.endsWith("# programs\n\n"), JSON.stringify(stdout.slice(-40)));
    }));

    test("show proc json: master, workers, old workers, programs with pid, id, generation, reloads, uptime, version, status, RSS", e2e(mode, async (bed) => {
      const { steward, operator } = await startCliMaster(bed, { workers: 2 });
      const workers = await steward.waitForWorkers(2);
      const r = replies((await socat(operator, "show proc json\n")).stdout);
      const json = JSON.parse(r[0]!);
      assert.deepEqual(Object.keys(json).sort(), ["master", "oldWorkers", "programs", "workers"]);
      assert.equal(json.master.pid, steward.pid);
      assert.equal(json.master.reloads, 0);
      assert.equal(json.master.version, VERSION);
      assert.equal(typeof json.master.uptime, "number");
      assert.ok(json.master.rss > 1_000_000, `master RSS in bytes: ${json.master.rss}`);
      assert.deepEqual(json.workers.map((w: { pid: number }) => w.pid), workers.map((w) => w.pid));
      for (const [i, w] of json.workers.entries()) {
        assert.equal(w.id, i + 1);
        assert.equal(w.generation, 0);
        assert.equal(w.reloads, 0);
        assert.equal(w.version, VERSION);
        assert.equal(w.status, "ready");
        assert.ok(w.uptime >= 0 && w.rss > 0, JSON.stringify(w));
      }
      assert.deepEqual(json.oldWorkers, []);
      assert.deepEqual(json.programs, []);
    }));

    test("unknown commands name the word and close matches; the session goes on", e2e(mode, async (bed) => {
      const { admin } = await startCliMaster(bed, { workers: 1 });
      const r = replies((await socat(admin, "frobnicate now; relaod; show porc; show; show version\n")).stdout);
      assert.equal(r[0], "Unknown command: 'frobnicate now'");
      assert.equal(r[1], "Unknown command: 'relaod'\nDid you mean: reload?");
      assert.match(r[2]!, /^Unknown command: 'show porc'\nDid you mean: show proc/);
      assert.match(r[3]!, /^Unknown command: 'show'\nDid you mean: show version, /);
      assert.equal(r[4], VERSION);
    }));

    test("prompt, empty lines, quit; a half-close ends the session after its replies, even without a newline", e2e(mode, async (bed) => {
      const { admin } = await startCliMaster(bed, { workers: 1 });
      const prompted = await socat(admin, "prompt\nshow version\n\nquit\nshow version\n");
      assert.equal(prompted.stdout, `\nmaster> ${VERSION}\n\nmaster> \nmaster> `);
      const piped = await socat(admin, "show version; quit; show version\n");
      assert.equal(piped.stdout, `${VERSION}\n\n`);
      assert.equal((await socat(admin, "show version")).stdout, `${VERSION}\n\n`, "the last line needs no newline");
      assert.equal((await socat(admin, "")).stdout, "", "nothing in, nothing out");
      // without a half-close or quit the session stays open
      const s = new RawSession(admin);
      await s.connected;
      s.write("show version\n");
      await s.until((t) => t === `${VERSION}\n\n`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(s.closed, false, "the master keeps a session open until quit or half-close");
      s.write("echo still here\nquit\n");
      assert.equal(await s.untilClosed(), `${VERSION}\n\nstill here\n\n`);
    }));

    test("a TCP master CLI (-S 127.0.0.1:PORT,level,operator) serves socat and steward cli", e2e(mode, async (bed) => {
      const config = bed.write("steward.toml", `[global]\nworkers = 1\n[[listen]]\nname = "http"\nbind = "tcp://127.0.0.1:0"\n[worker]\ncommand = ${JSON.stringify(fixture("cli-worker.cjs"))}\n`);
      const port = await freeTcpPort();
      const steward = bed.start(["-f", config, "-S", `127.0.0.1:${port},level,operator`]);
      await steward.ready(20_000);
      await steward.waitForLine(new RegExp(`Master CLI listening on \\S*127\\.0\\.0\\.1:${port} \\(level operator\\)`));
      assert.deepEqual(replies((await socat(`127.0.0.1:${port}`, "show cli level; show env\n")).stdout), ["operator", DENIED]);
      const run = await bed.run(["cli", "-S", `127.0.0.1:${port}`, "show proc"]);
      assert.equal(run.code, 0, run.stderr);
      parseShowProc(`${run.stdout}\n`);
    }));

    test("steward cli: one-shot exit 0 with the replies on stdout; 1 without a master; 2 for a bad address", e2e(mode, async (bed) => {
      const { steward, admin, user } = await startCliMaster(bed, { workers: 1 });
      const proc = await bed.run(["cli", "-S", admin, "show proc"]);
      assert.equal(proc.code, 0, proc.stderr);
      assert.equal(parseShowProc(`${proc.stdout}\n`).master[0], String(steward.pid));
      const words = await bed.run(["cli", "-S", admin, "show", "version"]);
      assert.deepEqual([words.code, words.stdout.trimEnd()], [0, VERSION]);
      const several = await bed.run(["cli", "-S", `${user},level,user`, "show cli level", "show proc", "echo a;echo b"]);
      assert.equal(several.code, 0, several.stderr);
      assert.equal(several.stdout.trimEnd(), `user\n\n${DENIED}\n\na\n\nb`);
      const missing = bed.path("missing.sock");
      const none = await bed.run(["cli", "-S", missing, "show proc"]);
      assert.equal(none.code, 1);
      assert.equal(none.stdout, "");
      assert.equal(none.stderr.trim().split("\n").length, 1, none.stderr);
      assert.match(none.stderr, new RegExp(`cannot connect to the master CLI at ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      const bad = await bed.run(["cli", "-S", "127.0.0.1:notaport", "show proc"]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--master-cli/);
    }));

    test("steward cli without a command and stdin not a terminal: lines relayed from stdin as they come", e2e(mode, async (bed) => {
      const { admin } = await startCliMaster(bed, { workers: 1 });
      const piped = spawnSync(stewardCommand(mode)[0]!, [...stewardCommand(mode).slice(1), "cli", "-S", admin], {
        input: "show cli level\nshow version\n",
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(piped.status, 0, piped.stderr);
      assert.equal(piped.stdout, `admin\n\n${VERSION}\n\n`);
      // a pipe that stays open: the first reply arrives before the second line is written
      const child = spawn(stewardCommand(mode)[0]!, [...stewardCommand(mode).slice(1), "cli", "-S", admin], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (d: string) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      bed.onCleanup(() => void child.kill("SIGKILL"));
      child.stdin.write("echo one\n");
      await waitUntil(() => out === "one\n\n", 15_000, () => `the first reply while stdin is open (got ${JSON.stringify(out)})`);
      child.stdin.end("echo two\n");
      assert.equal(await exited, 0);
      assert.equal(out, "one\n\ntwo\n\n");
    }));

    test("steward cli: interactive prompt on a terminal (master> , <pid>> , quit and Ctrl-D)", e2e(mode, async (bed) => {
      const { steward, admin } = await startCliMaster(bed, { workers: 1 });
      const [worker] = await steward.waitForWorkers(1);
      const drive = join(ROOT, "test", "fixtures", "pty-drive.py");
      const cmd = [...stewardCommand(mode), "cli", "-S", admin];
      const typed = spawnSync(which("python3"), [drive, "> $", "show version", "@1", "show info", "@", "quit", "--", ...cmd], { encoding: "utf8", timeout: 60_000 });
      assert.equal(typed.status, 0, `${typed.stdout}\n${typed.stderr}`);
      const screen = typed.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "");
      assert.match(screen, new RegExp(`master> show version\\n${VERSION.replace(/\./g, "\\.")}\\n`));
      assert.match(screen, new RegExp(`${worker!.pid}> show info\\npid: ${worker!.pid}\\n`));
      assert.match(screen, /master> quit\n?$/);
      const eof = spawnSync(which("python3"), [drive, "> $", "show cli level", "^D", "--", ...cmd], { encoding: "utf8", timeout: 60_000 });
      assert.equal(eof.status, 0, `${eof.stdout}\n${eof.stderr}`);
      assert.match(eof.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, ""), /master> show cli level\nadmin\n/);
    }));

    test("unix CLI sockets are mode 0600 from the moment they exist", e2e(mode, async (bed) => {
      const path = bed.path("watched.sock");
      const config = bed.write("steward.toml", `[global]\nworkers = 1\nready = "spawn"\n[worker]\ncommand = ["sleep", "60"]\n`);
      const steward = bed.start(["-f", config, "-S", path]);
      const seen = new Map<number, number>();
      const deadline = Date.now() + 20_000;
      // stat in a tight loop from before the master starts until the file exists, and a while after
      while (Date.now() < deadline) {
        let mode: number | undefined;
        try {
          mode = statSync(path).mode & 0o7777;
        } catch {
          // not there yet
        }
        if (mode !== undefined) seen.set(mode, (seen.get(mode) ?? 0) + 1);
        if ((seen.get(0o600) ?? 0) > 2000 || steward.exit) break;
      }
      assert.ok(existsSync(path), steward.log());
      assert.deepEqual([...seen.keys()].map((m) => m.toString(8)), ["600"], `every observation: ${JSON.stringify([...seen])}`);
      await steward.ready();
    }));

    test("once the master CLI has been quiet for 5 s, the master gives back what its commands mapped again", e2e(mode, async (bed) => {
      const { steward, admin } = await startCliMaster(bed, { args: ["--verbose"] });
      const gaveBack = /Gave back (\d+\.\d) MiB of start-up pages/;
      const afterLoad = await steward.waitForLine(gaveBack, 10_000);
      const r = replies((await socat(admin, "show proc; show info; show listeners\n")).stdout);
      assert.equal(r.length, 3, JSON.stringify(r));
      const afterUse = await steward.waitForLine(gaveBack, 20_000, afterLoad.line.index + 1);
      assert.ok(Number(afterUse.match[1]) > 0, `pages were given back after the commands: ${afterUse.line.text}`);
      assert.deepEqual(replies((await socat(admin, "show cli level\n")).stdout), ["admin"], "the master answers as before");
    }));
  });
}
