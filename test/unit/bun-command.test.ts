/**
 * `@bun` commands (src/workers/bun-command.ts) and how BUN_BE_BUN reaches only the final
 * exec (src/workers/plan.ts): the shim, which is steward itself, never sees it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { bunVersionOf, resolveRunnable } from "../../src/workers/bun-command.ts";
import { inheritedEnv, shimSpawnRequest, EXEC_PLAN_VAR, type ExecPlan } from "../../src/workers/plan.ts";
import { helperSpawnRequest } from "../../src/workers/native-shim.ts";

const CARRIED = { path: "/opt/steward", env: { BUN_BE_BUN: "1" }, version: "1.4.5" };

describe("@bun commands", () => {
  test("run on the carried runtime, with its variables for the exec only", () => {
    const r = resolveRunnable(["@bun", "server.ts", "--port", "1"], "/nowhere", "/", CARRIED);
    assert.ok(!("error" in r));
    assert.equal(r.path, "/opt/steward");
    assert.deepEqual(r.argv, ["@bun", "server.ts", "--port", "1"]);
    assert.deepEqual(r.execEnv, { BUN_BE_BUN: "1" });
    assert.match(r.runtime!(), /^bun /);
  });

  test("a bun other than the master's own is asked its version (once per file), with the exec's variables", () => {
    const dir = mkdtempSync("/tmp/stw-unit-");
    try {
      const bun = `${dir}/bun`;
      writeFileSync(bun, '#!/bin/sh\necho "9.9.$ASKED_MINOR"\n');
      chmodSync(bun, 0o755);
      assert.equal(bunVersionOf(bun, { ASKED_MINOR: "7" }, CARRIED, undefined), "bun 9.9.7");
      assert.equal(bunVersionOf(bun, { ASKED_MINOR: "8" }, CARRIED, undefined), "bun 9.9.7", "the same file is asked once");
      assert.equal(bunVersionOf(`${dir}/missing`, {}, CARRIED, undefined), "bun ?");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("a bare @bun is refused with one line", () => {
    const r = resolveRunnable(["@bun"], "/nowhere", "/", CARRIED);
    assert.deepEqual(r, { error: `'@bun' needs a script to run (e.g. ["@bun", "server.ts"])` });
  });

  test("with no runtime carried (Deno), a bun on PATH runs it, else one line", () => {
    const empty = mkdtempSync("/tmp/stw-unit-");
    try {
      const r = resolveRunnable(["@bun", "server.ts"], empty, "/", undefined);
      assert.ok("error" in r);
      assert.match(r.error, /this steward runs on Deno and no 'bun' is in PATH/);
      assert.doesNotMatch(r.error, /\n/);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  test("other commands resolve as before", () => {
    const r = resolveRunnable(["sh", "-c", "true"], "/usr/bin:/bin", "/", CARRIED);
    assert.ok(!("error" in r));
    assert.match(r.path, /\/sh$/);
    assert.equal(r.execEnv, undefined);
  });
});

describe("BUN_BE_BUN and the exec shim", () => {
  const self = { path: "/opt/steward", prefix: [] };
  const child = (env: Record<string, string>, execEnv?: Record<string, string>) => ({
    label: "worker 1", path: "/opt/steward", argv: ["@bun", "a.ts"], env, fds: [], ...(execEnv ? { execEnv } : {}),
  });

  test("is never in the shim's environment, and reaches the final exec", () => {
    for (const c of [child({ A: "1" }, { BUN_BE_BUN: "1" }), child({ A: "1", BUN_BE_BUN: "1" })]) {
      const req = shimSpawnRequest(self, c, 1, 9);
      assert.equal(req.env.BUN_BE_BUN, undefined);
      assert.equal(req.env.A, "1");
      const plan = JSON.parse(req.env[EXEC_PLAN_VAR]!) as ExecPlan;
      assert.deepEqual(plan.execEnv, { BUN_BE_BUN: "1" });
    }
  });

  test("the native helper (not steward) passes them on in its own environment", () => {
    const req = helperSpawnRequest(9, child({ A: "1" }, { BUN_BE_BUN: "1" }), 1, 9);
    assert.deepEqual(req.env, { A: "1", BUN_BE_BUN: "1" });
    assert.deepEqual(helperSpawnRequest(9, child({ A: "1" }), 1, 9).env, { A: "1" });
  });

  test("a plain command has no exec-only variables", () => {
    const plan = JSON.parse(shimSpawnRequest(self, child({ A: "1" }), 1, 9).env[EXEC_PLAN_VAR]!) as ExecPlan;
    assert.equal(plan.execEnv, undefined);
  });

  test("the master's own BUN_BE_BUN is not inherited", () => {
    assert.deepEqual(inheritedEnv({ BUN_BE_BUN: "1", HOME: "/root" }), { HOME: "/root" });
  });
});
