/**
 * What the running host is, for picking a release artefact (upgrade/manifest.ts): its
 * architecture, its C library and its CPU's flags. Parsing is pure; `readHost` reads /proc.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import type { Host } from "./manifest.ts";

/**
 * The C library this process runs on, from its own memory map: a musl process maps
 * `ld-musl-<arch>.so.1` (Alpine also names it `libc.musl-<arch>.so.1`), a glibc one
 * `libc.so.6`. Unknown (a static binary, no /proc): the libc the binary was built for,
 * from its release target, else glibc.
 */
export function libcOf(maps: string | undefined, buildTarget: string | null): "glibc" | "musl" {
  if (maps !== undefined) {
    if (/\/(ld-musl-[^/\s]+|libc\.musl-[^/\s]+)$/m.test(maps)) return "musl";
    if (/\/libc\.so\.6$/m.test(maps)) return "glibc";
  }
  return buildTarget?.endsWith("-musl") ? "musl" : "glibc";
}

/** The CPU's flags: the first `flags` (x86) or `Features` (arm64) line of /proc/cpuinfo. */
export function cpuFlagsOf(cpuinfo: string | undefined): Set<string> {
  const line = cpuinfo?.match(/^(?:flags|Features)\s*:(.*)$/m);
  return new Set(line ? line[1]!.trim().split(/\s+/).filter(Boolean) : []);
}

const readOrUndefined = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

export function readHost(buildTarget: string | null): Host {
  return {
    arch: process.arch,
    libc: libcOf(readOrUndefined("/proc/self/maps"), buildTarget),
    cpuFlags: cpuFlagsOf(readOrUndefined("/proc/cpuinfo")),
  };
}
