/**
 * Configuration files that would block or exhaust whoever reads them (README "Limits on
 * configuration files"): a FIFO no one writes to, JSON nested 100 000 levels deep, and a
 * YAML alias bomb as `worker.command`. At start and in `check`: exit 1 with one line. At
 * reload: the reload fails with one line while the master answers `show proc` on its CLI
 * within 1 s throughout, and restarts a worker killed meanwhile (`on-failure = "restart"`).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import { rmSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { e2e, fixture, isAlive, MODES, reloadOutcome, type Steward, type TestBed, workersOf } from "./_harness.ts";

interface BadFile {
  name: string;
  /** the configuration file's name (its extension picks the format) */
  file: string;
  /** makes the file at `path` bad (it holds a good configuration of the same format) */
  breakIt(path: string): void;
  /** the one line at start and in check */
  line: RegExp;
}

const LEVELS = 100_000;

/** Nine aliases of nine aliases ... of nine strings: 9^9 strings once expanded. */
function aliasBomb(): string {
  const lines = [`  a0: &a0 [${Array(9).fill('"lol"').join(",")}]`];
  for (let i = 1; i < 9; i++) lines.push(`  a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(",")}]`);
  return `x-anchors:\n${lines.join("\n")}\nworker:\n  command: *a8\n`;
}

const BAD_FILES: BadFile[] = [
  {
    name: "a FIFO no one writes to",
    file: "steward.toml",
    breakIt: (path) => {
      rmSync(path);
      execFileSync("mkfifo", [path]);
    },
    line: /^steward\.toml: cannot read the file: a FIFO with nothing written to it within 5s$/,
  },
  {
    name: `JSON nested ${LEVELS} levels deep`,
    file: "steward.json",
    breakIt: (path) => writeFileSync(path, `{"worker": {"command": ["x"]}, "x": ${"[".repeat(LEVELS)}${"]".repeat(LEVELS)}}`),
    line: /^steward\.json:1: syntax error: nested more than 64 levels deep$/,
  },
  {
    name: "a YAML alias bomb as worker.command",
    file: "steward.yaml",
    breakIt: (path) => writeFileSync(path, aliasBomb()),
    line: /^steward\.yaml: more than 100000 values \(a YAML alias counts as a copy at each use\)$/,
  },
];

/** A good configuration as JSON, which is also YAML; TOML written out. */
function goodConfig(file: string): string {
  const command = fixture("http-worker.cjs");
  if (file.endsWith(".toml")) {
    return `[global]\nworkers = 2\non-failure = "restart"\nready-timeout = "5s"\n[[listen]]\nname = "http"\nbind = "tcp://127.0.0.1:0"\n` +
      `[worker]\ncommand = ${JSON.stringify(command)}\nenv = { DRAIN = "1" }\n`;
  }
  return JSON.stringify({
    global: { workers: 2, "on-failure": "restart", "ready-timeout": "5s" },
    listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
    worker: { command, env: { DRAIN: "1" } },
  });
}

/** One command on the master CLI; rejects if the whole reply takes longer than `withinMs`. */
function ask(socket: string, command: string, withinMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let reply = "";
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no reply to '${command}' within ${withinMs}ms (got ${JSON.stringify(reply)})`));
    }, withinMs);
    conn.on("connect", () => conn.end(`${command}\n`));
    conn.on("data", (data) => (reply += data.toString()));
    conn.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    conn.on("close", () => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}

async function expectOneLine(bed: TestBed, args: string[], line: RegExp): Promise<void> {
  const r = await bed.run(args, { timeoutMs: 30_000 });
  const log = r.steward.log();
  assert.equal(r.code, 1, `exit code${log}`);
  const lines = r.steward.lines.map((l) => l.text).filter((t) => t.trim() !== "");
  assert.equal(lines.length, 1, `one line on stderr${log}`);
  assert.match(lines[0]!, line, log);
  assert.equal(r.steward.started().length, 0, `no worker started${log}`);
}

/** Polls `show proc` (each reply within 1 s) until the reload that began at line `from` has an outcome. */
async function answersThroughout(steward: Steward, socket: string, from: number): Promise<number> {
  let answers = 0;
  while (!steward.lines.slice(from).some((l) => /Loading success\.|Reload failed: /.test(l.text))) {
    const reply = await ask(socket, "show proc", 1_000).catch((e: Error) => {
      throw new Error(`the master CLI stopped answering during the reload: ${e.message}${steward.log()}`);
    });
    assert.match(reply, new RegExp(`^${steward.pid}\\s+master\\s`, "m"), reply);
    answers++;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return answers;
}

for (const mode of MODES) {
  describe(`configuration limits [${mode}]`, () => {
    for (const bad of BAD_FILES) {
      test(`${bad.name}: one line and exit 1 at start and in check`, e2e(mode, async (bed) => {
        const path = bed.write(bad.file, goodConfig(bad.file));
        bad.breakIt(path);
        await expectOneLine(bed, ["-f", bad.file], bad.line);
        await expectOneLine(bed, ["check", "-f", bad.file], bad.line);
      }));

      test(`${bad.name} at reload: fails with one line; the master answers show proc within 1 s throughout and restarts a killed worker`, e2e(mode, async (bed) => {
        const path = bed.write(bad.file, goodConfig(bad.file));
        const socket = bed.path("master.sock");
        const steward = bed.start(["-f", bad.file, "-S", socket]);
        await steward.ready();
        const [victim, other] = workersOf(steward, 0);
        bad.breakIt(path);

        const from = steward.lines.length;
        steward.signal("SIGUSR2");
        await steward.waitForLine(/Reloading \(SIGUSR2\)/, 5_000, from);
        process.kill(victim!.pid, "SIGKILL");
        const answers = await answersThroughout(steward, socket, from);
        const outcome = await reloadOutcome(steward, from, 1_000);
        assert.equal(outcome.ok, false, steward.log());
        const reason = bad.line.source.replace(/^\^/, "").replace(/\$$/, "");
        assert.match(outcome.reason!, new RegExp(`^preflight of \\S+ exited with code 1: ${reason}$`), steward.log());
        assert.ok(answers >= 1, `show proc answered ${answers} times during the reload`);

        const restarted = await steward.waitForLine(new RegExp(`Worker ${victim!.id} \\((?!${victim!.pid}\\))(\\d+)\\) started`), 10_000, from);
        await steward.waitForLine(new RegExp(`Worker ${victim!.id} \\(${restarted.match[1]}\\) is ready`), 10_000, restarted.line.index);
        assert.ok(isAlive(other!.pid) && !steward.exit, `the master and the other worker are still up${steward.log()}`);
        assert.match(await ask(socket, "show proc", 1_000), new RegExp(`^${restarted.match[1]}\\s+worker\\s`, "m"));
      }));
    }
  });
}
