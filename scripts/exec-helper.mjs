// Builds steward's native exec helper (src/workers/exec-helper.c) as a static executable
// for the target being compiled, to be embedded in dist/steward. Needs gcc and libc6-dev
// (Debian; libc.a for -static); another architecture needs its cross compiler
// (gcc-aarch64-linux-gnu) or CC_<arch>. Without a compiler the executable is built without
// the helper and starts children through `steward __exec` (src/workers/shim.ts), ~5 ms of
// CPU per child instead of well under 1: the build says so.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

const COMPILERS = { x64: "x86_64-linux-gnu-gcc", arm64: "aarch64-linux-gnu-gcc" };

function works(cc) {
  try {
    execFileSync(cc, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The helper's path, or undefined (with a warning printed) when it cannot be built. */
export function buildExecHelper(root, outfile, arch) {
  const hostArch = process.arch;
  const candidates = [process.env[`CC_${arch}`], COMPILERS[arch], ...(arch === hostArch ? [process.env.CC, "gcc", "cc"] : [])].filter(Boolean);
  const cc = candidates.find(works);
  if (!cc) {
    console.warn(`build: no C compiler for ${arch} (tried ${candidates.join(", ")}): the executable starts children through 'steward __exec' instead of the native exec helper`);
    return undefined;
  }
  mkdirSync(dirname(outfile), { recursive: true });
  const src = join(root, "src", "workers", "exec-helper.c");
  try {
    execFileSync(cc, ["-static", "-Os", "-s", "-Wall", "-Werror", "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections", "-o", outfile, src], { stdio: "inherit" });
  } catch (e) {
    console.warn(`build: ${cc} could not build ${src} statically (${e.message.split("\n")[0]}; Debian: apt-get install libc6-dev): the executable starts children through 'steward __exec'`);
    return undefined;
  }
  return outfile;
}
