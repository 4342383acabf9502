/**
 * `@bun` commands (REFERENCE §10): a worker whose command starts with `@bun` runs on the Bun
 * runtime inside steward, with no node, bun or deno on PATH (binary mode: the steward
 * executable with BUN_BE_BUN=1; bun mode: the bun running steward). Under Deno there is
 * no Bun inside: the `bun` on PATH runs it, and without one the command is refused.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, collectPids, reachPid, e2e, expectReloaded, FIXTURES, MODES, ROOT, stewardCommand, toml, type TestBed } from "./_harness.ts";
import { replies, socat } from "./_mcli.ts";
import { environOf } from "./_extra.ts";

const SCRIPT = join(FIXTURES, "bun-listen-worker.ts");

function bunConfig(bed: TestBed, workers: number): { text: string; admin: string } {
  const admin = bed.path("admin.sock");
  const text = `${toml({
    global: { workers, "ready-timeout": "20s" },
    listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }],
    worker: { command: ["@bun", SCRIPT, "--flag"] },
  })}\n[[master-cli]]\nbind = "${admin}"\n`;
  return { text, admin };
}

/** A directory on PATH that holds nothing: no node, bun or deno to be found. */
function emptyPath(bed: TestBed): string {
  const dir = bed.path("empty-bin");
  mkdirSync(dir);
  return dir;
}

/** The Bun version of the runtime steward carries in `mode`. */
function carriedBunVersion(mode: "binary" | "bun"): string {
  const [exe] = stewardCommand(mode);
  return execFileSync(exe!, ["--version"], { env: { BUN_BE_BUN: "1" }, encoding: "utf8" }).trim();
}

for (const mode of MODES) {
  describe(`@bun workers [${mode}]`, () => {
    if (mode === "deno") {
      test("under Deno, '@bun' with no bun on PATH is refused with one line", e2e(mode, async (bed) => {
        const { text } = bunConfig(bed, 1);
        const steward = bed.startWith(text, "steward.toml", { env: { PATH: emptyPath(bed) } });
        const exit = await steward.waitForExit(20_000);
        assert.notEqual(exit.code, 0);
        const line = await steward.waitForLine(/worker\.command: '@bun' runs on the Bun runtime inside a compiled steward; this steward runs on Deno and no 'bun' is in PATH/);
        assert.doesNotMatch(line.line.text, /\n/);
      }));
      test("under Deno, steward check refuses '@bun' with no bun on PATH, and accepts it with one", e2e(mode, async (bed) => {
        const file = bed.write("steward.toml", bunConfig(bed, 1).text);
        const refused = await bed.run(["check", "-f", file], { env: { PATH: emptyPath(bed) } });
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(refused.stderr, /worker\.command: '@bun' runs on the Bun runtime inside a compiled steward/);
        const accepted = await bed.run(["check", "-f", file], { env: { PATH: join(ROOT, "node_modules", ".bin") } });
        assert.equal(accepted.code, 0, accepted.stderr);
      }));
      test("under Deno, '@bun' runs on the bun found on PATH", e2e(mode, async (bed) => {
        const { text } = bunConfig(bed, 1);
        const steward = bed.startWith(text, "steward.toml", { env: { PATH: join(ROOT, "node_modules", ".bin") } });
        const http = await steward.listener("http");
        await steward.ready();
        const report = await ask(http.url) as unknown as { bun: string; env: Record<string, string> };
        assert.match(report.bun, /^\d+\.\d+\.\d+/);
        assert.equal(report.env.BUN_BE_BUN, undefined, "a real bun needs no BUN_BE_BUN");
      }));
      return;
    }

    test("steward check accepts '@bun' commands with no bun on PATH (the runtime steward carries)", e2e(mode, async (bed) => {
      const file = bed.write("steward.toml", bunConfig(bed, 1).text);
      const result = await bed.run(["check", "-f", file], { env: { PATH: emptyPath(bed) } });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Configuration file is valid/);
    }));

    test("a TypeScript worker serves with no node, bun or deno on PATH; show proc shows its runtime; reloads keep steward steward", e2e(mode, async (bed) => {
      const { text, admin } = bunConfig(bed, 2);
      const steward = bed.startWith(text, "steward.toml", { env: { PATH: emptyPath(bed) } });
      const http = await steward.listener("http");
      await steward.ready();
      const workers = await steward.waitForWorkers(2);
      const byPid = await collectPids(http.url, 2);
      assert.deepEqual([...byPid.keys()].sort(), workers.map((w) => w.pid).sort(), `both @bun workers answer${steward.log()}`);
      const version = carriedBunVersion(mode);
      for (const report of byPid.values()) {
        const r = report as unknown as { bun: string; argv: string[]; env: Record<string, string> };
        assert.equal(r.bun, version, "the worker runs on the Bun steward carries");
        assert.deepEqual(r.argv, ["--flag"], "the arguments after the script reach it");
        // the compiled executable is bun only where asked: in the worker, through BUN_BE_BUN
        assert.equal(r.env.BUN_BE_BUN, mode === "binary" ? "1" : undefined);
      }
      assert.equal(environOf(steward.pid)?.BUN_BE_BUN, undefined, "the master's own environment has no BUN_BE_BUN");

      const [reply] = replies((await socat(admin, "show proc json\n")).stdout);
      const shown = (JSON.parse(reply!) as { workers: Array<{ pid: number; runtime?: string }> }).workers;
      assert.deepEqual(shown.map((w) => w.runtime), [`bun ${version}`, `bun ${version}`], reply ?? "");
      const table = (await socat(admin, "show proc\n")).stdout;
      assert.match(table, new RegExp(`\\n${workers[0]!.pid} +worker .*\\[bun ${version.replaceAll(".", "\\.")}\\]`), table);

      // the master re-executes itself as steward (not as bun) and starts @bun workers again
      const outcome = await expectReloaded(steward);
      assert.equal(outcome.started.length, 2);
      for (const worker of outcome.started) assert.equal((await reachPid(http.url, worker.pid)).pid, worker.pid);
      assert.equal(environOf(steward.pid)?.BUN_BE_BUN, undefined);
    }));
  });
}
