// The preflight's handshake: only a steward that computes the proof for this format and
// nonce passes; what the child prints, and how it reads the older form without a nonce.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkArgs, isNonce, newNonce, proofLine, proofOf, readAnswer } from "../../src/master/handshake.ts";
import { runPreflightChild } from "../../src/cli/preflight-child.ts";
import { HANDOVER_FORMAT } from "../../src/master/handover.ts";
import type { CliDeps } from "../../src/cli/deps.ts";
import type { RunOptions } from "../../src/master/options.ts";

const OPTIONS = { config: { worker: { command: ["x"] } }, logLevel: 3, systemd: false, daemon: false, args: ["run", "-f", "a.toml"] };

describe("handshake", () => {
  test("the proof depends on the format and the nonce; a version line or another nonce's proof is no answer", async () => {
    const nonce = newNonce();
    assert.ok(isNonce(nonce) && nonce !== newNonce());
    assert.notEqual(await proofOf(1, nonce), await proofOf(2, nonce));
    assert.notEqual(await proofOf(1, nonce), await proofOf(1, newNonce()));
    assert.deepEqual(await readAnswer(["7.7.7"], 1, nonce), { ok: false });
    assert.deepEqual(await readAnswer([await proofLine(1, newNonce(), OPTIONS)], 1, nonce), { ok: false });
    assert.deepEqual(await readAnswer([await proofLine(2, nonce, OPTIONS)], 1, nonce), { ok: false });
    assert.deepEqual(await readAnswer(["noise", await proofLine(1, nonce, OPTIONS)], 1, nonce), { ok: true, options: OPTIONS });
    assert.deepEqual(checkArgs(["-f", "a.toml"], 1, nonce), ["__preflight", "1", nonce, "run", "--check", "-f", "a.toml"]);
  });
});

describe("the preflight child", () => {
  function child() {
    const calls: string[][] = [];
    const out: string[] = [];
    const err: string[] = [];
    const runCli = async (args: string[], deps: CliDeps) => {
      calls.push(args);
      if (args.includes("bad.toml")) {
        deps.stderr("bad.toml:1: x: unknown key");
        return 1;
      }
      if (!args.includes("--check")) await deps.startMaster(OPTIONS as unknown as RunOptions);
      return 0;
    };
    return { calls, out, err, deps: { version: "1.0.0", env: {}, cwd: "/", runCli, stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) } };
  }

  test("with a nonce: runs `run ARGS` up to the master's start and prints the proof with the options", async () => {
    const c = child();
    const nonce = newNonce();
    assert.equal(await runPreflightChild([String(HANDOVER_FORMAT), nonce, "run", "--check", "-f", "a.toml"], c.deps), 0);
    assert.deepEqual(c.calls, [["run", "-f", "a.toml"]]);
    assert.deepEqual(await readAnswer(c.out, HANDOVER_FORMAT, nonce), { ok: true, options: OPTIONS });
  });

  test("a bad configuration: its exit code and lines, no proof", async () => {
    const c = child();
    assert.equal(await runPreflightChild([String(HANDOVER_FORMAT), newNonce(), "run", "--check", "-f", "bad.toml"], c.deps), 1);
    assert.deepEqual(c.out, []);
    assert.deepEqual(c.err, ["bad.toml:1: x: unknown key"]);
  });

  test("a state format it cannot read: exit 3; the older form without a nonce runs the check as given", async () => {
    const c = child();
    assert.equal(await runPreflightChild(["999", newNonce(), "run", "--check"], c.deps), 3);
    assert.match(c.err[0] ?? "", /cannot take over a master's state of format 999/);
    assert.equal(await runPreflightChild([String(HANDOVER_FORMAT), "run", "--check", "-f", "a.toml"], c.deps), 0);
    assert.deepEqual(c.calls, [["run", "--check", "-f", "a.toml"]]);
    assert.deepEqual(c.out, []);
  });
});
