/**
 * `steward upgrade --url URL --sha256 HEX -S ADDR` (SPEC §5.5), compiled binary only: the
 * new binary is served over HTTP on 127.0.0.1 by the test itself; the master runs from a
 * copy in the test's temp dir, which the upgrade replaces.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildSteward, e2e, exeOf, fixture, installCopy, MODES, serving, stewardCommand } from "./_harness.ts";

const NEW_VERSION = "7.7.7";
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
