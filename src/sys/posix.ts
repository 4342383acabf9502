/**
 * The operating-system calls steward makes, over a runtime's libc binding. Runtime-neutral:
 * it only sees `LibcBinding`. Every failure throws a `SysError` naming the call and errno.
 * Over ~350 lines by design: it is the one FFI surface, a thin method per libc call.
 */
import * as C from "./constants.ts";
import { SysError } from "./errors.ts";
import { decodeSockAddr, encodeSockAddr, SOCKADDR_MAX, type SockAddr } from "./sockaddr.ts";
import type { LibcBinding, LibcFunctions } from "./symbols.ts";
import { cstr, type CStringArray } from "./cstring.ts";
import { posixSpawn, type SpawnRequest } from "./spawn.ts";
import { writeWhole } from "./write-whole.ts";

export { cstr } from "./cstring.ts";
export type { SpawnRequest } from "./spawn.ts";

export type WaitStatus =
  | { pid: number; exited: true; code: number; signal?: undefined }
  | { pid: number; exited: false; signal: number; code?: undefined };

export class Posix {
  readonly fn: LibcFunctions;
  constructor(readonly libc: LibcBinding) {
    this.fn = libc.fn;
  }

  errno(): number {
    return this.libc.readI32(this.fn.__errno_location());
  }

  fail(syscall: string, subject?: string, errno = this.errno()): never {
    throw new SysError(syscall, errno, this.libc.readCString(this.fn.strerror(errno)), subject);
  }

  /** Throws when `ret` is -1. */
  check(ret: number, syscall: string, subject?: string): number {
    if (ret === -1) this.fail(syscall, subject);
    return ret;
  }

  cstrArray(items: string[]): CStringArray {
    const keep = items.map(cstr);
    const array = new BigUint64Array(items.length + 1);
    keep.forEach((b, i) => (array[i] = this.libc.addressOf(b)));
    return { array, keep };
  }

  pid(): number {
    return this.fn.getpid();
  }

  ppid(): number {
    return this.fn.getppid();
  }

  // ---- descriptors ------------------------------------------------------------------

  setCloexec(fd: number, on: boolean): void {
    const flags = this.check(this.fn.fcntl(fd, C.F_GETFD, 0), "fcntl(F_GETFD)", `fd ${fd}`);
    const next = on ? flags | C.FD_CLOEXEC : flags & ~C.FD_CLOEXEC;
    if (next !== flags) this.check(this.fn.fcntl(fd, C.F_SETFD, next), "fcntl(F_SETFD)", `fd ${fd}`);
  }

  isCloexec(fd: number): boolean {
    return (this.check(this.fn.fcntl(fd, C.F_GETFD, 0), "fcntl(F_GETFD)", `fd ${fd}`) & C.FD_CLOEXEC) !== 0;
  }

  /** Marks every descriptor from `from` up close-on-exec (Linux ≥ 5.11). */
  cloexecFrom(from: number): void {
    this.check(this.fn.close_range(from, 0xffffffff, C.CLOSE_RANGE_CLOEXEC), "close_range", `from fd ${from}`);
  }

  close(fd: number): void {
    this.fn.close(fd);
  }

  /**
   * Blocks (or unblocks) signals for the calling thread. The mask survives execve, which
   * is how signals sent during a re-exec wait, pending, for the new image's handlers.
   */
  maskSignals(signals: number[], block: boolean): void {
    const set = new Uint8Array(128);
    this.fn.sigemptyset(set);
    for (const s of signals) this.fn.sigaddset(set, s);
    const r = this.fn.pthread_sigmask(block ? 0 /* SIG_BLOCK */ : 1 /* SIG_UNBLOCK */, set, new Uint8Array(128));
    if (r !== 0) this.fail("pthread_sigmask", undefined, r);
  }

