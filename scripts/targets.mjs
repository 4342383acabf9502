// The Linux targets steward is released for (REFERENCE §5.5): each is a Bun runtime that
// `bun build --compile --target=bun-<name>` embeds. `cpuFlags` are the /proc/cpuinfo flags
// the runtime needs: Bun's x64 builds are compiled for Haswell (x86-64-v3) and die with
// SIGILL without AVX2; its baseline build needs only x86-64-v2 (Nehalem: SSE4.2, POPCNT).
// A host's `steward upgrade --manifest` picks from these facts (src/upgrade/manifest.ts);
// a newer baseline's flags include the older one's, so the build that needs the most flags
// of those a CPU has is the one for the newest CPU.
import { readFileSync } from "node:fs";

const X86_64_V2 = ["sse4_2", "popcnt"];
const X86_64_V3 = [...X86_64_V2, "avx", "avx2", "bmi1", "bmi2", "fma", "movbe"];

export const TARGETS = {
  "linux-x64": { arch: "x64", libc: "glibc", cpu: "x86-64-v3", cpuFlags: X86_64_V3 },
  "linux-x64-baseline": { arch: "x64", libc: "glibc", cpu: "x86-64-v2", cpuFlags: X86_64_V2 },
  "linux-arm64": { arch: "arm64", libc: "glibc", cpu: "armv8-a", cpuFlags: [] },
  "linux-x64-musl": { arch: "x64", libc: "musl", cpu: "x86-64-v3", cpuFlags: X86_64_V3 },
  "linux-arm64-musl": { arch: "arm64", libc: "musl", cpu: "armv8-a", cpuFlags: [] },
};

/**
 * The target of the Bun this machine runs, which `bun build --compile` embeds when given no
 * --target: the npm package `bun` installs the baseline runtime on an x64 CPU without AVX2.
 */
export function hostTarget() {
  const musl = process.report.getReport().header.glibcVersionRuntime === undefined;
  let name = `${process.platform}-${process.arch}`;
  if (process.arch === "x64" && !musl && !/^flags\s*:.*\bavx2\b/m.test(readFileSync("/proc/cpuinfo", "utf8"))) name += "-baseline";
  return musl ? `${name}-musl` : name;
}
