/** The Deno adapter. */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { bindLibcDeno } from "../sys/deno.ts";
import type { LibcBinding } from "../sys/symbols.ts";
import type { Runtime, SignalName } from "./types.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

export function createDenoRuntime(mainModule: string): Runtime {
  let libc: LibcBinding | undefined;
  return {
    name: "deno",
    // bound on first use: a reload's preflight and the CLI's commands never call libc
    get libc() {
      return (libc ??= bindLibcDeno());
    },
    args: [...Deno.args],
    self: { path: Deno.execPath(), prefix: ["run", "-A", fileURLToPath(mainModule)] },
    compiled: false,
    env: process.env,
    cwd: () => process.cwd(),
    onSignal(signal: SignalName, handler: () => void) {
      Deno.addSignalListener(signal, handler);
    },
    compact() {
      // V8 exposes a collection only with --v8-flags=--expose-gc; otherwise nothing to do.
      (globalThis as { gc?: () => void }).gc?.();
    },
    exit(code: number): never {
      Deno.exit(code);
      throw new Error("unreachable");
    },
  };
}
