/**
 * The shipped systemd units (examples/systemd/, README "Under systemd"):
 *   - `systemd-analyze verify` on both, with /usr/local/bin/steward rewritten to the mode's
 *     steward (verify checks that ExecStart= and ExecReload= are executable): the
 *     Type=notify unit is clean; the Type=notify-reload unit is clean on systemd >= 253 and,
 *     on older systemd (Debian 12's 252), draws exactly the one line the README warns of;
 *   - the Type=notify unit's own ExecStart= and ExecReload= lines, run as systemd runs them
 *     (paths moved into the test's directory): ExecReload= exits 1 on a failed reload and 0
 *     on a good one, so `systemctl reload` reports the reload's real result.
 * systemd-analyze comes from Debian's `systemd` package (.ci/run installs it); without it
 * the test fails, saying so.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { e2e, fixture, MODES, ROOT, serving, stewardCommand, type TestBed, which } from "./_harness.ts";

const UNITS = join(ROOT, "examples", "systemd");
const SHIPPED_BINARY = "/usr/local/bin/steward";

function systemdAnalyze(): string {
  try {
    return which("systemd-analyze");
  } catch {
    throw new Error("systemd-analyze is not installed: apt-get install systemd (Debian's package; .ci/run installs it)");
  }
}

function systemdVersion(analyze: string): number {
  const out = execFileSync(analyze, ["--version"], { encoding: "utf8" });
  const m = /^systemd (\d+)/.exec(out);
  if (!m) throw new Error(`cannot read the systemd version from: ${out}`);
  return Number(m[1]);
}

/** The unit with the shipped binary path replaced by `command`, written into the bed. */
function installUnit(bed: TestBed, name: string, command: string[], more: Record<string, string> = {}): string {
  let text = readFileSync(join(UNITS, name), "utf8").replaceAll(SHIPPED_BINARY, command.join(" "));
  for (const [from, to] of Object.entries(more)) text = text.replaceAll(from, to);
  return bed.write(name, text);
}

function verify(analyze: string, unit: string): { code: number | null; output: string } {
  const r = spawnSync(analyze, ["verify", unit], { encoding: "utf8" });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** `Key=` words of a unit (no quoting in the shipped units). */
function execLine(unit: string, key: string): string[] {
  const line = readFileSync(unit, "utf8").split("\n").find((l) => l.startsWith(`${key}=`));
  assert.ok(line, `${unit} has no ${key}=`);
  return line.slice(key.length + 1).trim().split(/\s+/);
}

for (const mode of MODES) {
  describe(`shipped systemd units [${mode}]`, () => {
    test("systemd-analyze verify: Type=notify clean; Type=notify-reload clean on >= 253, one known line before", e2e(mode, (bed) => {
      const analyze = systemdAnalyze();
      const command = stewardCommand(mode);
      const notify = verify(analyze, installUnit(bed, "steward-app-notify.service", command));
      assert.deepEqual(notify, { code: 0, output: "" });
      const reload = verify(analyze, installUnit(bed, "steward-app.service", command));
      assert.equal(reload.code, 0, reload.output);
      if (systemdVersion(analyze) >= 253) assert.equal(reload.output, "");
      else assert.match(reload.output, /^\S+steward-app\.service:\d+: Failed to parse service type, ignoring: notify-reload$/);
      return Promise.resolve();
    }));

    test("the Type=notify unit's ExecReload= exits 1 on a failed reload, 0 on a good one", e2e(mode, async (bed) => {
      const config = bed.path("app.toml");
      const sock = bed.path("master.sock");
      const unit = installUnit(bed, "steward-app-notify.service", ["STEWARD"], {
        "/etc/steward/app.toml": config,
        "/run/steward-app/master.sock": sock,
      });
      const start = execLine(unit, "ExecStart");
      const reload = execLine(unit, "ExecReload");
      assert.equal(start[0], "STEWARD");
      assert.equal(reload[0], "STEWARD");
      bed.write("app.toml", serving(fixture("http-worker.cjs")));
      const steward = bed.start(start.slice(1));
      await steward.ready();

      bed.write("app.toml", "[global\n");
      const failed = await bed.run(reload.slice(1));
      assert.equal(failed.code, 1, `${failed.stdout}${failed.steward.log()}`);
      assert.match(failed.stdout, /^Success=0$/m);

      bed.write("app.toml", serving(fixture("http-worker.cjs"), { workers: 2 }));
      const good = await bed.run(reload.slice(1));
      assert.equal(good.code, 0, `${good.stdout}${good.steward.log()}`);
      assert.match(good.stdout, /^Success=1$/m);
      await steward.waitForLine(/Worker 2 \(\d+\) started \(generation 1\)/);
      steward.signal("SIGTERM");
      await steward.expectExit(0);
    }));
  });
}
