/**
 * The one interface between steward and the JavaScript runtime it runs on. Everything
 * outside src/runtime, src/sys and src/main.ts uses only this (plus node: built-ins that
 * both runtimes provide) and never names Bun or Deno.
 */
import type { LibcBinding } from "../sys/symbols.ts";

export type RuntimeName = "bun" | "deno" | "fake";

/** Signals the master listens for. */
export type SignalName =
  | "SIGTERM"
  | "SIGINT"
  | "SIGHUP"
  | "SIGUSR1"
  | "SIGUSR2"
  | "SIGQUIT"
  | "SIGCHLD"
  | "SIGIO"
  | "SIGTTIN"
  | "SIGTTOU"
  | "SIGWINCH";

export interface Runtime {
  readonly name: RuntimeName;
  /** the libc binding through this runtime's FFI */
  readonly libc: LibcBinding;
  /** the arguments the user gave after the steward command itself */
  readonly args: string[];
  /**
   * How to run this same steward again: the executable path (as invoked, so a file
   * replaced on disk is picked up) and the arguments that precede steward's own, e.g.
   * `["/usr/bin/steward"]`, `["/x/bun", "/src/main.ts"]`, `["/x/deno", "run", "-A", "/src/main.ts"]`.
   */
  readonly self: { path: string; prefix: string[] };
  /** true when running as a single compiled executable */
  readonly compiled: boolean;
  /** path of the native exec helper embedded in this executable (workers/native-shim.ts), if it carries one */
  readonly execHelper?: string;
  /**
   * How to run a script on the Bun runtime steward itself runs on (`@bun` commands), or
   * undefined when steward runs on another runtime. `env` is what the exec needs beside
   * the worker's own environment (BUN_BE_BUN=1 makes a compiled steward behave as `bun`).
   */
  readonly bun?: { path: string; env: Record<string, string>; version: string };
  /**
   * The process environment, live: what is deleted from it (the handover pointer, the -D
   * launcher's descriptor) no child started afterwards inherits. The master reads its
   * environment only here (test/unit/layers.test.ts: no `process.env` in src/master).
   */
  readonly env: Record<string, string | undefined>;
  /** the working directory the master was started in */
  cwd(): string;
  /** calls `handler` on each delivery of `signal`; the runtime no longer applies the default action */
  onSignal(signal: SignalName, handler: () => void): void;
  exit(code: number): never;
  /**
   * A hint that start-up is over: free its garbage and the compiled code of what ran only
   * once (it is compiled again if it ever runs again). Optional; may do nothing.
   */
  compact?(): void;
}
