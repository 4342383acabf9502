/** The Bun adapter. */
import { bindLibcBun } from "../sys/bun.ts";
import type { LibcBinding } from "../sys/symbols.ts";
import type { Runtime, SignalName } from "./types.ts";

export function createBunRuntime(): Runtime {
  // In a compiled executable Bun.main lives in the embedded file system (/$bunfs/...).
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
  const path = process.execPath;
  // scripts/build.mjs embeds the helper as a file of its own: /$bunfs/root/steward-exec-helper-HASH.
  const helper = compiled ? Bun.embeddedFiles.find((f) => (f as Blob & { name: string }).name.startsWith("steward-exec-helper")) : undefined;
  let libc: LibcBinding | undefined;
  return {
    name: "bun",
    // Bound on first use (~1 ms: bun:ffi compiles a stub per symbol): a reload's preflight
    // and the CLI's commands never call libc.
    get libc() {
      return (libc ??= bindLibcBun());
    },
    args: process.argv.slice(2),
    self: { path, prefix: compiled ? [] : [Bun.main] },
    compiled,
    ...(helper ? { execHelper: `${Bun.main.slice(0, Bun.main.lastIndexOf("/"))}/${(helper as Blob & { name: string }).name}` } : {}),
    // A compiled executable carries the whole Bun runtime: with BUN_BE_BUN=1 it is the `bun`
    // CLI (`BUN_BE_BUN=1 steward app.ts`). From source, the bun running steward is that runtime.
    bun: { path, env: compiled ? { BUN_BE_BUN: "1" } : {}, version: Bun.version },
    env: process.env,
    cwd: () => process.cwd(),
    onSignal(signal: SignalName, handler: () => void) {
      process.on(signal, handler);
    },
    compact() {
      // Bun.shrink: a full collection that also drops compiled code not on the stack and
      // gives freed heap pages back (~1.5 MiB of the master's RssAnon; Bun.gc alone ~0.5).
      const bun = Bun as unknown as { shrink?: () => void };
      if (typeof bun.shrink === "function") bun.shrink();
      else Bun.gc(true);
    },
    exit(code: number): never {
      process.exit(code);
    },
  };
}
