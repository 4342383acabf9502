/**
 * Release manifests: which artefact fits which host (upgrade/manifest.ts), how a host is
 * read from /proc text (upgrade/host.ts), and the `upgrade --manifest` and `version --json`
 * command lines.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { type Host, type Manifest, ManifestError, parseManifest, pickArtefact } from "../../src/upgrade/manifest.ts";
import { cpuFlagsOf, libcOf } from "../../src/upgrade/host.ts";
import { runCli } from "../../src/cli/index.ts";

const sha = (c: string) => c.repeat(64);
const V2 = ["sse4_2", "popcnt"];
const V3 = [...V2, "avx", "avx2", "bmi1", "bmi2", "fma", "movbe"];

/** The shape `npm run release` writes (scripts/release.mjs, scripts/targets.mjs). */
const MANIFEST = {
  name: "steward",
  version: "2.0.0",
  buildTime: "2026-11-30T00:00:00.000Z",
  artefacts: [
    { file: "steward-2.0.0-linux-x64", target: "linux-x64", arch: "x64", libc: "glibc", cpu: "x86-64-v3", cpuFlags: V3, size: 10, sha256: sha("1") },
    { file: "steward-2.0.0-linux-x64-baseline", target: "linux-x64-baseline", arch: "x64", libc: "glibc", cpu: "x86-64-v2", cpuFlags: V2, size: 10, sha256: sha("2") },
    { file: "steward-2.0.0-linux-arm64", target: "linux-arm64", arch: "arm64", libc: "glibc", cpu: "armv8-a", cpuFlags: [], size: 10, sha256: sha("3") },
    { file: "steward-2.0.0-linux-x64-musl", target: "linux-x64-musl", arch: "x64", libc: "musl", cpu: "x86-64-v3", cpuFlags: V3, size: 10, sha256: sha("4") },
    { file: "steward-2.0.0-linux-arm64-musl", target: "linux-arm64-musl", arch: "arm64", libc: "musl", cpu: "armv8-a", cpuFlags: [], size: 10, sha256: sha("5") },
  ],
};

const host = (arch: string, libc: "glibc" | "musl", flags: string): Host => ({ arch, libc, cpuFlags: new Set(flags.split(" ").filter(Boolean)) });
const HASWELL = "fpu sse2 sse4_1 sse4_2 popcnt avx avx2 bmi1 bmi2 fma movbe";
const SANDY_BRIDGE = "fpu sse2 sse4_1 sse4_2 popcnt avx";
const CORE2 = "fpu sse2 ssse3";

