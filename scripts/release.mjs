#!/usr/bin/env node
// `npm run release`: builds steward for every Linux target (scripts/targets.mjs) into
// dist/release/ as steward-<version>-<target>, with SHA256SUMS (as `sha256sum -c` reads it)
// and manifest.json, which `steward upgrade --manifest URL` reads (src/upgrade/manifest.ts).
// Each target's Bun runtime comes from the npm registry the first time and is cached
// (BUN_INSTALL_CACHE_DIR, default ~/.bun/install/cache). STEWARD_RELEASE_TARGETS (comma
// separated) builds only some; STEWARD_BUILD_VERSION stamps another version;
// STEWARD_RELEASE_DIR writes elsewhere than dist/release.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hostTarget, TARGETS } from "./targets.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const version = process.env.STEWARD_BUILD_VERSION || pkg.version;
const outDir = process.env.STEWARD_RELEASE_DIR || join(root, "dist", "release");
const buildTime = new Date().toISOString();
const names = process.env.STEWARD_RELEASE_TARGETS ? process.env.STEWARD_RELEASE_TARGETS.split(",").map((t) => t.trim()) : Object.keys(TARGETS);
for (const name of names) {
  if (!(name in TARGETS)) {
    console.error(`STEWARD_RELEASE_TARGETS: unknown target '${name}' (known: ${Object.keys(TARGETS).join(", ")})`);
    process.exit(2);
  }
}

/** ELF e_machine (offset 18, little-endian) of each architecture: a wrong runtime is caught here, not on a host. */
const ELF_MACHINE = { x64: 0x3e, arm64: 0xb7 };

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const artefacts = [];
const started = performance.now();
for (const target of names) {
  const { arch, libc, cpu, cpuFlags } = TARGETS[target];
  const file = `steward-${version}-${target}`;
  const path = join(outDir, file);
  const t0 = performance.now();
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      STEWARD_BUILD_ONLY_BINARY: "1",
      STEWARD_BUILD_TARGET: target,
      STEWARD_BUILD_VERSION: version,
      STEWARD_BUILD_TIME: buildTime,
      STEWARD_BUILD_OUTFILE: path,
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const bytes = readFileSync(path);
  if (bytes.readUInt16LE(18) !== ELF_MACHINE[arch]) throw new Error(`${file}: not an ELF executable for ${arch}`);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  artefacts.push({ file, target, arch, libc, cpu, cpuFlags, size: statSync(path).size, sha256, seconds });
}

// The artefact this machine can run says which target it is.
const own = artefacts.find((a) => a.target === hostTarget());
if (own) {
  const reported = JSON.parse(execFileSync(join(outDir, own.file), ["version", "--json"], { encoding: "utf8" }));
  if (reported.target !== own.target || reported.version !== version) {
    throw new Error(`${own.file} says ${JSON.stringify(reported)}, expected version ${version}, target ${own.target}`);
  }
}

writeFileSync(join(outDir, "SHA256SUMS"), artefacts.map((a) => `${a.sha256}  ${a.file}\n`).join(""));
const manifest = { name: "steward", version, buildTime, artefacts: artefacts.map(({ seconds: _, ...a }) => a) };
writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");

const mib = (n) => (n / 1048576).toFixed(1);
for (const a of artefacts) console.log(`${a.file.padEnd(40)} ${mib(a.size).padStart(6)} MiB  ${a.seconds.toFixed(1).padStart(5)} s`);
console.log(`${artefacts.length} artefacts, SHA256SUMS and manifest.json in ${outDir} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
