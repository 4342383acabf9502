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
 * listeners, so a worker never sees it (REFERENCE §4).
 *
 * A master re-executing into the same executable keeps the memfd open across the execve
 * (acrossExec) and the new image adopts it (inheritedMemfd) instead of copying the ~0.7 MB
 * image again (~1 ms of CPU on the reload's critical path): it is named after the embedded
 * file, whose name carries a hash of its content, and sealed once written whole, so an
 * inherited memfd with this executable's name and those seals holds this executable's helper.
 */
import { basename } from "node:path";
import { readFileSync, readlinkSync } from "node:fs";
import { cstr } from "../sys/cstring.ts";
import { SysError } from "../sys/errors.ts";
import type { Posix, SpawnRequest } from "../sys/posix.ts";
import { shimSpawnRequest, type ChildSpec, type SelfCommand } from "./plan.ts";

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
/** Linux ≥ 6.3 (vm.memfd_noexec): ask for an executable memfd; older kernels reject the flag. */
const MFD_EXEC = 0x10;
const EINVAL = 22;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: the image stays what was written */
const SEALS = 0x1 | 0x2 | 0x4 | 0x8;
/** every memfd steward creates for a helper is named so (the worker tests look for it too) */
const MEMFD_PREFIX = "/memfd:steward-exec";

/** Names, for the next image only, the helper's memfd a re-executing master keeps open. */
export const HELPER_FD_VAR = "STEWARD_EXEC_HELPER_FD";

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
    ownSession: true,
    ...(child.outputPath !== undefined ? { outputPath: child.outputPath } : {}),
  };
}

/**
 * The helper's image in a close-on-exec memfd named `name`, sealed once written whole;
 * throws a SysError when memfd_create or write fails. (The image comes whole from
 * readFileSync: Bun opens its embedded files with no other call of node:fs, so the ~0.7 MB
 * copy is garbage in the heap until the next collection.)
 */
export function helperMemfd(px: Posix, image: Uint8Array, name = "steward-exec"): number {
  const cname = cstr(name);
  let fd = px.fn.memfd_create(cname, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd === -1 && px.errno() === EINVAL) fd = px.fn.memfd_create(cname, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  px.check(fd, "memfd_create");
  try {
    for (let off = 0; off < image.length; ) off += px.writeSome(fd, image.subarray(off)) ?? 0;
  } catch (e) {
    px.close(fd);
    throw e;
  }
  // Unsealed (sealing refused), the memfd still runs children; the next image only writes its own.
  px.fn.fcntl(fd, F_ADD_SEALS, SEALS);
  return fd;
}

/**
 * The memfd of helper `name` that a previous image of this master kept open across its
 * execve (HELPER_FD_VAR in `env`, which is removed: no child inherits it), close-on-exec
 * again; null when there is none or it is not this helper, sealed whole. Another
 * helper's memfd (a reload into another executable) is closed; a descriptor that is no
 * helper's memfd is not this code's to close.
 */
export function inheritedMemfd(px: Posix, env: Record<string, string | undefined>, name: string | undefined): number | null {
  const text = env[HELPER_FD_VAR];
  if (text === undefined) return null;
  delete env[HELPER_FD_VAR];
  if (!/^\d{1,9}$/.test(text)) return null;
  const fd = Number(text);
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
  if (!target.startsWith(MEMFD_PREFIX)) return null;
  const seals = px.fn.fcntl(fd, F_GET_SEALS, 0);
  if (name !== undefined && target === `/memfd:${name} (deleted)` && seals !== -1 && (seals & SEALS) === SEALS) {
    px.setCloexec(fd, true);
    return fd;
  }
  px.close(fd);
  return null;
}

export interface ChildStarterRuntime {
  self: SelfCommand;
  /** path of the helper embedded in this executable, if it carries one */
  execHelper?: string;
  /** the process environment, live (Runtime.env): HELPER_FD_VAR is taken out of it */
  env: Record<string, string | undefined>;
}

export class ChildStarter {
  /** the helper's memfd; null: none, or it cannot run here */
  private fd: number | null;

  /**
   * Loads the helper at once (or takes the memfd the previous image kept open), so that
   * every master image holds its memfd from its start (a new image after a reload may
   * adopt workers the previous one started, and start none).
   */
  constructor(
    private readonly px: Posix,
    private readonly runtime: ChildStarterRuntime,
    private readonly masterPid: number,
    private readonly deathSignal: number,
  ) {
    const name = runtime.execHelper === undefined ? undefined : basename(runtime.execHelper);
    this.fd = inheritedMemfd(px, runtime.env, name);
    if (this.fd !== null || runtime.execHelper === undefined) return;
    try {
      this.fd = helperMemfd(px, new Uint8Array(readFileSync(runtime.execHelper)), name);
    } catch {
      // no memfd here: the shim does the same, only slower
    }
  }

  /**
   * Before an execve into this same executable: the memfd stays open for the next image,
   * named in `env` (to add to the exec's environment only); `undo` after an execve that
   * failed. Undefined when this image has no memfd.
   */
  acrossExec(): { env: Record<string, string>; undo(): void } | undefined {
    const fd = this.fd;
    if (fd === null) return undefined;
    try {
      this.px.setCloexec(fd, false);
    } catch {
      return undefined;
    }
    return { env: { [HELPER_FD_VAR]: String(fd) }, undo: () => this.px.setCloexec(fd, true) };
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
