// `steward upgrade`: which file it would replace, and the one-line refusals, before any download.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { upgrade, type UpgradeDeps } from "../../src/upgrade/install.ts";

const dir = mkdtempSync(join(tmpdir(), "steward-upgrade-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const runtimeFile = join(dir, "deno");
writeFileSync(runtimeFile, "a runtime, not steward");
const self = join(dir, "steward");
writeFileSync(self, "this copy");

/** Records what was asked and written; the master answers `show proc json` with `master`. */
function deps(master: unknown, compiled = true) {
  const asked: string[] = [];
  const stderr: string[] = [];
  const d: UpgradeDeps = {
    self,
    compiled,
    pid: 4242,
    ask: (_address, line) => {
      asked.push(line);
      if (master instanceof Error) return Promise.reject(master);
      return Promise.resolve(`${JSON.stringify({ master, workers: [], oldWorkers: [], programs: [] })}\n`);
    },
    stdout: () => {},
    stderr: (line) => stderr.push(line),
  };
  return { d, asked, stderr };
}

const request = { url: "http://127.0.0.1:9/steward", sha256: "0".repeat(64), address: "/run/app.sock" };

describe("steward upgrade -S: the master's executable or a refusal", () => {
  test("a master running from source is refused with one line; nothing is downloaded or written", async () => {
    const { d, asked, stderr } = deps({ pid: 1, exe: runtimeFile, compiled: false });
    assert.equal(await upgrade(request, d), 1);
    assert.deepEqual(asked, ["show proc json"]);
    assert.deepEqual(stderr, [`steward: upgrade failed: the master at /run/app.sock runs from source on ${runtimeFile}: there is no steward executable to replace`]);
    assert.deepEqual(readdirSync(dir).sort(), ["deno", "steward"]);
  });

  test("a master that does not report its executable (an older steward) is refused", async () => {
    const { d, stderr } = deps({ pid: 1, version: "0.1.0" });
    assert.equal(await upgrade(request, d), 1);
    assert.match(stderr.join("\n"), /^steward: upgrade failed: the master at \/run\/app\.sock does not say which executable it runs/);
    assert.equal(stderr.length, 1);
  });

  test("an unreachable master is one line", async () => {
    const { d, stderr } = deps(new Error("connect ENOENT /run/app.sock"));
    assert.equal(await upgrade(request, d), 1);
    assert.deepEqual(stderr, ["steward: upgrade failed: cannot ask the master at /run/app.sock for its executable: connect ENOENT /run/app.sock"]);
  });

  test("a master that reports a compiled executable is accepted: the upgrade goes on to the download", async () => {
    const target = join(dir, "elsewhere-steward");
    writeFileSync(target, "the master's file");
    const { d, stderr } = deps({ pid: 1, exe: target, compiled: true });
    // nothing listens on port 9: the download fails after the target was chosen
    assert.equal(await upgrade(request, d), 1);
    assert.match(stderr.join("\n"), /^steward: upgrade failed: cannot download http:\/\/127\.0\.0\.1:9\/steward/);
    assert.deepEqual(readdirSync(dir).sort(), ["deno", "elsewhere-steward", "steward"]);
  });

  test("without -S, from source: refused", async () => {
    const { d, asked, stderr } = deps({}, false);
    assert.equal(await upgrade({ url: request.url, sha256: request.sha256 }, d), 1);
    assert.deepEqual(asked, []);
    assert.deepEqual(stderr, ["steward: upgrade failed: upgrade replaces the compiled executable; from source (bun/deno) there is none to replace"]);
  });
});
