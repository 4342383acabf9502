/**
 * `steward upgrade --url URL --sha256 HEX -S ADDR` (REFERENCE §5.5), compiled binary only: the
 * new binary is served over HTTP on 127.0.0.1 by the test itself; the master runs from a
 * copy in the test's temp dir, which the upgrade replaces.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildSteward, e2e, exeOf, expectServedBy, fixture, installCopy, MODES, serving, stewardCommand, workersOf } from "./_harness.ts";

const NEW_VERSION = "7.7.7";
/** Answers every command line with exit 0, and `version` (or anything) with a version. */
const ANSWERS_EVERYTHING = "#!/bin/sh\necho 7.7.7\nexit 0\n";
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

if (MODES.includes("binary")) {
  describe("steward upgrade [binary]", () => {
    let buildDir = "";
    let newBinary = "";
    let server: Server;
    let url = "";

    before(async () => {
      buildDir = mkdtempSync("/tmp/stw-upgrade-");
      newBinary = await buildSteward(NEW_VERSION, join(buildDir, "steward"));
      const bytes = readFileSync(newBinary);
      server = createServer((req, res) => {
        if (req.url === "/steward") res.end(bytes);
        else if (req.url === "/fake") res.end(ANSWERS_EVERYTHING);
        else res.writeHead(404).end("not found");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      // the build first: close() waits for keep-alive connections, which may outlive the run
      if (buildDir) rmSync(buildDir, { recursive: true, force: true });
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    });

    test("downloads, verifies, installs over the running binary and reloads: same PID, new version", e2e("binary", async (bed) => {
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const sock = bed.path("master.sock");
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1 }), "steward.toml", { command: [exe], args: ["-S", sock] });
      await steward.ready();
      const master = steward.pid;

      const r = await bed.run(["upgrade", "--url", `${url}/steward`, "--sha256", sha256(newBinary), "-S", sock], { command: [exe], timeoutMs: 60_000 });
      assert.equal(r.code, 0, `upgrade exit code\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^Success=1\n--\n/, r.stdout);
      assert.match(r.stderr, new RegExp(`installed version ${NEW_VERSION.replace(/\./g, "\\.")} at `));
      assert.equal(sha256(exe), sha256(newBinary), "the new file is in place");
      assert.equal(exeOf(master), exe, "the master runs the new file");
      await steward.waitForLine(new RegExp(`\\(${master}\\) : Master re-executed \\(version 7\\.7\\.7\\)`), 5_000);
    }));

    test("run from a copy at another path: the master's executable is replaced, not the copy", e2e("binary", async (bed) => {
      mkdirSync(bed.path("master"));
      mkdirSync(bed.path("tool"));
      const exe = bed.path("master/steward");
      const tool = bed.path("tool/steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      installCopy(stewardCommand("binary")[0]!, tool);
      const before = sha256(tool);
      const sock = bed.path("master.sock");
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1 }), "steward.toml", { command: [exe], args: ["-S", sock] });
      await steward.ready();
      const master = steward.pid;

      const r = await bed.run(["upgrade", "--url", `${url}/steward`, "--sha256", sha256(newBinary), "-S", sock], { command: [tool], timeoutMs: 60_000 });
      assert.equal(r.code, 0, `upgrade exit code\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^Success=1\n--\n/, r.stdout);
      assert.ok(r.stderr.includes(`installed version ${NEW_VERSION} at ${exe}`), r.stderr);
      assert.equal(sha256(exe), sha256(newBinary), "the master's executable is the new file");
      assert.equal(sha256(tool), before, "the copy the upgrade ran from is untouched");
      assert.equal(exeOf(master), exe, "the master runs its own path, now the new file");
      await steward.waitForLine(new RegExp(`\\(${master}\\) : Master re-executed \\(version 7\\.7\\.7\\)`), 5_000);
    }));

    test("a file that answers exit 0 and a version to everything is refused by the preflight: the old binary and the service stay", e2e("binary", async (bed) => {
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const before = sha256(exe);
      const sock = bed.path("master.sock");
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1 }), "steward.toml", { command: [exe], args: ["-S", sock] });
      await steward.ready();
      const http = await steward.listener("http");
      const gen0 = workersOf(steward, 0);

      const r = await bed.run(["upgrade", "--url", `${url}/fake`, "--sha256", createHash("sha256").update(ANSWERS_EVERYTHING).digest("hex"), "-S", sock], {
        command: [exe],
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^Success=0\n--\n/, r.stdout);
      assert.match(r.stderr, /the reload failed; the previous binary is back/);
      assert.equal(sha256(exe), before, "the previous binary is back");
      assert.ok(
        steward.lines.some((l) => /Reload failed: preflight of \S+ exited 0 without answering the handshake/.test(l.text)),
        steward.log(),
      );
      assert.ok(!steward.lines.some((l) => /Master re-executed/.test(l.text)), steward.log());
      assert.equal(steward.exit, undefined, steward.log());
      await expectServedBy(http.url, gen0.map((w) => w.pid), 0, () => steward.log());
    }));

    test("a wrong checksum or a failed download changes nothing", e2e("binary", async (bed) => {
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const before = sha256(exe);
      const bad = await bed.run(["upgrade", "--url", `${url}/steward`, "--sha256", "0".repeat(64)], { command: [exe], timeoutMs: 60_000 });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /upgrade failed: checksum mismatch/);
      const missing = await bed.run(["upgrade", "--url", `${url}/nothing`, "--sha256", "0".repeat(64)], { command: [exe], timeoutMs: 60_000 });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /upgrade failed: cannot download/);
      assert.equal(sha256(exe), before, "the binary is untouched");
    }));

    test("a reload that fails puts the previous binary back and leaves the service as it was", e2e("binary", async (bed) => {
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const before = sha256(exe);
      const sock = bed.path("master.sock");
      const config = bed.path("steward.toml");
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1 }), "steward.toml", { command: [exe], args: ["-S", sock] });
      await steward.ready();
      writeFileSync(config, "[global]\nworkerz = 1\n"); // the new binary's check refuses this
      const r = await bed.run(["upgrade", "--url", `${url}/steward`, "--sha256", sha256(newBinary), "-S", sock], { command: [exe], timeoutMs: 60_000 });
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^Success=0\n--\n/);
      assert.match(r.stderr, /the reload failed; the previous binary is back/);
      assert.equal(sha256(exe), before, "the previous binary is back");
      // the master kept running its own image: same PID, no re-exec happened
      process.kill(steward.pid, 0);
      assert.ok(!steward.lines.some((l) => /Master re-executed/.test(l.text)), steward.log());
      assert.ok(steward.lines.some((l) => /Reload failed/.test(l.text)), steward.log());
    }));
  });
}
