/**
 * net.ipv4.tcp_migrate_req (Linux >= 5.14): when a socket of a SO_REUSEPORT group closes,
 * the connections queued on it (accepted by the kernel, not yet by the worker) move to
 * another listener of the group instead of being reset. Reuse-port reloads close the old
 * workers' listeners, so without it every reload may reset a few connections under load.
 * The setting belongs to the network namespace; steward turns it on when it may
 * (CAP_NET_ADMIN over the namespace) and says whether it is on.
 */
import { readFileSync, writeFileSync } from "node:fs";

export const MIGRATE_REQ_PATH = "/proc/sys/net/ipv4/tcp_migrate_req";

export interface MigrateReq {
  on: boolean;
  /** for the log and `show listeners` */
  text: string;
}

export interface SysctlFile {
  read(path: string): string;
  write(path: string, text: string): void;
}

const realFile: SysctlFile = { read: (p) => readFileSync(p, "utf8"), write: (p, t) => writeFileSync(p, t) };

/** Reads the setting and turns it on if it is off and this process may. */
export function enableMigrateReq(file: SysctlFile = realFile): MigrateReq {
  let value: string;
  try {
    value = file.read(MIGRATE_REQ_PATH).trim();
  } catch {
    return { on: false, text: "tcp_migrate_req off (not in this kernel: Linux >= 5.14 has it); a reload may reset connections queued on an old worker's listener" };
  }
  if (value === "1") return { on: true, text: "tcp_migrate_req on" };
  try {
    file.write(MIGRATE_REQ_PATH, "1\n");
    if (file.read(MIGRATE_REQ_PATH).trim() === "1") return { on: true, text: "tcp_migrate_req on (enabled by steward for this network namespace)" };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { on: false, text: `tcp_migrate_req off (cannot enable it: ${code}); a reload may reset connections queued on an old worker's listener` };
  }
  return { on: false, text: "tcp_migrate_req off (it did not stay on); a reload may reset connections queued on an old worker's listener" };
}

let state: MigrateReq | undefined;

/** Once per process: enables it and logs the outcome; later calls return what was found. */
export function ensureMigrateReq(log: (line: string) => void): MigrateReq {
  if (!state) {
    state = enableMigrateReq();
    log(`Reuse-port listeners: ${state.text}`);
  }
  return state;
}

/** The setting now (`show listeners`): on, off, or absent from this kernel. */
export function currentMigrateReq(file: SysctlFile = realFile): "on" | "off" | "absent" {
  try {
    return file.read(MIGRATE_REQ_PATH).trim() === "1" ? "on" : "off";
  } catch {
    return "absent";
  }
}
