/**
 * The pidfile (`pidfile =`, `-p`), written in two steps so that a problem with it fails
 * the load that asked for it, before anything changed:
 *   prepare: when a load begins, the PID is written to a new temporary file beside the
 *            pidfile (O_EXCL|O_NOFOLLOW, a random name): a missing or unwritable
 *            directory is a one-line error now, and the load (start or reload) fails;
 *   commit:  when that load succeeded, the temporary file is renamed over the pidfile
 *            (rename replaces a symlink, never follows it); a pidfile of the previous
 *            configuration at another path is removed.
 * Invariant: `written` is the path this master wrote and will remove when it exits,
 * carried across a re-exec (Handover.pidfile).
 */
import { renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { writePrivateFile } from "./rundir.ts";

/** Web Crypto's global: node:crypto would cost the master RSS for a few random bytes. */
const randomHex = () => [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, "0")).join("");

export interface PreparedPidfile {
  path: string;
  tmp: string;
}

/** The one-line reason of a failed pidfile operation. */
function problem(path: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const dir = dirname(path);
  const why =
    err.code === "ENOENT" ? `its directory ${dir} does not exist`
    : err.code === "EACCES" || err.code === "EPERM" ? `no permission to write in ${dir}`
    : err.code === "ENOTDIR" ? `${dir} is not a directory`
    : err.code === "EROFS" ? `${dir} is on a read-only file system`
    : err.code === "EISDIR" ? `${path} is a directory`
    : (err.message ?? String(e)).split("\n")[0];
  return new Error(`pidfile '${path}': cannot write it: ${why}`);
}

export class Pidfile {
  written: string | undefined;

  constructor(private readonly pid: number) {}

  /** Writes the PID beside `path` (undefined: no pidfile); throws one line if it cannot. */
  prepare(path: string | undefined): PreparedPidfile | undefined {
    if (!path) return undefined;
    const tmp = join(dirname(path), `.${basename(path)}.${randomHex()}.tmp`);
    try {
      writePrivateFile(tmp, `${this.pid}\n`, 0o644);
    } catch (e) {
      throw problem(path, e);
    }
    return { path, tmp };
  }

  /** Puts a prepared pidfile in place; throws one line if it cannot (the temp file is removed). */
  commit(prepared: PreparedPidfile | undefined): void {
    const previous = this.written;
    if (!prepared) {
      if (previous) this.remove();
      return;
    }
    // The previous configuration's pidfile goes first: whoever sees the new one appear
    // (a service manager, a script) never sees both.
    if (previous && previous !== prepared.path) {
      rmSync(previous, { force: true });
      this.written = undefined;
    }
    try {
      renameSync(prepared.tmp, prepared.path);
    } catch (e) {
      this.discard(prepared);
      throw problem(prepared.path, e);
    }
    this.written = prepared.path;
  }

  /** A load that prepared `prepared` failed: its temporary file goes. */
  discard(prepared: PreparedPidfile | undefined): void {
    if (prepared) rmSync(prepared.tmp, { force: true });
  }

  /** At exit: the pidfile this master wrote goes. */
  remove(): void {
    if (this.written) rmSync(this.written, { force: true });
    this.written = undefined;
  }
}
