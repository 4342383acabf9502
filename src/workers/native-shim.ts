/**
 * Starting children through the native exec helper (exec-helper.c) when this executable
 * carries one, else through the exec shim (`steward __exec`, shim.ts). Both do the same
 * between fork and exec; the helper is a static C program of a few hundred microseconds
 * instead of a whole runtime start (~5 ms of CPU per child).
 *
 * The helper's image is copied once per master image into a memfd, close-on-exec, and
 * spawned as /proc/self/fd/N: posix_spawn cannot execveat, and placing the memfd at
 * 3+listeners in the child (after the listeners, as one more passed descriptor) keeps it
 * out of their way; the helper marks it close-on-exec with everything else above the
 * listeners, so a worker never sees it (REFERENCE §4). A master re-executing closes it.
 */
import { readFileSync } from "node:fs";
import { cstr } from "../sys/cstring.ts";
import { SysError } from "../sys/errors.ts";
import type { Posix, SpawnRequest } from "../sys/posix.ts";
import { shimSpawnRequest, type ChildSpec, type SelfCommand } from "./plan.ts";

const MFD_CLOEXEC = 0x1;
/** Linux ≥ 6.3 (vm.memfd_noexec): ask for an executable memfd; older kernels reject the flag. */
const MFD_EXEC = 0x10;
const EINVAL = 22;

/** The posix_spawn request that starts `child` through the helper in memfd `helperFd`. */
export function helperSpawnRequest(helperFd: number, child: ChildSpec, masterPid: number, deathSignal: number): SpawnRequest {
  const n = child.fds.length;
  return {
    path: `/proc/self/fd/${3 + n}`,
    // exec-helper.c: PARENT DEATH_SIGNAL LISTEN_FDS UID GID LABEL PATH ARGV...
    argv: ["steward-exec", String(masterPid), String(deathSignal), String(n), child.uid === undefined ? "" : String(child.uid), child.gid === undefined ? "" : String(child.gid), child.label, child.path, ...child.argv],
    // the helper is not steward: exec-only variables (BUN_BE_BUN for `@bun`) may ride along
    env: child.execEnv ? { ...child.env, ...child.execEnv } : child.env,
    ...(child.cwd !== undefined ? { cwd: child.cwd } : {}),
    passFds: [...child.fds, helperFd],
    ownProcessGroup: true,
    ...(child.outputPath !== undefined ? { outputPath: child.outputPath } : {}),
  };
}

/**
 * The helper's image in a close-on-exec memfd; throws a SysError when memfd_create or write
 * fails. (The image comes whole from readFileSync: Bun opens its embedded files with no
 * other call of node:fs, so the ~0.7 MB copy is garbage in the heap until the next collection.)
 */
export function helperMemfd(px: Posix, image: Uint8Array): number {
  const name = cstr("steward-exec");
  let fd = px.fn.memfd_create(name, MFD_CLOEXEC | MFD_EXEC);
  if (fd === -1 && px.errno() === EINVAL) fd = px.fn.memfd_create(name, MFD_CLOEXEC);
  px.check(fd, "memfd_create");
  try {
    for (let off = 0; off < image.length; ) off += px.writeSome(fd, image.subarray(off)) ?? 0;
  } catch (e) {
    px.close(fd);
    throw e;
  }
  return fd;
}

export interface ChildStarterRuntime {
  self: SelfCommand;
  /** path of the helper embedded in this executable, if it carries one */
  execHelper?: string;
}

export class ChildStarter {
  /** the helper's memfd; null: none, or it cannot run here */
  private fd: number | null;

  /**
   * Loads the helper at once, so that every master image holds its memfd from its start
   * (a new image after a reload may adopt workers the previous one started, and start none).
   */
  constructor(
    private readonly px: Posix,
    private readonly runtime: ChildStarterRuntime,
    private readonly masterPid: number,
    private readonly deathSignal: number,
  ) {
    this.fd = null;
    if (runtime.execHelper === undefined) return;
    try {
      this.fd = helperMemfd(px, new Uint8Array(readFileSync(runtime.execHelper)));
    } catch {
      // no memfd here: the shim does the same, only slower
    }
  }

  spawn(child: ChildSpec): number {
    const fd = this.fd;
    const shim = () => this.px.spawn(shimSpawnRequest(this.runtime.self, child, this.masterPid, this.deathSignal));
    if (fd === null) return shim();
    try {
      return this.px.spawn(helperSpawnRequest(fd, child, this.masterPid, this.deathSignal));
    } catch (e) {
      if (!(e instanceof SysError && e.syscall === "posix_spawn")) throw e;
      // The child's own cause (a missing cwd) fails the shim the same way and is reported
      // as before; if the shim starts, it was the helper that cannot run here (a kernel
      // refusing to execute a memfd): the shim starts every later child of this image.
      const pid = shim();
      this.px.close(fd);
      this.fd = null;
      return pid;
    }
  }
}
