/**
 * Parking signals on the JS thread across a re-exec. Blocking a signal on the JS thread
 * alone does not keep it for the next image: Bun and Deno run other threads that do not
 * block it, the kernel hands a process-directed signal to any of them, and the runtime's
 * native handler there queues it for a JavaScript callback that the execve then discards.
 * While parked, a signal's handler (on every thread) is a few instructions that send it
 * on to the JS thread (tgkill), where it is blocked: it waits there, pending, through
 * execve, and the next image receives it once it unblocks.
 *
 * The handler is machine code: no libc function forwards a signal to another thread, and
 * neither runtime can run JavaScript in a signal handler. Without it (an architecture
 * other than x86-64 and AArch64, or JavaScript off the main thread), park() only blocks
 * the signals on this thread, as before.
 */
import type { Posix } from "./posix.ts";

/** signal: on entry the signal number is the first argument; getpid, then tgkill(pid, pid, signal) */
const FORWARDERS: Record<string, Uint8Array> = {
  // mov edx,edi; mov eax,39; syscall; mov edi,eax; mov esi,eax; mov eax,234; syscall; ret
  // (syscall preserves every register but rax, rcx and r11)
  x64: new Uint8Array([0x89, 0xfa, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc7, 0x89, 0xc6, 0xb8, 0xea, 0, 0, 0, 0x0f, 0x05, 0xc3]),
  // mov w2,w0; mov x8,#172; svc #0; mov w1,w0; mov x8,#131; svc #0; ret
  arm64: new Uint8Array(new Uint32Array([0x2a0003e2, 0xd2801588, 0xd4000001, 0x2a0003e1, 0xd2801068, 0xd4000001, 0xd65f03c0]).buffer),
};

const PAGE = 4096;
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE = 2;
const MAP_ANONYMOUS = 0x20;
/** glibc's struct sigaction on LP64 Linux: handler, 128-byte mask, int flags, restorer */
const SIGACTION_SIZE = 152;
const SA_FLAGS_OFFSET = 136;
const SA_RESTART = 0x10000000;
const SIG_BLOCK = 0;
const SIG_UNBLOCK = 1;

export class SignalPark {
  /** the handlers in place before park(), by signal */
  private readonly saved = new Map<number, Uint8Array>();
  private forwarder: bigint | undefined | null = null;

  constructor(
    private readonly px: Posix,
    private readonly arch: string,
  ) {}

  /** true when parked signals are forwarded to this thread (false: only blocked on it) */
  get forwards(): boolean {
    return this.handler() !== undefined;
  }

  /**
   * From now on `signals` wait, pending, on this thread (across execve too) instead of
   * reaching the runtime's handlers.
   */
  park(signals: readonly number[]): void {
    this.mask(signals, SIG_BLOCK);
    const handler = this.handler();
    if (handler === undefined) return;
    const act = new Uint8Array(SIGACTION_SIZE);
    const view = new DataView(act.buffer);
    view.setBigUint64(0, handler, true);
    view.setInt32(SA_FLAGS_OFFSET, SA_RESTART, true);
    for (const s of signals) {
      if (this.saved.has(s)) continue;
      const old = new Uint8Array(SIGACTION_SIZE);
      if (this.px.fn.sigaction(s, this.px.libc.addressOf(act), old) !== 0) this.px.fail("sigaction", `signal ${s}`);
      this.saved.set(s, old);
    }
  }

  /** Those of `signals` that wait, pending, for this thread. */
  pending(signals: readonly number[]): number[] {
    const set = new Uint8Array(128);
    if (this.px.fn.sigpending(set) !== 0) this.px.fail("sigpending");
    return signals.filter((s) => this.px.fn.sigismember(set, s) === 1);
  }

  /** Undoes park(): the runtime's handlers are back, and what waits is delivered to them now. */
  release(signals: readonly number[]): void {
    const scratch = new Uint8Array(SIGACTION_SIZE);
    for (const [s, old] of this.saved) this.px.fn.sigaction(s, this.px.libc.addressOf(old), scratch);
    this.saved.clear();
    this.mask(signals, SIG_UNBLOCK);
  }

  private mask(signals: readonly number[], how: number): void {
    const set = new Uint8Array(128);
    this.px.fn.sigemptyset(set);
    for (const s of signals) this.px.fn.sigaddset(set, s);
    const r = this.px.fn.pthread_sigmask(how, set, new Uint8Array(128));
    if (r !== 0) this.px.fail("pthread_sigmask", undefined, r);
  }

  /** The forwarding handler, made once per image (its page is never unmapped: a thread may be in it). */
  private handler(): bigint | undefined {
    if (this.forwarder !== null) return this.forwarder;
    this.forwarder = undefined;
    const code = FORWARDERS[this.arch];
    // it forwards to the thread whose id is the PID: JavaScript must run there
    if (!code || this.px.fn.gettid() !== this.px.pid()) return undefined;
    const fn = this.px.fn;
    const page = fn.mmap(0n, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // MAP_FAILED is -1, which a runtime may round when it passes pointers as doubles
    if (page <= 0n || page >= 1n << 56n) return undefined;
    fn.memcpy(page, code, code.length);
    // on AArch64 making the page executable also brings the instruction cache up to date
    if (fn.mprotect(page, PAGE, PROT_READ | PROT_EXEC) !== 0) return undefined;
    this.forwarder = page;
    return page;
  }
}
