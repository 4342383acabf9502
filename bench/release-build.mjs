// `npm run release` (all five Linux targets) cold and cached, alternated: cold builds with
// an empty Bun cache of its own (every runtime but the host's fetched from the npm registry),
// cached ones with a cache filled beforehand. Prints the median total and per-target times
// (min–max) and each artefact's size. Writes only to temporary directories it removes.
// Usage: node bench/release-build.mjs [runs=3]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "./_lib.mjs";

const runs = Number(process.argv[2] ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;

/** One release into a temporary directory; per-target seconds (from release.mjs's table), total seconds, manifest. */
function release(cacheDir) {
  const out = mkdtempSync(join(tmpdir(), "steward-bench-release-"));
  try {
    const t0 = performance.now();
    const text = execFileSync(process.execPath, [join(root, "scripts", "release.mjs")], {
      cwd: root,
      env: { ...process.env, BUN_INSTALL_CACHE_DIR: cacheDir, STEWARD_RELEASE_DIR: out },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const total = (performance.now() - t0) / 1000;
    const perTarget = Object.fromEntries([...text.matchAll(/^steward-\S+?-(linux-\S+)\s+[\d.]+ MiB\s+([\d.]+) s$/gm)].map((m) => [m[1], Number(m[2])]));
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    return { total, perTarget, manifest };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const warm = mkdtempSync(join(tmpdir(), "steward-bench-bun-cache-"));
const results = { cold: [], cached: [] };
let manifest;
try {
  release(warm); // fills the cache the cached runs use
  for (let i = 0; i < runs; i++) {
    const cold = mkdtempSync(join(tmpdir(), "steward-bench-bun-cache-"));
    try {
      results.cold.push(release(cold));
    } finally {
      rmSync(cold, { recursive: true, force: true });
    }
    const cached = release(warm);
    results.cached.push(cached);
    manifest = cached.manifest;
  }
} finally {
  rmSync(warm, { recursive: true, force: true });
}

console.log(`npm run release, ${runs} cold and ${runs} cached runs alternated: median s (min–max)`);
for (const kind of ["cold", "cached"]) {
  const totals = results[kind].map((r) => r.total);
  console.log(`  ${kind.padEnd(6)} all five: ${median(totals).toFixed(1)} s (${range(totals)})`);
}
for (const a of manifest.artefacts) {
  const cells = ["cold", "cached"].map((kind) => {
    const xs = results[kind].map((r) => r.perTarget[a.target]);
    return `${kind} ${median(xs).toFixed(1)} s (${range(xs)})`;
  });
  console.log(`  ${a.target.padEnd(20)} ${(a.size / 1048576).toFixed(1).padStart(6)} MiB  ${cells.join("  ")}`);
}