describe("pickArtefact", () => {
  const cases: [Host, string][] = [
    [host("x64", "glibc", HASWELL), "linux-x64"],
    [host("x64", "glibc", SANDY_BRIDGE), "linux-x64-baseline"],
    [host("x64", "musl", HASWELL), "linux-x64-musl"],
    [host("arm64", "glibc", "fp asimd crc32"), "linux-arm64"],
    [host("arm64", "musl", ""), "linux-arm64-musl"],
  ];
  for (const [h, target] of cases) {
    test(`${h.arch} ${h.libc} ${[...h.cpuFlags].join(" ") || "(no flags)"} -> ${target}, whatever the manifest's order`, () => {
      const manifest = parseManifest(MANIFEST);
      assert.equal(pickArtefact(manifest, h).target, target);
      assert.equal(pickArtefact({ ...manifest, artefacts: [...manifest.artefacts].reverse() }, h).target, target);
    });
  }

  test("no fit: one line with what the host lacks and what the manifest offers", () => {
    const manifest = parseManifest(MANIFEST);
    assert.throws(() => pickArtefact(manifest, host("x64", "musl", SANDY_BRIDGE)), (e: Error) => {
      assert.ok(e instanceof ManifestError);
      assert.match(e.message, /^no artefact fits this host \(x64, musl, avx, no avx2, no bmi1, no bmi2, no fma, no movbe, popcnt, sse4_2\); it has linux-x64 \(x64, glibc, sse4_2, popcnt, avx, avx2, bmi1, bmi2, fma, movbe\); /);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    assert.throws(() => pickArtefact(manifest, host("x64", "glibc", CORE2)), /no avx, no avx2, no bmi1, no bmi2, no fma, no movbe, no popcnt, no sse4_2/);
    assert.throws(() => pickArtefact(manifest, host("riscv64", "glibc", "")), /fits this host \(riscv64, glibc/);
  });

  test("a manifest without the preferred build falls back to one that runs", () => {
    const manifest: Manifest = parseManifest({ ...MANIFEST, artefacts: MANIFEST.artefacts.filter((a) => a.target !== "linux-x64") });
    assert.equal(pickArtefact(manifest, host("x64", "glibc", HASWELL)).target, "linux-x64-baseline");
  });
});

describe("parseManifest", () => {
  const withArtefact = (change: Record<string, unknown>) => ({ ...MANIFEST, artefacts: [{ ...MANIFEST.artefacts[0], ...change }] });
  const refused: [unknown, RegExp][] = [
    [[], /^not a JSON object$/],
    [{ ...MANIFEST, version: 2 }, /^'version' must be a non-empty string$/],
    [{ ...MANIFEST, artefacts: [] }, /^'artefacts' must be a non-empty array$/],
    [withArtefact({ sha256: "abc" }), /^'artefacts\[0\]\.sha256' must be 64 hexadecimal digits \(got 'abc'\)$/],
    [withArtefact({ libc: "uclibc" }), /^'artefacts\[0\]\.libc' must be 'glibc' or 'musl' \(got 'uclibc'\)$/],
    [withArtefact({ file: "../../etc/passwd" }), /^'artefacts\[0\]\.file' must be a bare file name/],
    [withArtefact({ arch: undefined }), /^'artefacts\[0\]\.arch' must be a non-empty string$/],
    [withArtefact({ cpuFlags: "avx2" }), /^'artefacts\[0\]\.cpuFlags' must be an array of strings$/],
    [withArtefact({ size: -1 }), /^'artefacts\[0\]\.size' must be a positive integer$/],
  ];
  for (const [value, message] of refused) {
    test(`refuses: ${message.source}`, () =>
      assert.throws(() => parseManifest(value), (e: Error) => e instanceof ManifestError && message.test(e.message)));
  }

  test("checksums are compared in lower case", () => {
    assert.equal(parseManifest(withArtefact({ sha256: "AB".repeat(32) })).artefacts[0]!.sha256, "ab".repeat(32));
  });
});

describe("the host, from /proc text", () => {
  const GLIBC_MAPS = "7f2c1000-7f2c3000 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6\n7f2c4000-7f2c5000 r--p 00000000 08:01 124 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n";
  const MUSL_MAPS = "7f2c1000-7f2c3000 r-xp 00000000 08:01 123 /usr/lib/libstdc++.so.6.0.32\n7f2c4000-7f2c5000 r-xp 00000000 08:01 124 /lib/ld-musl-aarch64.so.1\n";

  test("libc from the process's own memory map, else from the build's target", () => {
    assert.equal(libcOf(GLIBC_MAPS, "linux-x64-musl"), "glibc");
    assert.equal(libcOf(MUSL_MAPS, "linux-x64"), "musl");
    assert.equal(libcOf("", "linux-arm64-musl"), "musl");
    assert.equal(libcOf(undefined, "linux-arm64-musl"), "musl");
    assert.equal(libcOf(undefined, "linux-x64-baseline"), "glibc");
    assert.equal(libcOf(undefined, null), "glibc");
  });

  test("CPU flags from /proc/cpuinfo, x86 and arm64", () => {
    const x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse4_2 avx2 popcnt\nbugs\t\t: spectre_v1\n\nprocessor\t: 1\nflags\t\t: fpu\n";
    assert.deepEqual([...cpuFlagsOf(x86)], ["fpu", "sse4_2", "avx2", "popcnt"]);
    const arm = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm crc32\nCPU implementer\t: 0x41\n";
    assert.deepEqual([...cpuFlagsOf(arm)], ["fp", "asimd", "evtstrm", "crc32"]);
    assert.equal(cpuFlagsOf(undefined).size, 0);
  });
});

/** Runs the CLI with recording stand-ins. */
async function steward(argv: string[], upgrade?: (request: unknown) => Promise<number>) {
  const out = { code: -1, stdout: [] as string[], stderr: [] as string[] };
  out.code = await runCli(argv, {
    version: "1.2.3",
    env: {},
    cwd: tmpdir(),
    startMaster: () => Promise.resolve(),
    stdout: (line) => out.stdout.push(line),
    stderr: (line) => out.stderr.push(line),
    ...(upgrade ? { upgrade } : {}),
  });
  return out;
}

describe("command lines", () => {
  test("upgrade --manifest URL [-S ADDR]; not with --url or --sha256", async () => {
    const requests: unknown[] = [];
    const upgrade = async (request: unknown) => (requests.push(request), 0);
    assert.equal((await steward(["upgrade", "--manifest", "http://127.0.0.1:8/r/manifest.json", "-S", "/run/a.sock"], upgrade)).code, 0);
    assert.deepEqual(requests, [{ manifest: "http://127.0.0.1:8/r/manifest.json", address: "/run/a.sock" }]);
    const both = await steward(["upgrade", "--manifest", "http://h/m.json", "--sha256", sha("a")], upgrade);
    assert.equal(both.code, 2);
    assert.deepEqual(both.stderr, ["steward: option '--manifest' replaces '--url' and '--sha256': the manifest names the file and its checksum; run 'steward upgrade --help'"]);
    const relative = await steward(["upgrade", "--manifest", "release/manifest.json"], upgrade);
    assert.deepEqual(relative.stderr, ["steward: option '--manifest' must be an absolute URL (got 'release/manifest.json'); run 'steward upgrade --help'"]);
    assert.equal(requests.length, 1);
  });

  test("version --json: version, target and build time (null from source)", async () => {
    const out = await steward(["version", "--json"]);
    assert.equal(out.code, 0);
    assert.deepEqual(out.stdout.map((l) => JSON.parse(l)), [{ version: "1.2.3", target: null, buildTime: null }]);
  });
});
