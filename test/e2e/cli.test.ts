/**
 * The command line (REFERENCE §2, §6): `check`, `version`, and usage errors.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { e2e, fixture, MODES, ROOT, toml, which } from "./_harness.ts";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

for (const mode of MODES) {
  describe(`command line [${mode}]`, () => {
    // From source, `bun` itself reads ./.env before steward runs: only the compiled file
    // (and deno, which reads none) can promise this.
    if (mode !== "bun") {
      test("a .env in the working directory sets no option and reaches no worker", e2e(mode, async (bed) => {
        bed.write(".env", "STEWARD_WORKERS=3\nDOTENV_MARKER=leaked\n");
        const file = bed.write("steward.toml", toml({
          global: { ready: "spawn" },
          worker: { command: [which("sh"), "-c", 'echo "worker sees DOTENV_MARKER=[$DOTENV_MARKER]" >&2; exec sleep 1000'] },
        }));
        const steward = bed.start(["-f", file]);
        await steward.ready();
        await steward.waitForLine(/worker sees DOTENV_MARKER=/, 10_000);
        assert.equal(steward.started().length, 1, `STEWARD_WORKERS from .env ignored${steward.log()}`);
        assert.equal(steward.matching(/worker sees DOTENV_MARKER=\[\]/).length, 1, `the worker's environment has no DOTENV_MARKER${steward.log()}`);
        steward.signal("SIGTERM");
        await steward.expectExit(0);
      }));
    }

    test("steward check -f FILE: exit 0 for a valid file", e2e(mode, async (bed) => {
      const file = bed.write("good.toml", toml({
        global: { workers: 2, "ready-timeout": "1s" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command: fixture("http-worker.cjs") },
      }));
      const result = await bed.run(["check", "-f", file]);
      assert.equal(result.code, 0, result.steward.log());
      assert.equal(result.steward.started().length, 0, "check starts nothing");
    }));

    test("steward check -f FILE: exit 1 and one line per error", e2e(mode, async (bed) => {
      const file = bed.write("bad.toml", toml({
        global: { workers: "many", "hard-stop-after": "soon" },
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command: fixture("http-worker.cjs") },
      }));
      const result = await bed.run(["check", "-f", file]);
      const log = result.steward.log();
      assert.equal(result.code, 1, log);
      const lines = result.steward.lines.map((l) => l.text);
      // `FILE:LINE: key: problem (got VALUE)`; workers is on line 2, hard-stop-after on line 3
      const workers = lines.filter((l) => l.includes("bad.toml:2:") && l.includes("workers") && l.includes("many"));
      const hardStop = lines.filter((l) => l.includes("bad.toml:3:") && l.includes("hard-stop-after") && l.includes("soon"));
      assert.equal(workers.length, 1, `one line for workers = "many"${log}`);
      assert.equal(hardStop.length, 1, `one line for hard-stop-after = "soon"${log}`);
      assert.notEqual(workers[0], hardStop[0]);
    }));

    test("steward check refuses a worker command that does not exist, with run's words", e2e(mode, async (bed) => {
      const file = bed.write("missing.toml", toml({
        listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
        worker: { command: ["no-such-program-e2e", "x"] },
      }));
      const check = await bed.run(["check", "-f", file]);
      assert.equal(check.code, 1, check.steward.log());
      assert.deepEqual(check.steward.lines.map((l) => l.text), [`${file}: worker.command: 'no-such-program-e2e' not found in PATH`]);
      const run = await bed.run(["-f", file]);
      assert.equal(run.code, 1, run.steward.log());
      assert.match(run.stderr, /Starting failed: worker\.command: 'no-such-program-e2e' not found in PATH/);
    }));

    test("steward help [COMMAND] prints --help; an unknown command is a usage error", e2e(mode, async (bed) => {
      for (const [args, same] of [[["help"], ["--help"]], [["help", "run"], ["run", "--help"]], [["help", "status"], ["status", "--help"]]]) {
        const result = await bed.run(args!);
        assert.equal(result.code, 0, result.steward.log());
        assert.equal(result.stdout, (await bed.run(same!)).stdout, args!.join(" "));
        assert.match(result.stdout, /USAGE steward/);
      }
      const bad = await bed.run(["help", "frob"]);
      assert.equal(bad.code, 2, bad.steward.log());
      assert.match(bad.stderr, /^steward: unknown command 'frob' .*; run 'steward --help'\n?$/);
    }));

    test("steward version, --version and -v (HAProxy's) print the version", e2e(mode, async (bed) => {
      for (const args of [["version"], ["--version"], ["-v"]]) {
        const result = await bed.run(args);
        assert.equal(result.code, 0, result.steward.log());
        assert.ok(result.stdout.includes(VERSION), `stdout of ${args.join(" ")} contains ${VERSION}: ${JSON.stringify(result.stdout)}`);
      }
    }));

    test("an unknown option is a usage error: exit 2, naming it, with a hint to --help", e2e(mode, async (bed) => {
      for (const args of [["run", "--no-such-option"], ["--no-such-option", "-l", "tcp://127.0.0.1:0", "--", "true"]]) {
        const result = await bed.run(args);
        const log = result.steward.log();
        assert.equal(result.code, 2, `steward ${args.join(" ")}${log}`);
        assert.ok(result.stderr.includes("--no-such-option"), `names the option${log}`);
        assert.ok(result.stderr.includes("--help"), `hints at --help${log}`);
        assert.ok(!/^\s+at\s/m.test(result.stderr), `no stack trace${log}`);
        assert.equal(result.steward.started().length, 0, log);
      }
    }));
  });
}
