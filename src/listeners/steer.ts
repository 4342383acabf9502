/**
 * Steering a reuse-port address away from the old generation before it is told to stop
 * (REFERENCE §3, share = "reuseport"). The shutdown() of Deno's serve() closes the connections it
 * accepted but has not read yet (denoland/deno#31959), and it has no "stop accepting, keep
 * the connections". Shutting the old worker's listening socket down under it (pidfd_getfd +
 * shutdown) does stop it, but Deno's serve() then dies: its accept fails with EINVAL and
 * `finished` rejects unhandled (exit 1, requests in flight lost; measured with Deno 2.9.6).
 * So steward leaves the old sockets listening and attaches a classic-BPF reuse-port program
 * to the group (SO_ATTACH_REUSEPORT_CBPF, any member's descriptor, same uid) that picks only
 * the new generation's sockets: the old workers get no new connection, accept and answer
 * what they already had, and when their stop signal comes (SETTLE_MS later) nothing is
 * left unread.
 *
 * Invariants:
 * - the program returns an index into the group's socket array, which is join order until
 *   a member leaves (the last one then takes its slot). The old generation's N sockets
 *   joined first, so the M new ones are [N, N + M) when no member left since they joined;
 *   anything else (an unknown socket, an old worker restarted after the new ones) skips the
 *   steering, and so does the supervisor when the new generation started while old workers
 *   of an earlier reload were there (state.ts besideOld): their sockets leaving after the
 *   new ones joined move new sockets into low slots and old ones up, and a program built on
 *   join order then sends every new connection to an old worker (measured: 4 closed
 *   unanswered at once with back-to-back reloads). An index past the end falls back to the
 *   kernel's hash over every member (reuseport_select_sock).
 * - while the old sockets leave (k of them gone, each replaced by the last new one), only
 *   [N, N + M - k) are surely new, and an index past the end would fall back to the hash,
 *   which may pick an old socket whose worker has not begun its shutdown yet (measured: one
 *   connection closed unread by Deno's serve() per few reloads with [N, N + M)). So the program
 *   picks among [N, M + 1), new for every k < N (all of them gone, the hash sees only new
 *   ones): with as many new as old workers that is one socket, which takes the new
 *   connections alone until the old ones have left. Fewer new than old: [N, N + 1), and a
 *   connection may still reach an old socket late in the departure.
 * - the program is detached once the old workers are gone (detach()), or replaced by the
 *   next reload's.
 * - descriptors duplicated from a worker are closed at once: a copy kept by the master would
 *   keep the worker's socket listening (and in the group) after the worker exited.
 */
import type { Logger } from "../log.ts";
import * as C from "../sys/constants.ts";
import type { Posix } from "../sys/posix.ts";
import { type BoundListener } from "./registry.ts";
import { listeningSockets, listensOn, type ListeningSocket } from "./reserve.ts";
import { boundAddress, heldSockets, isReusePort } from "../workers/reuseport.ts";

/**
 * After the program is attached, how long the old workers get to read what they accepted
 * before their stop signal. 100 ms was not always enough on a busy machine: in a full
 * suite run on 2 cores, where a Deno worker's event loop waits for a CPU, one connection
 * of 6766 was closed unread by Deno's serve() (test/e2e/reuseport.test.ts). It delays only
 * the old workers' stop, never the reload's outcome.
 */
export const SETTLE_MS = 300;
const SO_ATTACH_REUSEPORT_CBPF = 51;
const SO_DETACH_REUSEPORT_BPF = 68;
/** the same numbers on x86_64 and arm64 (asm-generic, Linux ≥ 5.3 / 5.6) */
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_GETFD = 438;
const ENOENT = 2;

/**
 * The slots [lo, lo + count) of the new generation's sockets in the reuse-port group, or why
 * they are not known. `listing`: the inodes of the sockets listening on the address in
 * /proc/net/tcp{,6} order: a bucket lists IPv4 sockets newest first and IPv6 reuse-port ones
 * oldest first (__inet_hash adds the former at the head, the latter at the tail).
 */
export function steeringRange(family: 4 | 6, listing: string[], old: ReadonlySet<string>, fresh: ReadonlySet<string>): { lo: number; count: number } | string {
  const sockets = [...new Set(listing)];
  const unknown = sockets.filter((i) => !old.has(i) && !fresh.has(i));
  if (unknown.length > 0) return `socket ${unknown[0]} on the address is held by no worker`;
  const n = sockets.filter((i) => old.has(i)).length;
  const m = sockets.length - n;
  if (n === 0 || m === 0) return n === 0 ? "no old worker listens" : "no new worker listens";
  const joined = family === 4 ? [...sockets].reverse() : sockets;
  if (!joined.slice(0, n).every((i) => old.has(i))) return "an old worker joined after the new ones";
  return { lo: n, count: Math.max(1, m - n + 1) };
}

