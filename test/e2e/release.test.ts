/**
 * Release artefacts (REFERENCE §5.5): `steward version --json` in every mode, and
 * scripts/release.mjs building one extra target, arm64 (five would cost CI a minute and
 * 500 MB), whose `version` and `check` run under qemu-aarch64 (Debian `qemu-user`) with
 * the arm64 C library of Debian's `libc6-arm64-cross` as the loader's root.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { e2e, fixture, MODES, NODE, ROOT } from "./_harness.ts";
import { hostTarget } from "../../scripts/targets.mjs";
import { parseManifest } from "../../src/upgrade/manifest.ts";

const run = promisify(execFile);
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
/** Where Debian's libc6-arm64-cross puts the arm64 loader and C library. */
const ARM64_ROOT = "/usr/aarch64-linux-gnu";

for (const mode of MODES) {
  describe(`version --json [${mode}]`, () => {
    test("version, target and build time: the binary's target is this host's, from source there is none", e2e(mode, async (bed) => {
      const r = await bed.run(["version", "--json"]);
      assert.equal(r.code, 0, r.steward.log());
      const info = JSON.parse(r.stdout) as { version: string; target: string | null; buildTime: string | null };
      assert.equal(info.version, VERSION);
      if (mode === "binary") {
        assert.equal(info.target, hostTarget());
        assert.ok(info.buildTime !== null && !Number.isNaN(Date.parse(info.buildTime)), `build time ${info.buildTime}`);
      } else {
        assert.deepEqual([info.target, info.buildTime], [null, null]);
      }
    }));
  });
}

if (MODES.includes("binary")) {
  describe("npm run release, the arm64 artefact [binary]", () => {
    test("SHA256SUMS and manifest.json describe it; it runs `version` and `check` under qemu-aarch64", async () => {
      assert.ok(
        existsSync(join(ARM64_ROOT, "lib", "ld-linux-aarch64.so.1")),
        `${ARM64_ROOT}/lib/ld-linux-aarch64.so.1 is missing: install the Debian package libc6-arm64-cross (qemu-aarch64 needs the arm64 loader)`,
      );
      const dir = mkdtempSync("/tmp/stw-release-");
      try {
        await run(NODE, [join(ROOT, "scripts", "release.mjs")], {
          cwd: ROOT,
          env: { ...process.env, STEWARD_RELEASE_TARGETS: "linux-arm64", STEWARD_RELEASE_DIR: dir, STEWARD_BUILD_VERSION: "6.6.6" },
          timeout: 300_000,
        });
        const file = "steward-6.6.6-linux-arm64";
        const artefact = join(dir, file);

        // coreutils reads SHA256SUMS as written
        const sums = await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: dir });
        assert.equal(sums.stdout, `${file}: OK\n`);
        const manifest = parseManifest(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
        assert.equal(manifest.version, "6.6.6");
        assert.equal(manifest.artefacts.length, 1);
        const [entry] = manifest.artefacts;
        assert.deepEqual({ ...entry, sha256: undefined }, {
          file,
          target: "linux-arm64",
          arch: "arm64",
          libc: "glibc",
          cpu: "armv8-a",
          cpuFlags: [],
          size: statSync(artefact).size,
          sha256: undefined,
        });

        const qemu = (args: string[]) => run("qemu-aarch64", ["-L", ARM64_ROOT, artefact, ...args], { timeout: 120_000 });
        const version = JSON.parse((await qemu(["version", "--json"])).stdout) as Record<string, unknown>;
        assert.deepEqual({ ...version, buildTime: typeof version.buildTime }, { version: "6.6.6", target: "linux-arm64", buildTime: "string" });
        // the CLI and the configuration checks run too, not only a print
        const check = await qemu(["check", "-l", "http=tcp://127.0.0.1:0", "--", ...fixture("http-worker.cjs")]);
        assert.match(check.stdout, /Configuration file is valid/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
