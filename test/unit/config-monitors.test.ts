/** `[global] watchdog` and `[worker] health` (src/config/monitors.ts): values, defaults, one-line errors. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigResult, formatProblem, idsFromText, loadConfig } from "../../src/config/index.ts";

const ids = idsFromText("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n");
const dir = mkdtempSync(join(tmpdir(), "steward-config-monitors-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string): Promise<ConfigResult> {
  writeFileSync(join(dir, "s.toml"), text);
  return loadConfig({ file: "s.toml", overrides: {}, cwd: dir, ids });
}

const problems = (r: ConfigResult): string[] => (r.ok ? assert.fail("expected problems") : r.problems.map(formatProblem));

describe("watchdog and health configuration", () => {
  test("watchdog: a duration, 0 or absent = off", async () => {
    const on = await load(`[global]\nwatchdog = "10s"\n[worker]\ncommand = ["/bin/true"]\n`);
    assert.ok(on.ok && on.config.global.watchdog === 10_000);
    const off = await load(`[global]\nwatchdog = "0"\n[worker]\ncommand = ["/bin/true"]\n`);
    assert.ok(off.ok && !off.config.global.watchdog);
    const absent = await load(`[worker]\ncommand = ["/bin/true"]\n`);
    assert.ok(absent.ok && absent.config.global.watchdog === undefined && absent.config.worker.health === undefined);
    assert.deepEqual(problems(await load(`[global]\nwatchdog = "10"\n[worker]\ncommand = ["/bin/true"]\n`)), [
      `s.toml:2: global.watchdog: missing unit (ms, s, m, h) (got "10")`,
    ]);
  });

  test("health: the command, with interval 5s, timeout 2s and 3 failures by default", async () => {
    const r = await load(`[worker]\ncommand = ["/bin/true"]\nhealth = { command = ["./check.sh", "-q"] }\n`);
    assert.ok(r.ok);
    assert.deepEqual(r.config.worker.health, { command: ["./check.sh", "-q"], interval: 5_000, timeout: 2_000, failures: 3 });
    const s = await load(`[worker]\ncommand = ["/bin/true"]\nhealth = { command = "check --fast", interval = "1s", timeout = "500ms", failures = 1 }\n`);
    assert.ok(s.ok);
    assert.deepEqual(s.config.worker.health, { command: ["check", "--fast"], interval: 1_000, timeout: 500, failures: 1 });
  });

  test("health and WATCHDOG_*: one line per problem, naming the value", async () => {
    assert.deepEqual(
      problems(await load(`[worker]\ncommand = ["/bin/true"]\nhealth = { interval = "0", timeout = "soon", failures = 0, retries = 2 }\n`)),
      [
        `s.toml:3: worker.health.retries: unknown key`,
        `s.toml:3: worker.health.command: required (the command that checks one worker)`,
        `s.toml:3: worker.health.interval: must be greater than 0 (got "0")`,
        `s.toml:3: worker.health.timeout: not a duration (e.g. "500ms", "30s", "1m30s") (got "soon")`,
        `s.toml:3: worker.health.failures: must be an integer from 1 to 1000 (got 0)`,
      ],
    );
    assert.deepEqual(problems(await load(`[worker]\ncommand = ["/bin/true"]\nhealth = ["check"]\n`)), [
      `s.toml:3: worker.health: must be a table { command = [...], interval = "5s", timeout = "2s", failures = 3 } (got ["check"])`,
    ]);
    assert.deepEqual(problems(await load(`[worker]\ncommand = ["/bin/true"]\nenv = { WATCHDOG_USEC = "1" }\n`)), [
      `s.toml:3: worker.env.WATCHDOG_USEC: is set by steward from [global] watchdog and cannot be configured`,
    ]);
  });
});