/** `lo + random % count` as classic BPF: ld rand; mod #count; add #lo; ret a (struct sock_filter, 8 bytes each). */
export function steeringProgram(lo: number, count: number): Uint8Array {
  const code: [number, number][] = [
    [0x20, (-0x1000 + 56) >>> 0], // BPF_LD|BPF_W|BPF_ABS at SKF_AD_OFF + SKF_AD_RANDOM
    [0x94, count], // BPF_ALU|BPF_MOD|BPF_K
    [0x04, lo], // BPF_ALU|BPF_ADD|BPF_K
    [0x16, 0], // BPF_RET|BPF_A
  ];
  const out = new Uint8Array(code.length * 8);
  const view = new DataView(out.buffer);
  code.forEach(([op, k], i) => {
    view.setUint16(i * 8, op, true);
    view.setUint32(i * 8 + 4, k, true);
  });
  return out;
}

export class ListenerSteering {
  private readonly logged = new Set<string>();
  /** a program may be attached (detach() has something to do) */
  private attached = false;

  constructor(
    private readonly px: Posix,
    private readonly log: Logger,
  ) {}

  /**
   * Steers each reuse-port listener's new connections to the workers `fresh` (before
   * `old` are told to stop). Returns how long to wait before the stop signal: SETTLE_MS
   * when a program was attached, 0 otherwise (today's behaviour).
   */
  steer(listeners: BoundListener[], old: number[], fresh: number[]): number {
    let steered = false;
    const reuse = listeners.filter(isReusePort);
    if (reuse.length === 0) return 0;
    const all = listeningSockets();
    for (const l of reuse) {
      const address = boundAddress(l);
      const sockets = all.filter((s) => listensOn(s, address));
      const oldHeld = heldSockets(old, sockets);
      const freshHeld = heldSockets(fresh, sockets);
      const range = steeringRange(address.family, sockets.map((s) => s.inode), new Set(oldHeld.map((h) => h.inode)), new Set(freshHeld.map((h) => h.inode)));
      try {
        if (typeof range === "string") {
          if (freshHeld[0]) this.setOption(freshHeld[0], SO_DETACH_REUSEPORT_BPF, new Int32Array([0]), true);
          this.once(`Listener '${l.name}': old workers not steered away before their stop: ${range}`);
          continue;
        }
        const program = steeringProgram(range.lo, range.count);
        const fprog = new BigUint64Array([BigInt(program.length / 8), this.px.libc.addressOf(program)]);
        this.setOption(freshHeld[0]!, SO_ATTACH_REUSEPORT_CBPF, fprog, false);
        steered = this.attached = true;
        this.log.debug(`Listener '${l.name}': new connections go to ${range.count} new socket(s) only; ${range.lo} old socket(s) finish what they accepted`);
      } catch (e) {
        this.once(`Listener '${l.name}': old workers not steered away before their stop: ${(e as Error).message}`);
      }
    }
    return steered ? SETTLE_MS : 0;
  }

  /** Detaches the program from each reuse-port group (through a socket of `current`), once the old workers it steered away from are gone. */
  detach(listeners: BoundListener[], current: number[]): void {
    if (!this.attached) return;
    this.attached = false;
    const all = listeningSockets();
    for (const l of listeners.filter(isReusePort)) {
      const address = boundAddress(l);
      const held = heldSockets(current, all.filter((s) => listensOn(s, address)))[0];
      try {
        if (held) this.setOption(held, SO_DETACH_REUSEPORT_BPF, new Int32Array([0]), true);
      } catch (e) {
        this.once(`Listener '${l.name}': cannot detach the steering program: ${(e as Error).message}`);
      }
    }
  }

  private once(message: string): void {
    const key = message.replace(/\d+/g, "#");
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log.debug(message);
  }

  /** setsockopt on a worker's socket through a duplicate (pidfd_getfd), closed at once. */
  private setOption(held: { pid: number; fd: number }, option: number, value: ArrayBufferView, ignoreMissing: boolean): void {
    const subject = `(worker ${held.pid} fd ${held.fd})`;
    const pidfd = this.px.fn.syscall(SYS_PIDFD_OPEN, held.pid, 0, 0);
    if (pidfd < 0) this.px.fail("pidfd_open", subject);
    let fd = -1;
    try {
      fd = this.px.fn.syscall(SYS_PIDFD_GETFD, pidfd, held.fd, 0);
      if (fd < 0) this.px.fail("pidfd_getfd", subject);
      const ret = this.px.fn.setsockopt(fd, C.SOL_SOCKET, option, value, value.byteLength);
      if (ret === -1 && !(ignoreMissing && this.px.errno() === ENOENT)) this.px.fail("setsockopt", subject);
    } finally {
      if (fd >= 0) this.px.close(fd);
      this.px.close(pidfd);
    }
  }
}
