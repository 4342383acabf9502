/**
 * The master's run directory (REFERENCE §8.4): where its notify socket, the state handed across
 * a re-exec, the preflight's output and the CLI sockets of its workers live.
 *
 * Where: under systemd `$RUNTIME_DIRECTORY`; for root `/run/steward/`; otherwise
 * `$XDG_RUNTIME_DIR`, `$TMPDIR` or `/tmp`. In that base the directory is created by
 * mkdtemp (atomic, a name nobody can predict, mode 0700), and verified before use: a
 * directory, not a symlink, owned by the master's user, mode 0700. A base is used only if
 * no other user can replace what the master creates in it: the base and each of its
 * ancestors (symlinks resolved) belong to root or to the master's user, and any of them
 * that others may write has the sticky bit (like /tmp). Files in the directory are opened
 * without following symlinks (`writePrivateFile`, `readPrivateFile`).
 */
import { closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

/** The variables that choose the base, read by the CLI and passed in (RunOptions.runDirEnv). */
export interface RunDirEnv {
  RUNTIME_DIRECTORY?: string;
  XDG_RUNTIME_DIR?: string;
  TMPDIR?: string;
}

export const ROOT_BASE = "/run/steward";

/** What the checks need to know of a directory (from lstat, or stat for a base). */
export interface DirFacts {
  uid: number;
  /** st_mode, type bits included */
  mode: number;
  isDirectory: boolean;
  isSymlink: boolean;
}

const S_ISVTX = 0o1000;
const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");

/** Bases to try, in order (REFERENCE §8.4). Empty variables count as unset. */
export function candidateBases(env: RunDirEnv, uid: number): string[] {
  const out: string[] = [];
  const systemd = env.RUNTIME_DIRECTORY?.split(":")[0];
  if (systemd) out.push(systemd);
  if (uid === 0) out.push(ROOT_BASE);
  if (env.XDG_RUNTIME_DIR) out.push(env.XDG_RUNTIME_DIR);
  if (env.TMPDIR) out.push(env.TMPDIR);
  out.push("/tmp");
  return [...new Set(out)];
}

/** Why `path` (a base or one of its ancestors) could let another user replace our entries. */
export function baseProblem(path: string, facts: DirFacts, uid: number): string | undefined {
  if (!facts.isDirectory) return `${path} is not a directory`;
  if (facts.uid !== 0 && facts.uid !== uid) return `${path} belongs to uid ${facts.uid}`;
  if ((facts.mode & 0o022) !== 0 && (facts.mode & S_ISVTX) === 0) {
    return `${path} is writable by others (mode ${octal(facts.mode)}) without the sticky bit`;
  }
  return undefined;
}

/** Why `path` is not a run directory of uid `uid`. */
export function runDirProblem(path: string, facts: DirFacts, uid: number): string | undefined {
  if (facts.isSymlink) return `${path} is a symlink`;
  if (!facts.isDirectory) return `${path} is not a directory`;
  if (facts.uid !== uid) return `${path} belongs to uid ${facts.uid}, not ${uid}`;
  if ((facts.mode & 0o7777) !== 0o700) return `${path} has mode ${octal(facts.mode)}, not 0700`;
  return undefined;
}

function facts(path: string, follow: boolean): DirFacts {
  const st = follow ? statSync(path) : lstatSync(path);
  return { uid: st.uid, mode: st.mode, isDirectory: st.isDirectory(), isSymlink: st.isSymbolicLink() };
}

/** Throws (one line) unless `dir` is a run directory of `uid`. */
export function verifyRunDir(dir: string, uid: number): void {
  const problem = runDirProblem(dir, facts(dir, false), uid);
  if (problem) throw new Error(`run directory: ${problem}`);
}

/** The base and every ancestor of it, symlinks resolved, checked; returns the resolved base. */
function checkedBase(base: string, uid: number): string {
  const real = realpathSync(base);
  for (let p = real; ; p = dirname(p)) {
    const problem = baseProblem(p, facts(p, true), uid);
    if (problem) throw new Error(problem);
    if (p === dirname(p)) return real;
  }
}

/**
 * root's base, /run/steward: created mode 0711 (traversable, so that a worker running as
 * `user =` reaches its own directory inside; not listable, not writable by others).
 */
function ensureRootBase(): void {
  try {
    mkdirSync(ROOT_BASE, { mode: 0o711 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const f = facts(ROOT_BASE, false);
  if (f.isSymlink) throw new Error(`${ROOT_BASE} is a symlink`);
}

/**
 * Creates the run directory of master `pid` running as `uid`. Returns it and, for each
 * base that was passed over, why (the caller logs them).
 */
export function makeRunDir(pid: number, uid: number, env: RunDirEnv): { dir: string; skipped: string[] } {
  const skipped: string[] = [];
  for (const base of candidateBases(env, uid)) {
    try {
      if (base === ROOT_BASE) ensureRootBase();
      const real = checkedBase(base, uid);
      const dir = mkdtempSync(join(real, `steward-${pid}-`));
      try {
        verifyRunDir(dir, uid);
      } catch (e) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      return { dir, skipped };
    } catch (e) {
      skipped.push(`${base}: ${(e as Error).message}`);
    }
  }
  throw new Error(`cannot create a run directory: ${skipped.join("; ")}`);
}

/**
 * Writes `text` to a new file `path` (mode `mode`) that did not exist and is not a symlink:
 * a file of that name is removed first (unlink does not follow symlinks), then created
 * with O_EXCL|O_NOFOLLOW, so the write can never land anywhere else.
 */
export function writePrivateFile(path: string, text: string, mode = 0o600): void {
  rmSync(path, { force: true });
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const data = new TextEncoder().encode(text);
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
  } finally {
    closeSync(fd);
  }
}

/** Reads `path`, refusing a symlink (ELOOP). */
export function readPrivateFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
