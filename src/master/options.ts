import type { Config } from "../config/types.ts";
import type { RunDirEnv } from "../host/rundir.ts";

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
}
