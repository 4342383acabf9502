// Types of scripts/targets.mjs, for the tests that import it.
export interface ReleaseTarget {
  arch: "x64" | "arm64";
  libc: "glibc" | "musl";
  cpu: string;
  cpuFlags: string[];
}
export declare const TARGETS: Readonly<Record<"linux-x64" | "linux-x64-baseline" | "linux-arm64" | "linux-x64-musl" | "linux-arm64-musl", ReleaseTarget>>;
export declare function hostTarget(): string;
