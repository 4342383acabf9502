/**
 * Starting a child with posix_spawn through FFI. The descriptor table it gets is exactly
 * 0, 1, 2 and `passFds` at 3.., every signal is at its default disposition and unblocked,
 * and it may lead a session (and process group) of its own. No runtime knows of these children, so
 * the master's reaper is their only waiter.
 */
import * as C from "./constants.ts";
import { cstr, type CStringArray } from "./cstring.ts";
import type { LibcFunctions } from "./symbols.ts";

/** What posix_spawn needs of Posix (posix.ts, which imports this file, passes itself). */
export interface SpawnLibc {
  readonly fn: LibcFunctions;
  fail(syscall: string, subject?: string, errno?: number): never;
  cstrArray(items: string[]): CStringArray;
}

export interface SpawnRequest {
  /** absolute path of the program */
  path: string;
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  /** descriptors of this process to place at 3, 4, ... in the child; nothing else above 2 survives */
  passFds: number[];
  /**
   * start the child in a session of its own, which it leads with a process group of its
   * own (as systemd starts a service): no terminal's signals reach it, and where the kernel
   * shares the CPU by session (autogroup) it is not counted with its siblings
   */
  ownSession: boolean;
  /** send the child's stdout and stderr to this file (created 0600, truncated) */
  outputPath?: string;
}

export function posixSpawn(px: SpawnLibc, req: SpawnRequest): number {
  const fa = new Uint8Array(256); // posix_spawn_file_actions_t is 80 bytes on glibc
  const attr = new Uint8Array(1024); // posix_spawnattr_t is 336 bytes on glibc
  const sigs = new Uint8Array(128);
  const noSigs = new Uint8Array(128);
  const fn = px.fn;
  const err = (r: number, what: string) => {
    if (r !== 0) px.fail(what, req.path, r);
  };
  err(fn.posix_spawn_file_actions_init(fa), "posix_spawn_file_actions_init");
  err(fn.posix_spawnattr_init(attr), "posix_spawnattr_init");
  try {
    // Move the passed descriptors above everything first so that placing them at
    // 3.. can never overwrite one that is still to be moved.
    const n = req.passFds.length;
    const high = Math.max(3 + n, ...req.passFds) + 1;
    req.passFds.forEach((fd, i) => err(fn.posix_spawn_file_actions_adddup2(fa, fd, high + i), "adddup2"));
    req.passFds.forEach((_, i) => err(fn.posix_spawn_file_actions_adddup2(fa, high + i, 3 + i), "adddup2"));
    err(fn.posix_spawn_file_actions_addclosefrom_np(fa, 3 + n), "addclosefrom_np");
    const out = req.outputPath ? cstr(req.outputPath) : undefined;
    if (out) {
      // never through a symlink: the file is in the master's run directory (host/rundir.ts)
      const flags = C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW;
      err(fn.posix_spawn_file_actions_addopen(fa, 1, out, flags, 0o600), "addopen");
      err(fn.posix_spawn_file_actions_adddup2(fa, 1, 2), "adddup2");
    }
    const cwd = req.cwd ? cstr(req.cwd) : undefined;
    if (cwd) err(fn.posix_spawn_file_actions_addchdir_np(fa, cwd), "addchdir_np");

    fn.sigfillset(sigs);
    fn.sigdelset(sigs, C.SIGKILL);
    fn.sigdelset(sigs, C.SIGSTOP);
    fn.sigemptyset(noSigs);
    err(fn.posix_spawnattr_setsigdefault(attr, sigs), "setsigdefault");
    err(fn.posix_spawnattr_setsigmask(attr, noSigs), "setsigmask");
    let flags = C.POSIX_SPAWN_SETSIGDEF | C.POSIX_SPAWN_SETSIGMASK;
    // setsid(): the child leads a new session and so a new process group (pgid = its PID)
    if (req.ownSession) flags |= C.POSIX_SPAWN_SETSID;
    err(fn.posix_spawnattr_setflags(attr, flags), "setflags");

    const pidOut = new Int32Array(1);
    const argv = px.cstrArray(req.argv);
    const envp = px.cstrArray(Object.entries(req.env).map(([k, v]) => `${k}=${v}`));
    const path = cstr(req.path);
    const r = fn.posix_spawn(pidOut, path, fa, attr, argv.array, envp.array);
    if (r !== 0) px.fail("posix_spawn", req.path, r);
    void argv.keep;
    void envp.keep;
    return pidOut[0]!;
  } finally {
    fn.posix_spawn_file_actions_destroy(fa);
    fn.posix_spawnattr_destroy(attr);
  }
}
