/**
 * Log formats (README "Logs"; REFERENCE §9 `log-format`): syslog priority prefixes when
 * JOURNAL_STREAM names the master's stderr (and only then), `journal` and `json` by option,
 * variable or file key, a reload that changes the key, and bad values.
 *
 * For the journal case, stderr is a file in the test's directory: `sh -c 'exec "$@" 2>>FILE'`
 * starts steward (same PID) with fd 2 on it, and JOURNAL_STREAM is that file's DEV:INODE,
 * which is what systemd sets for a service whose stderr is the journal's stream.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import process from "node:process";
import { describe, test } from "node:test";
import {
  e2e, expectReloaded, fixture, MODES, reload, serving, stewardCommand, type Steward, type TestBed, waitUntil,
} from "./_harness.ts";

const PRIORITY: Record<string, string> = { ALERT: "3", WARNING: "4", NOTICE: "5", DEBUG: "7" };

/** A steward whose stderr is `file` (appended), with JOURNAL_STREAM set to `journal`'s DEV:INODE. */
function startToFile(bed: TestBed, file: string, journal: string, config: string): Steward {
  bed.write(file, "");
  const st = statSync(bed.path(journal), { bigint: true });
  return bed.startWith(config, "steward.toml", {
    env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` },
    command: ["/bin/sh", "-c", `exec "$@" 2>>${JSON.stringify(bed.path(file))}`, "sh", ...stewardCommand(bed.mode)],
  });
}

function fileLines(bed: TestBed, file: string): string[] {
  return readFileSync(bed.path(file), "utf8").split("\n").filter((l) => l !== "");
}

async function waitForFileLine(bed: TestBed, file: string, re: RegExp, steward: Steward): Promise<string> {
  return await waitUntil(
    () => fileLines(bed, file).find((l) => re.test(l)),
    15_000,
    () => `a line matching ${re} in ${file}:\n${fileLines(bed, file).join("\n")}${steward.log()}`,
  );
}

/** The master's own lines (workers write to the same stderr, unprefixed). */
function masterLines(lines: string[], pid: number): string[] {
  return lines.filter((l) => l.includes(`(${pid}) : `));
}

for (const mode of MODES) {
  describe(`log formats [${mode}]`, () => {
    test("stderr is the journal (JOURNAL_STREAM names it): each master line starts with its priority", e2e(mode, async (bed) => {
      const config = serving(fixture("http-worker.cjs"), { workers: 2, "on-failure": "restart" });
      const steward = startToFile(bed, "stderr.log", "stderr.log", config);
      await waitForFileLine(bed, "stderr.log", /Loading success\./, steward);
      // a warning: a killed worker is restarted
      const started = await waitForFileLine(bed, "stderr.log", /Worker 1 \((\d+)\) started/, steward);
      process.kill(Number(/Worker 1 \((\d+)\)/.exec(started)![1]), "SIGKILL");
      await waitForFileLine(bed, "stderr.log", /restarting it in/, steward);
      // an alert: a reload of a file that does not parse
      bed.write("steward.toml", "[global\n");
      steward.signal("SIGHUP");
      await waitForFileLine(bed, "stderr.log", /Reload failed/, steward);
      steward.signal("SIGTERM");
      await steward.expectExit(0);

      const lines = masterLines(fileLines(bed, "stderr.log"), steward.pid);
      assert.ok(lines.length >= 8, lines.join("\n"));
      const seen = new Set<string>();
      for (const line of lines) {
        const m = /^<(\d)>\[(ALERT|WARNING|NOTICE|DEBUG)\] +\(\d+\) : /.exec(line);
        assert.ok(m, `no priority prefix: ${JSON.stringify(line)}`);
        assert.equal(m[1], PRIORITY[m[2]!], line);
        seen.add(m[1]!);
      }
      assert.deepEqual([...seen].sort(), ["3", "4", "5"], lines.join("\n"));
    }));

    test("JOURNAL_STREAM naming another file: no prefixes", e2e(mode, async (bed) => {
      bed.write("elsewhere.log", "");
      const steward = startToFile(bed, "stderr.log", "elsewhere.log", serving(fixture("http-worker.cjs")));
      await waitForFileLine(bed, "stderr.log", /Loading success\./, steward);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      const lines = masterLines(fileLines(bed, "stderr.log"), steward.pid);
      assert.ok(lines.length >= 4, lines.join("\n"));
      for (const line of lines) assert.match(line, /^\[(NOTICE|WARNING|ALERT)\] +\(\d+\) : /);
    }));

    test("--log-format json: one JSON object per line, with the event's fields", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 2 }), "steward.toml", { args: ["--log-format", "json"] });
      await steward.ready();
      bed.write("steward.toml", "[global\n");
      const failed = await reload(steward, "SIGHUP");
      assert.ok(!failed.ok, steward.log());
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      const entries = steward.lines.filter((l) => l.text.startsWith("{")).map((l) => JSON.parse(l.text) as Record<string, unknown>);
      assert.ok(entries.length >= 6, steward.log());
      assert.ok(!steward.lines.some((l) => /^\[(NOTICE|WARNING|ALERT)\]/.test(l.text)), `no text line from the master${steward.log()}`);
      for (const e of entries) {
        assert.deepEqual(Object.keys(e).slice(0, 4), ["time", "level", "pid", "message"], JSON.stringify(e));
        assert.ok(!Number.isNaN(Date.parse(e.time as string)), JSON.stringify(e));
        assert.equal(e.pid, steward.pid);
        assert.match(e.level as string, /^(alert|warning|notice|debug)$/);
      }
      const started = entries.filter((e) => e.event === "worker-started");
      assert.deepEqual(started.map((e) => [e.worker, e.generation]), [[1, 0], [2, 0]], steward.log());
      assert.deepEqual(started.map((e) => e.message), started.map((e) => `Worker ${e.worker} (${e.workerPid}) started (generation 0)`));
      assert.ok(entries.some((e) => e.event === "loaded" && e.generation === 0 && e.message === "Loading success."), steward.log());
      const reloadFailed = entries.find((e) => e.event === "reload-failed");
      assert.equal(reloadFailed?.level, "alert", steward.log());
      assert.match(reloadFailed?.reason as string, /syntax error/, steward.log());
      assert.equal(reloadFailed?.message, `Reload failed: ${reloadFailed?.reason}`);
    }));

    test("STEWARD_LOG_FORMAT=journal prefixes a pipe; log-format in the file, changed by a reload", e2e(mode, async (bed) => {
      const env = bed.startWith(serving(fixture("http-worker.cjs")), "env.toml", { env: { STEWARD_LOG_FORMAT: "journal" } });
      await env.ready();
      env.signal("SIGTERM");
      await env.expectExit(0);
      const mine = env.lines.filter((l) => l.text.includes(`(${env.pid}) : `));
      assert.ok(mine.length >= 4 && mine.every((l) => /^<[3-7]>\[/.test(l.text)), env.log());

      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { "log-format": "json" }));
      await steward.ready();
      assert.ok(steward.lines.some((l) => l.text.startsWith("{") && l.text.includes('"Loading success."')), steward.log());
      bed.write("steward.toml", serving(fixture("http-worker.cjs"), { "log-format": "text" }));
      // the new configuration's format applies once its reload has succeeded
      const reloaded = await expectReloaded(steward, "SIGHUP");
      steward.signal("SIGTERM");
      await steward.expectExit(0);
      const after = steward.lines.slice(reloaded.line.index + 1).filter((l) => l.text.includes(`(${steward.pid}) : `));
      assert.ok(after.length >= 2 && after.every((l) => /^\[NOTICE\] +\(\d+\) : /.test(l.text)), steward.log());
    }));

    test("a bad log format is one line: exit 2 for the option and variable, 1 for the file", e2e(mode, async (bed) => {
      const option = await bed.run(["--log-format", "xml", "-l", "tcp://127.0.0.1:0", "--", "true"]);
      assert.equal(option.code, 2, option.steward.log());
      assert.equal(option.stderr, `steward: --log-format: must be text, journal or json (got "xml"); run 'steward --help'`);
      const variable = await bed.run(["-l", "tcp://127.0.0.1:0", "--", "true"], { env: { STEWARD_LOG_FORMAT: "jsno" } });
      assert.equal(variable.code, 2, variable.steward.log());
      assert.equal(variable.stderr, `steward: STEWARD_LOG_FORMAT: must be text, journal or json (did you mean 'json'?) (got "jsno"); run 'steward --help'`);
      const file = bed.write("bad.toml", serving(fixture("http-worker.cjs"), { "log-format": "syslog" }));
      const check = await bed.run(["check", "-f", file]);
      assert.equal(check.code, 1, check.steward.log());
      assert.match(check.stderr, /^\S+bad\.toml:\d+: global\.log-format: must be text, journal or json \(got "syslog"\)$/);
    }));
  });
}
