/**
 * `steward status -S ADDR [--json] [--strict]` (REFERENCE §2) across a master's life: while
 * the first generation is not ready (1), ready (0), after a failed reload (0, or 3 with
 * --strict), after a good one (0 with --strict), and once the master is gone (1). Also
 * `steward reload`: non-zero on a failed reload, 0 on a good one.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { e2e, fixture, MODES, serving, type TestBed } from "./_harness.ts";

interface Probe {
  code: number | null;
  stdout: string;
}

async function status(bed: TestBed, sock: string, ...flags: string[]): Promise<Probe> {
  const result = await bed.run(["status", "-S", sock, ...flags]);
  assert.equal(result.stderr, "", `status wrote to stderr${result.steward.log()}`);
  assert.equal(result.stdout.split("\n").length, 1, `one line: ${JSON.stringify(result.stdout)}`);
  return { code: result.code, stdout: result.stdout };
}

for (const mode of MODES) {
  describe(`steward status [${mode}]`, () => {
    test("exit codes across start, a failed reload, a good reload and stop", e2e(mode, async (bed) => {
      const sock = bed.path("master.sock");
      const gate = bed.path("gate");
      const config = (workers: number) => serving([...fixture("gated.sh"), ...fixture("http-worker.cjs")], { workers, "ready-timeout": "60s" }, { GATE: gate });
      const steward = bed.startWith(config(2), "steward.toml", { args: ["-S", sock] });
      await steward.waitForLine(/Master CLI listening on/);
      await steward.waitForWorkers(2);

      // starting: the workers wait for the gate
      const starting = await status(bed, sock);
      assert.equal(starting.code, 1, starting.stdout);
      assert.match(starting.stdout, new RegExp(`^not ready: master ${steward.pid} \\(v[^)]+\\) starting, generation 0, 0/2 workers ready$`));
      const startingJson = JSON.parse((await status(bed, sock, "--json")).stdout);
      assert.equal(startingJson.status, "not ready");
      assert.equal(startingJson.exit, 1);

      writeFileSync(gate, "");
      await steward.ready();
      const ready = await status(bed, sock);
      assert.equal(ready.code, 0, ready.stdout);
      assert.match(ready.stdout, new RegExp(`^ready: master ${steward.pid} \\(v[^)]+\\) running, generation 0, 2/2 workers ready$`));
      assert.equal((await status(bed, sock, "--strict")).code, 0);

      // a failed reload: still serving (0), but --strict says 3; `steward reload` says it failed
      bed.write("steward.toml", "[global\nworkers = \n");
      const failed = await bed.run(["reload", "-S", sock]);
      assert.equal(failed.code, 1, `steward reload of a bad file${failed.steward.log()}\n${failed.stdout}`);
      assert.match(failed.stdout, /^Success=0$/m);
      const afterFailure = await status(bed, sock);
      assert.equal(afterFailure.code, 0, afterFailure.stdout);
      assert.match(afterFailure.stdout, /^ready: .*, 2\/2 workers ready, last reload failed: .*syntax error/);
      const strict = await status(bed, sock, "--strict");
      assert.equal(strict.code, 3, strict.stdout);
      assert.match(strict.stdout, /^reload failed: /);
      const strictJson = JSON.parse((await status(bed, sock, "--strict", "--json")).stdout);
      assert.deepEqual([strictJson.status, strictJson.exit, strictJson.workers], ["reload failed", 3, { ready: 2, total: 2 }]);
      assert.match(strictJson.lastReloadFailure, /syntax error/);

      // a good reload: --strict is happy again
      bed.write("steward.toml", config(1));
      const good = await bed.run(["reload", "-S", sock]);
      assert.equal(good.code, 0, `${good.stdout}${good.steward.log()}`);
      assert.match(good.stdout, /^Success=1$/m);
      const after = await status(bed, sock, "--strict");
      assert.equal(after.code, 0, after.stdout);
      assert.match(after.stdout, /^ready: .* running, generation 1, 1\/1 workers ready$/);

      steward.signal("SIGTERM");
      await steward.expectExit(0);
      const gone = await status(bed, sock);
      assert.equal(gone.code, 1, gone.stdout);
      assert.match(gone.stdout, /^not ready: cannot connect to the master CLI at .*master\.sock: /);
      const goneJson = JSON.parse((await status(bed, sock, "--json", "--strict")).stdout);
      assert.deepEqual([goneJson.status, goneJson.exit], ["not ready", 1]);
      assert.match(goneJson.error, /cannot connect/);
    }));

    test("a user-level socket cannot see the processes: exit 1, saying so; no -S is a usage error", e2e(mode, async (bed) => {
      const sock = bed.path("user.sock");
      const steward = bed.startWith(serving(fixture("http-worker.cjs")), "steward.toml", { args: ["-S", `${sock},level,user`] });
      await steward.ready();
      const probe = await status(bed, sock);
      assert.equal(probe.code, 1, probe.stdout);
      assert.match(probe.stdout, /^not ready: the master CLI refused 'show proc' at this level/);
      const usage = await bed.run(["status"]);
      assert.equal(usage.code, 2, usage.steward.log());
      assert.match(usage.stderr, /^steward: option '--master-cli' \(-S\) is required/);
    }));
  });
}
