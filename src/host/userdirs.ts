/**
 * Sockets for children that run as another user (`user =`, REFERENCE §8.4): the run directory
 * is the master's own (mode 0700), so such a child could reach neither the notify socket
 * nor a place to bind its STEWARD_CLI_SOCKET in it. Each such uid gets its own directory:
 *
 *   BASE/steward-PID-<random>/          the run directory (the master's, 0700)
 *   BASE/steward-PID-<random>-users-<random>/ created on first need by mkdtemp, the master's, 0711
 *     u65534/                           owned by uid 65534 (and the child's group), 0700
 *       notify.sock                     its NOTIFY_SOCKET: bound by the master, owned by 65534, 0600
 *       worker-g1-1.sock ...            its STEWARD_CLI_SOCKETs, bound by the workers
 *
 * Only that uid (and root) can enter `uNNN`; it cannot rename or replace the directory,
 * whose parent it cannot write. Its notify socket is a receiver of the master's like the
 * main one (SIGIO, credentials), handed across a re-exec (`Handover.userDirs`).
 */
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { NotifyReceiver, type NotifyFields } from "../notify/receiver.ts";
import type { Posix } from "../sys/posix.ts";

export interface HandedUserDirs {
  dir: string;
  users: { uid: number; gid: number; notifyFd: number }[];
}

/** What the traversal check needs of one directory. */
export interface Traversable {
  uid: number;
  gid: number;
  mode: number;
}

/** Can a process of `uid`/`gid` search (x) a directory with these owner and mode bits? */
export function canTraverse(dir: Traversable, uid: number, gid: number): boolean {
  if (uid === 0) return true;
  if (dir.uid === uid) return (dir.mode & 0o100) !== 0;
  if (dir.gid === gid) return (dir.mode & 0o010) !== 0;
  return (dir.mode & 0o001) !== 0;
}

/** The uid a process runs as now (its real uid), from /proc; undefined if it is gone. */
export function uidOf(pid: number): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const onMessageNone = () => {};

export class UserDirs {
  private dir: string | undefined;
  private readonly users = new Map<number, { gid: number; receiver: NotifyReceiver }>();
  /** SIGIO is routed to `drain` (set by `signalWhenReadable`) */
  private signalling = false;

  constructor(
    private readonly px: Posix,
    private readonly runDir: string,
    private readonly onMessage: (pid: number, fields: NotifyFields) => void = onMessageNone,
  ) {}

  /** The directory of `uid`'s sockets (whether or not it exists yet). */
  pathOf(uid: number): string | undefined {
    return this.dir === undefined ? undefined : join(this.dir, `u${uid}`);
  }

  /**
   * The directory and notify socket of children running as `uid`/`gid`, created on first
   * use. Throws (one line) if that user could not reach them.
   */
  ensure(uid: number, gid: number): { dir: string; notifyPath: string } {
    const known = this.users.get(uid);
    if (known) return { dir: this.pathOf(uid)!, notifyPath: known.receiver.path };
    if (this.dir === undefined) {
      const dir = mkdtempSync(`${this.runDir}-users-`);
      this.px.chmod(dir, 0o711);
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.isSymbolicLink() || (st.mode & 0o7777) !== 0o711) throw new Error(`${dir}: not the directory steward created`);
      this.dir = dir;
    }
    for (let p = this.dir; p !== dirname(p); p = dirname(p)) {
      const st = statSync(p);
      if (!canTraverse({ uid: st.uid, gid: st.gid, mode: st.mode }, uid, gid)) {
        throw new Error(`uid ${uid} cannot reach its sockets: ${p} (mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid}:${st.gid}) does not let it in`);
      }
    }
    const dir = this.pathOf(uid)!;
    const path = join(dir, "notify.sock");
    let fd: number | undefined;
    try {
      mkdirSync(dir, { mode: 0o700 });
      fd = this.px.bindDatagram(path);
      this.px.passCredentials(fd);
      this.px.chmod(path, 0o600);
      this.px.chown(path, uid, gid);
      this.px.chown(dir, uid, gid);
    } catch (e) {
      if (fd !== undefined) this.px.close(fd);
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    // SIGIO only once it is routed: its default action would end the master
    if (this.signalling) this.px.signalWhenReadable(fd);
    const receiver = new NotifyReceiver(this.px, fd, path, this.onMessage);
    this.users.set(uid, { gid, receiver });
    return { dir, notifyPath: path };
  }

  /**
   * The CLI socket `name` of a child running as `uid`, if it is there as a socket of that
   * user and not a symlink (the master connects to it; the user controls its directory).
   */
  socketOf(uid: number, name: string): string | undefined {
    const dir = this.pathOf(uid);
    if (dir === undefined) return undefined;
    const path = join(dir, name);
    try {
      const d = lstatSync(dir);
      const s = lstatSync(path);
      if (d.isSymbolicLink() || !d.isDirectory() || d.uid !== uid) return undefined;
      if (!s.isSocket() || s.uid !== uid) return undefined;
      return path;
    } catch {
      return undefined;
    }
  }

  /**
   * Where a child running as `uid`/`gid` (undefined: as the master) finds its notify
   * socket and binds its CLI socket: the run directory if it runs as the master's user.
   */
  socketsFor(uid: number | undefined, gid: number | undefined, masterUid: number, mainNotify: string): { notifyPath: string; cliDir: string } {
    if (uid === undefined || uid === masterUid) return { notifyPath: mainNotify, cliDir: this.runDir };
    const { dir, notifyPath } = this.ensure(uid, gid ?? 0);
    return { notifyPath, cliDir: dir };
  }

  drain(): void {
    for (const { receiver } of this.users.values()) receiver.drain();
  }

  prepareExec(): void {
    for (const { receiver } of this.users.values()) receiver.prepareExec();
  }

  execFailed(): void {
    for (const { receiver } of this.users.values()) receiver.execFailed();
  }

  handover(): HandedUserDirs | undefined {
    if (this.dir === undefined) return undefined;
    return { dir: this.dir, users: [...this.users].map(([uid, u]) => ({ uid, gid: u.gid, notifyFd: u.receiver.fd })) };
  }

  /** In a new image: takes over what the previous image created (SIGIO: `signalWhenReadable`). */
  adopt(handed: HandedUserDirs): void {
    this.dir = handed.dir;
    for (const u of handed.users) {
      this.px.setCloexec(u.notifyFd, true);
      const receiver = new NotifyReceiver(this.px, u.notifyFd, join(handed.dir, `u${u.uid}`, "notify.sock"), this.onMessage);
      this.users.set(u.uid, { gid: u.gid, receiver });
    }
  }

  /** SIGIO is routed to `drain` now: the notify sockets raise it from here on. */
  signalWhenReadable(): void {
    this.signalling = true;
    for (const { receiver } of this.users.values()) this.px.signalWhenReadable(receiver.fd);
  }

  /** At exit: the sockets closed, the directories removed (rm never follows a symlink). */
  close(): void {
    for (const { receiver } of this.users.values()) receiver.close(true);
    this.users.clear();
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