  /** Sets the disposition of `signal` to SIG_IGN (which survives execve); returns the previous handler. */
  ignoreSignal(signal: number): bigint {
    return this.fn.signal(signal, 1n /* SIG_IGN */);
  }

  /** Puts back a handler `ignoreSignal` returned. */
  restoreSignal(signal: number, handler: bigint): void {
    this.fn.signal(signal, handler);
  }

  /**
   * Before an execve into another program: signals this process ignores go back to their
   * default action, and none stays blocked (SIG_IGN and the mask survive execve; the
   * runtime ignores SIGPIPE and SIGXFSZ for itself). Handled signals are left alone: the
   * execve resets them, and the runtime may need its handlers until then.
   */
  defaultSignals(): void {
    const action = new Uint8Array(152); // glibc's struct sigaction; the handler comes first
    for (let s = 1; s <= 64; s++) {
      if (s === 9 || s === 19 || this.fn.sigaction(s, 0n, action) !== 0) continue;
      if (new DataView(action.buffer).getBigUint64(0, true) === 1n /* SIG_IGN */) this.fn.signal(s, 0n /* SIG_DFL */);
    }
    const none = new Uint8Array(128);
    this.fn.sigemptyset(none);
    const r = this.fn.pthread_sigmask(2 /* SIG_SETMASK */, none, new Uint8Array(128));
    if (r !== 0) this.fail("pthread_sigmask", undefined, r);
  }

  /** Stops SIGIO for `fd` (before exec: the new image has no handler yet, and SIGIO's default kills). */
  stopSignalWhenReadable(fd: number): void {
    const fl = this.check(this.fn.fcntl(fd, C.F_GETFL, 0), "fcntl(F_GETFL)", `fd ${fd}`);
    this.check(this.fn.fcntl(fd, C.F_SETFL, fl & ~C.O_ASYNC), "fcntl(F_SETFL)", `fd ${fd}`);
  }

  /** Makes `fd` raise SIGIO in this process when it becomes readable (or, for sockets, writable). */
  signalWhenReadable(fd: number): void {
    this.check(this.fn.fcntl(fd, C.F_SETOWN, this.pid()), "fcntl(F_SETOWN)", `fd ${fd}`);
    const fl = this.check(this.fn.fcntl(fd, C.F_GETFL, 0), "fcntl(F_GETFL)", `fd ${fd}`);
    this.check(this.fn.fcntl(fd, C.F_SETFL, fl | C.O_ASYNC | C.O_NONBLOCK), "fcntl(F_SETFL)", `fd ${fd}`);
  }

  // ---- sockets ----------------------------------------------------------------------

