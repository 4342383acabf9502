import type { Config } from "../config/types.ts";
import type { RunDirEnv } from "../host/rundir.ts";
import type { FileIdentity } from "./os.ts";

/** What `steward run` hands to the master once the command line and configuration are valid. */
export interface RunOptions {
  config: Config;
  /** consola level: 0 silent/errors … 3 info (default) … 4 debug */
  logLevel: number;
  /** -Ws / --systemd */
  systemd: boolean;
  /** -D / --daemon (issue 5) */
  daemon: boolean;
  /** $JOURNAL_STREAM (`DEV:INODE`), when set: log lines get priorities if it names stderr */
  journalStream?: string;
  /** the arguments steward was started with, kept for re-exec on reload */
  args: string[];
  /** the variables that choose where the run directory is (host/rundir.ts), read by the CLI */
  runDirEnv?: RunDirEnv;
  /**
   * Where the configuration came from, as it was just before it was read: no file, or the
   * file's absolute path and, when it was a regular file, its identity. While the same
   * binary would read the very same file, a reload skips the preflight (reloader.ts).
   * Absent in options made by a steward from before this field.
   */
  configSource?: { file?: string; identity?: FileIdentity };
}

/** Whether two loads give the same configuration (what decides if early-started workers are used). */
export function sameConfig(a: RunOptions, b: RunOptions): boolean {
  return JSON.stringify(a.config) === JSON.stringify(b.config);
}
