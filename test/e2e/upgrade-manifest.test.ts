/**
 * `steward upgrade --manifest URL -S ADDR` (REFERENCE §5.5), compiled binary only: a release
 * manifest served on 127.0.0.1 lists one artefact per release target. The entry for this
 * host is a real build of another version; the others are small files of their own (with
 * their true checksums), so installing any of them would fail or show. The master runs from
 * a copy in the test's temp dir, which the upgrade replaces.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildSteward, e2e, exeOf, fixture, installCopy, MODES, serving, stewardCommand } from "./_harness.ts";
// The release's own table of targets and the build script's idea of this host.
import { hostTarget, TARGETS } from "../../scripts/targets.mjs";

const NEW_VERSION = "8.8.8";
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** manifest.json as `npm run release` writes it, for the given files (target -> bytes). */
function manifestOf(version: string, files: Map<string, Uint8Array>, shaOf = (_target: string, bytes: Uint8Array) => sha256(bytes)) {
  const targets: Record<string, (typeof TARGETS)[keyof typeof TARGETS]> = TARGETS;
  return {
    name: "steward",
    version,
    buildTime: new Date().toISOString(),
    artefacts: [...files].map(([target, bytes]) => ({
      file: `steward-${version}-${target}`,
      target,
      ...targets[target],
      size: bytes.length,
      sha256: shaOf(target, bytes),
    })),
  };
}

if (MODES.includes("binary")) {
  describe("steward upgrade --manifest [binary]", () => {
    const here = hostTarget();
    let buildDir = "";
    let realBuild = new Uint8Array();
    let server: Server;
    let url = "";
    /** path -> body, per test */
    const served = new Map<string, Uint8Array | string>();
    const requested: string[] = [];

    /** Serves a release at /NAME/: its manifest and its files. */
    const publish = (name: string, manifest: ReturnType<typeof manifestOf>, files: Map<string, Uint8Array>) => {
      served.set(`/${name}/manifest.json`, JSON.stringify(manifest));
      for (const [target, bytes] of files) served.set(`/${name}/steward-${manifest.version}-${target}`, bytes);
      return `${url}/${name}/manifest.json`;
    };
    /** One artefact per release target: the real build for this host, a small file of its own for the others. */
    const release = () => new Map(Object.keys(TARGETS).map((t) => [t, t === here ? realBuild : new TextEncoder().encode(`not steward: ${t}\n`)]));

    before(async () => {
      buildDir = mkdtempSync("/tmp/stw-upgrade-manifest-");
      realBuild = readFileSync(await buildSteward(NEW_VERSION, join(buildDir, "steward")));
      server = createServer((req, res) => {
        requested.push(req.url ?? "");
        const body = served.get(req.url ?? "");
        if (body === undefined) res.writeHead(404).end("not found");
        else res.end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise((resolve) => server?.close(resolve));
      if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    });

    test("picks this host's artefact, verifies it, installs it and the master re-executes into it", e2e("binary", async (bed) => {
      const manifestUrl = publish("good", manifestOf(NEW_VERSION, release()), release());
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const sock = bed.path("master.sock");
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1 }), "steward.toml", { command: [exe], args: ["-S", sock] });
      await steward.ready();
      const master = steward.pid;
      requested.length = 0;

      const r = await bed.run(["upgrade", "--manifest", manifestUrl, "-S", sock], { command: [exe], timeoutMs: 60_000 });
      assert.equal(r.code, 0, `upgrade exit code\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`steward-8\\.8\\.8-${here} \\(version 8\\.8\\.8, ${here}\\) fits this host`));
      assert.match(r.stdout, /^Success=1\n--\n/, r.stdout);
      assert.deepEqual(requested, ["/good/manifest.json", `/good/steward-8.8.8-${here}`], "only the manifest and this host's file are fetched");
      assert.equal(sha256(readFileSync(exe)), sha256(realBuild), "this host's artefact is in place");
      assert.equal(exeOf(master), exe, "the master runs the new file");
      await steward.waitForLine(new RegExp(`\\(${master}\\) : Master re-executed \\(version 8\\.8\\.8\\)`), 5_000);
      const version = await bed.run(["version", "--json"], { command: [exe] });
      assert.equal(JSON.parse(version.stdout).target, here, "the installed binary says which target it is");
    }));

    test("a checksum that does not match is refused in one line; nothing changes", e2e("binary", async (bed) => {
      const files = release();
      const wrong = sha256(new TextEncoder().encode("something else"));
      const manifestUrl = publish("tampered", manifestOf(NEW_VERSION, files, (t, bytes) => (t === here ? wrong : sha256(bytes))), files);
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const before = sha256(readFileSync(exe));
      const sock = bed.path("master.sock");
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 1 }), "steward.toml", { command: [exe], args: ["-S", sock] });
      await steward.ready();

      const r = await bed.run(["upgrade", "--manifest", manifestUrl, "-S", sock], { command: [exe], timeoutMs: 60_000 });
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stdout, "");
      const failures = r.stderr.split("\n").filter((l) => /upgrade failed/.test(l));
      assert.equal(failures.length, 1, r.stderr);
      assert.match(failures[0]!, new RegExp(`^steward: upgrade failed: checksum mismatch for ${url}/tampered/steward-8\\.8\\.8-${here}: expected ${wrong}, got ${sha256(realBuild)}$`));
      assert.equal(sha256(readFileSync(exe)), before, "the binary is untouched");
      process.kill(steward.pid, 0);
      assert.ok(!steward.lines.some((l) => /Master re-executed|Reload/.test(l.text)), steward.log());
    }));

    test("a manifest with nothing for this host, or that is not one, is refused in one line", e2e("binary", async (bed) => {
      const others = new Map([...release()].filter(([t]) => TARGETS[t as keyof typeof TARGETS].arch !== process.arch));
      const foreign = publish("foreign", manifestOf(NEW_VERSION, others), others);
      served.set("/broken/manifest.json", JSON.stringify({ version: NEW_VERSION, artefacts: [{ file: "x" }] }));
      const exe = bed.path("steward");
      installCopy(stewardCommand("binary")[0]!, exe);
      const before = sha256(readFileSync(exe));

      const none = await bed.run(["upgrade", "--manifest", foreign], { command: [exe], timeoutMs: 60_000 });
      assert.equal(none.code, 1);
      assert.match(none.stderr.trim(), new RegExp(`^steward: upgrade failed: no artefact fits this host \\(${process.arch}, glibc[^)]*\\); it has [^\\n]*$`));
      const broken = await bed.run(["upgrade", "--manifest", `${url}/broken/manifest.json`], { command: [exe], timeoutMs: 60_000 });
      assert.equal(broken.code, 1);
      assert.match(broken.stderr.trim(), /^steward: upgrade failed: the manifest \S+ is not a steward release manifest: 'artefacts\[0\]\.libc' must be a non-empty string$/);
      const missing = await bed.run(["upgrade", "--manifest", `${url}/nothing/manifest.json`], { command: [exe], timeoutMs: 60_000 });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr.trim(), /^steward: upgrade failed: cannot download the manifest \S+: /);
      assert.equal(sha256(readFileSync(exe)), before, "the binary is untouched");
    }));
  });
}