  /** socket + SO_REUSEADDR (TCP) + bind + listen; close-on-exec until handed to a child. */
  listenStream(addr: SockAddr, backlog: number, subject: string): number {
    const domain = addr.family === "unix" ? C.AF_UNIX : addr.family === 4 ? C.AF_INET : C.AF_INET6;
    const fd = this.check(this.fn.socket(domain, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0), "socket", subject);
    try {
      if (addr.family !== "unix") {
        const one = new Int32Array([1]);
        this.check(this.fn.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, one, 4), "setsockopt(SO_REUSEADDR)", subject);
      }
      const sa = encodeSockAddr(addr);
      this.check(this.fn.bind(fd, sa, sa.length), "bind", subject);
      this.check(this.fn.listen(fd, backlog), "listen", subject);
      return fd;
    } catch (e) {
      this.fn.close(fd);
      throw e;
    }
  }

  /** A non-blocking datagram socket bound to a unix path (for sd_notify from workers). */
  bindDatagram(path: string): number {
    const fd = this.check(this.fn.socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_CLOEXEC | C.SOCK_NONBLOCK, 0), "socket", path);
    try {
      const sa = encodeSockAddr({ family: "unix", path });
      this.check(this.fn.bind(fd, sa, sa.length), "bind", path);
      return fd;
    } catch (e) {
      this.fn.close(fd);
      throw e;
    }
  }

  /** One datagram, or null when none is waiting. */
  recvDatagram(fd: number, buf: Uint8Array): Uint8Array | null {
    const n = this.fn.recv(fd, buf, buf.length, C.MSG_DONTWAIT);
    if (n < 0) {
      const errno = this.errno();
      if (errno === 11 /* EAGAIN */ || errno === 4 /* EINTR */) return null;
      this.fail("recv", `fd ${fd}`, errno);
    }
    return buf.slice(0, n);
  }

  /** Lets `recvWithSender` learn the sending process of each datagram (SO_PASSCRED). */
  passCredentials(fd: number): void {
    const one = new Int32Array([1]);
    this.check(this.fn.setsockopt(fd, C.SOL_SOCKET, C.SO_PASSCRED, one, 4), "setsockopt(SO_PASSCRED)", `fd ${fd}`);
  }

  /**
   * One datagram with the PID of the process that sent it (SCM_CREDENTIALS), or null
   * when none is waiting. Descriptors that came with it (SCM_RIGHTS: sd_notify's
   * BARRIER=1 sends the write end of a pipe and waits for it to close) are closed at
   * once and counted in `fds`; none is ever kept. Layouts are those of LP64 Linux
   * (x86_64, aarch64).
   */
  recvWithSender(fd: number, buf: Uint8Array): { data: Uint8Array; pid: number; fds: number } | null {
    const iov = new BigUint64Array([this.libc.addressOf(buf), BigInt(buf.length)]);
    // room for the credentials and 253 descriptors (SCM_MAX_FD); more are discarded by the kernel
    const control = new Uint8Array(32 + 16 + 4 * 256);
    const msg = new BigUint64Array(7); // struct msghdr, 56 bytes
    msg[2] = this.libc.addressOf(iov);
    msg[3] = 1n;
    msg[4] = this.libc.addressOf(control);
    msg[5] = BigInt(control.length);
    const n = this.fn.recvmsg(fd, msg, C.MSG_DONTWAIT | C.MSG_CMSG_CLOEXEC);
    if (n < 0) {
      const errno = this.errno();
      if (errno === 11 /* EAGAIN */ || errno === 4 /* EINTR */) return null;
      this.fail("recvmsg", `fd ${fd}`, errno);
    }
    const cdv = new DataView(control.buffer);
    const controlLen = Math.min(Number(msg[5]), control.length);
    let pid = 0;
    let fds = 0;
    // struct cmsghdr { size_t len; int level; int type; } then the data, each aligned to 8
    for (let off = 0; off + 16 <= controlLen; ) {
      const len = Number(cdv.getBigUint64(off, true));
      if (len < 16 || off + len > controlLen) break;
      const level = cdv.getInt32(off + 8, true);
      const type = cdv.getInt32(off + 12, true);
      if (level === C.SOL_SOCKET && type === C.SCM_CREDENTIALS && len >= 28) pid = cdv.getInt32(off + 16, true);
      if (level === C.SOL_SOCKET && type === C.SCM_RIGHTS) {
        for (let p = off + 16; p + 4 <= off + len; p += 4, fds++) this.fn.close(cdv.getInt32(p, true));
      }
      off += (len + 7) & ~7;
    }
    return { data: buf.slice(0, n), pid, fds };
  }

  /** One pending connection (non-blocking, close-on-exec), or null when none is waiting. */
  accept(fd: number): number | null {
    const c = this.fn.accept4(fd, 0n, 0n, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
    if (c >= 0) return c;
    const errno = this.errno();
    if (errno === 11 || errno === 4 || errno === 103 /* ECONNABORTED */) return null;
    this.fail("accept4", `fd ${fd}`, errno);
  }

  /** Bytes read (0 = end of stream), or null when nothing is there yet. */
  readSome(fd: number, buf: Uint8Array): number | null {
    const n = this.fn.read(fd, buf, buf.length);
    if (n >= 0) return n;
    const errno = this.errno();
    if (errno === 11 || errno === 4) return null;
    this.fail("read", `fd ${fd}`, errno);
  }

  /**
   * Reads a non-blocking descriptor until it has nothing more, handing each chunk (a view
   * of `buf`, valid only during the call) to `take`. Says why it stopped: nothing more for
   * now, the end of the stream, or a read error.
   */
  readAvailable(fd: number, buf: Uint8Array, take: (chunk: Uint8Array) => void): "again" | "eof" | "error" {
    for (;;) {
      let n: number | null;
      try {
        n = this.readSome(fd, buf);
      } catch {
        return "error";
      }
      if (n === null) return "again";
      if (n === 0) return "eof";
      take(buf.subarray(0, n));
    }
  }

  /**
   * Writes a queue of chunks to a non-blocking descriptor until it is empty or the socket
   * buffer is full, taking written chunks off the queue. Says why it stopped.
   */
  writeQueued(fd: number, queue: Uint8Array[]): "done" | "full" | "error" {
    while (queue.length > 0) {
      const chunk = queue[0]!;
      let n: number | null;
      try {
        n = this.writeSome(fd, chunk);
      } catch {
        return "error";
      }
      if (n === null) return "full";
      if (n < chunk.length) queue[0] = chunk.subarray(n);
      else queue.shift();
    }
    return "done";
  }

  /** Bytes written, or null when the socket buffer is full. */
  writeSome(fd: number, data: Uint8Array): number | null {
    const n = this.fn.write(fd, data, data.length);
    if (n >= 0) return n;
    const errno = this.errno();
    if (errno === 11 || errno === 4) return null;
    this.fail("write", `fd ${fd}`, errno);
  }

  /** Writes all of `text` (retrying a full pipe a bounded number of times); errors are dropped. */
  writeAll(fd: number, text: string): void {
    writeWhole((data, off) => this.writeSome(fd, data.subarray(off)), text);
  }

  /** poll(2) without waiting: the revents of each descriptor, in order. */
  pollNow(fds: number[], events: number[]): number[] {
    if (fds.length === 0) return [];
    const buf = new Int32Array(fds.length * 2); // struct pollfd { int fd; short events; short revents; }
    fds.forEach((fd, i) => {
      buf[i * 2] = fd;
      buf[i * 2 + 1] = events[i]! & 0xffff;
    });
    const n = this.fn.poll(buf, fds.length, 0);
    if (n < 0) {
      const errno = this.errno();
      if (errno === 4) return fds.map(() => 0);
      this.fail("poll", undefined, errno);
    }
    return fds.map((_, i) => (buf[i * 2 + 1]! >>> 16) & 0xffff);
  }

  /**
   * Sends one datagram to a unix socket path, or to an abstract name (`@name`, as
   * systemd's NOTIFY_SOCKET may be). Throws on failure.
   */
  sendDatagram(path: string, data: Uint8Array): void {
    const name = new TextEncoder().encode(path.startsWith("@") ? path.slice(1) : path);
    const abstract = path.startsWith("@");
    const sa = new Uint8Array(2 + (abstract ? 1 : 0) + name.length + (abstract ? 0 : 1));
    new DataView(sa.buffer).setUint16(0, C.AF_UNIX, true);
    sa.set(name, abstract ? 3 : 2);
    const fd = this.check(this.fn.socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0), "socket", path);
    try {
      if (this.fn.sendto(fd, data, data.length, 0, sa, sa.length) < 0) this.fail("sendto", path);
    } finally {
      this.fn.close(fd);
    }
  }

  /** CLOCK_MONOTONIC in microseconds (what systemd's MONOTONIC_USEC wants). */
  monotonicMicros(): bigint {
    const ts = new BigInt64Array(2);
    this.check(this.fn.clock_gettime(1 /* CLOCK_MONOTONIC */, ts), "clock_gettime");
    return ts[0]! * 1_000_000n + ts[1]! / 1000n;
  }

  /** true when something accepts connections at this unix path */
  unixPathInUse(path: string): boolean {
    const fd = this.fn.socket(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    try {
      const sa = encodeSockAddr({ family: "unix", path });
      return this.fn.connect(fd, sa, sa.length) === 0;
    } finally {
      this.fn.close(fd);
    }
  }

  localAddress(fd: number): SockAddr {
    const buf = new Uint8Array(SOCKADDR_MAX);
    const len = new Uint32Array([SOCKADDR_MAX]);
    this.check(this.fn.getsockname(fd, buf, len), "getsockname", `fd ${fd}`);
    return decodeSockAddr(buf, len[0]!);
  }

  // ---- files ------------------------------------------------------------------------

  umask(mask: number): number {
    return this.fn.umask(mask);
  }

  chmod(path: string, mode: number): void {
    this.check(this.fn.chmod(cstr(path), mode), "chmod", path);
  }

  chown(path: string, uid: number, gid: number): void {
    this.check(this.fn.chown(cstr(path), uid >>> 0, gid >>> 0), "chown", path);
  }

  unlink(path: string): void {
    this.check(this.fn.unlink(cstr(path)), "unlink", path);
  }

  // ---- processes --------------------------------------------------------------------

  /** kill(2); false when the process is already gone. */
  kill(pid: number, signal: number): boolean {
    if (this.fn.kill(pid, signal) === 0) return true;
    const errno = this.errno();
    if (errno === 3 /* ESRCH */) return false;
    this.fail("kill", `pid ${pid}`, errno);
  }

  /** Collects one exited child without blocking, or null when none is waiting. */
  reapOne(): WaitStatus | null {
    const status = new Int32Array(1);
    const pid = this.fn.waitpid(-1, status, C.WNOHANG);
    if (pid <= 0) return null;
    const s = status[0]!;
    const sig = s & 0x7f;
    if (sig === 0) return { pid, exited: true, code: (s >> 8) & 0xff };
    return { pid, exited: false, signal: sig };
  }

  /** true while this process has a child, exited or not (none is collected). */
  hasChildren(): boolean {
    const info = new Uint8Array(128);
    // P_ALL; WEXITED | WNOHANG | WNOWAIT
    if (this.fn.waitid(0, 0, info, 4 | C.WNOHANG | 0x01000000) === 0) return true;
    const errno = this.errno();
    if (errno === 10 /* ECHILD */) return false;
    this.fail("waitid", undefined, errno);
  }

  setChildSubreaper(): void {
    this.check(this.fn.prctl(C.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)");
  }

  setParentDeathSignal(signal: number): void {
    this.check(this.fn.prctl(C.PR_SET_PDEATHSIG, signal, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)");
  }

  setIdentity(uid: number | undefined, gid: number | undefined): void {
    if (gid !== undefined) {
      const groups = new Uint32Array([gid]);
      this.check(this.fn.setgroups(1, groups), "setgroups", `gid ${gid}`);
      this.check(this.fn.setgid(gid), "setgid", `gid ${gid}`);
    }
    if (uid !== undefined) this.check(this.fn.setuid(uid), "setuid", `uid ${uid}`);
  }

  /** Replaces this process image; returns only by throwing. */
  execve(path: string, argv: string[], env: Record<string, string>): never {
    const a = this.cstrArray(argv);
    const e = this.cstrArray(Object.entries(env).map(([k, v]) => `${k}=${v}`));
    this.fn.execve(cstr(path), a.array, e.array);
    this.fail("execve", path);
  }

  /**
   * posix_spawn with a descriptor table of exactly 0, 1, 2 and `passFds` at 3..; see
   * spawn.ts. The runtime does not know this child: steward's reaper is its only waiter.
   */
  spawn(req: SpawnRequest): number {
    return posixSpawn(this, req);
  }
}
