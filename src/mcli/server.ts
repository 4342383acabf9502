/**
 * The master CLI server. Its listening sockets are bound through FFI so they can survive
 * the master's re-exec (no runtime can adopt a listening descriptor for us), and every
 * descriptor here is non-blocking with O_ASYNC: the kernel raises SIGIO when one can be
 * read or written, and `service()` then polls them all without waiting. Nothing polls
 * while nothing happens.
 *
 * Invariants: a session runs one command at a time, in order; a reply is always followed
 * by one empty line; bad input closes at most the session that sent it. The master closes
 * a session only after reading what the client sent (a lingering close): closing a
 * socket with unread input makes the kernel reset the connection, and the client would
 * lose the reply or the error that explains the close.
 *
 * Over ~350 lines on purpose: this is one session's life (accept, read, dispatch, write,
 * linger, close) and every transition of it is here, so an invariant above can be checked
 * in one file; what a session carries across the exec is exec-sessions.ts, streaming is
 * exec-streams.ts and event-stream.ts.
 */
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, SHUT_WR } from "../sys/constants.ts";
import type { Posix } from "../sys/posix.ts";
import { splitCommands } from "./protocol.ts";
import { ExecSessions } from "./exec-sessions.ts";
import { Session, type CliListener, type HandedSession } from "./session.ts";
import { evictionNotice, longestIdle } from "./sessions.ts";
import { EventLog } from "./events.ts";
import { startStream, STREAM_HANGUP, streamOver } from "./exec-streams.ts";
import { StreamReply } from "./event-stream.ts";

export { Session, type CliListener, type HandedSession } from "./session.ts";
export { EXEC_DRAIN_MS } from "./exec-sessions.ts";

export const MAX_SESSIONS_PER_LISTENER = 64;
export const IDLE_TIMEOUT_MS = 10 * 60_000;
export const MAX_LINE = 64 * 1024;
/** how long a closing session keeps reading (and discarding) before the descriptor is closed */
export const LINGER_MS = 2_000;
/** refused connections kept lingering (each for at most LINGER_MS) at once; beyond, they are closed at once */
const MAX_REFUSED_LINGERING = 512;
/** connections accepted in one go before the sessions get their turn */
const ACCEPTS_PER_TURN = 256;

/** Runs one command; resolves to its reply (without the closing empty line), null for `quit`, or a stream. */
export type CommandRunner = (session: Session, words: string[]) => string | null | StreamReply | Promise<string | null>;

const encoder = new TextEncoder();
/** never used in streaming mode: whole lines only (a streaming decoder would hold per-session state) */
const decoder = new TextDecoder();
const TOO_MANY = `Too many sessions (at most ${MAX_SESSIONS_PER_LISTENER} per listener).\n\n`;

export class CliServer {
  readonly listeners = new Map<string, CliListener>();
  readonly sessions = new Map<number, Session>();
  private readonly buf = new Uint8Array(65536);
  private readonly exec = new ExecSessions(this);
  private idleTimer?: ReturnType<typeof setInterval>;
  private refusedLingering = 0;
  private pollfds = new Int32Array(64);

  constructor(
    readonly px: Posix,
    private readonly run: CommandRunner,
    private readonly promptOf: (s: Session) => string,
    private readonly warn: (message: string) => void,
    /** what `show events` streams; a stream carried across the exec follows it again */
    readonly events: EventLog = new EventLog(),
  ) {}

  add(listener: CliListener): void {
    this.px.signalWhenReadable(listener.fd);
    this.listeners.set(listener.key, listener);
  }

  removeListener(key: string): void {
    this.listeners.delete(key);
  }

  // ---- across a re-exec: exec-sessions.ts ----------------------------------------------

  /** A session that survived exec: the one that asked for the reload (`requester`: its reply comes first), or a fresh one. */
  adoptSession(h: HandedSession, requester = true): Session | undefined {
    return this.exec.adopt(h, requester);
  }

  /** Before execve: what crosses it (`keep`, and sessions that sent nothing yet) is kept open for the next image, every other session ends (answered first). */
  prepareExec(keep: readonly (Session | undefined)[]): HandedSession[] {
    return this.exec.prepare(existing(keep));
  }

  execFailed(keep: readonly (Session | undefined)[]): void {
    this.exec.failed(existing(keep));
  }

  /** Whether `s`, answered, can cross an exec as it is: open, with nothing left to write or to run. */
  crossesExec(s: Session): boolean {
    return this.alive(s) && s.out.length === 0 && !s.busy && !s.closing && s.lingering === undefined;
  }

  handOver(s: Session): HandedSession {
    return this.exec.handOver(s);
  }

  /** A reload begins: sessions silent since before this are merely idle at its exec. */
  reloadStarted(at = Date.now()): void {
    this.exec.reloadStarted(at);
  }

  /** Called on SIGIO (and after anything that queued output): accept, read, run, write. */
  service(): void {
    const listeners = [...this.listeners.values()];
    const sessions = [...this.sessions.values()];
    const count = listeners.length + sessions.length;
    if (count === 0) return;
    // struct pollfd { int fd; short events; short revents; }, in a buffer kept across calls
    if (this.pollfds.length < count * 2) this.pollfds = new Int32Array(count * 4);
    const pollfds = this.pollfds;
    listeners.forEach((l, i) => {
      pollfds[i * 2] = l.fd;
      pollfds[i * 2 + 1] = POLLIN;
    });
    sessions.forEach((s, j) => {
      const i = listeners.length + j;
      pollfds[i * 2] = s.fd;
      pollfds[i * 2 + 1] = POLLIN | (s.out.length > 0 ? POLLOUT : 0);
    });
    if (this.px.fn.poll(pollfds, count, 0) < 0) return; // EINTR: the next SIGIO comes back here
    const revents = (i: number) => (pollfds[i * 2 + 1]! >>> 16) & 0xffff;
    listeners.forEach((l, i) => {
      if (revents(i) & POLLIN) this.acceptAll(l);
    });
    sessions.forEach((s, j) => {
      const r = revents(listeners.length + j);
      if (r & POLLNVAL || (s.stream && r & STREAM_HANGUP)) return this.drop(s);
      if (r & POLLIN || r & POLLHUP || r & POLLERR) this.readAll(s);
      if (this.alive(s)) this.flush(s);
    });
  }

  private acceptAll(l: CliListener): void {
    for (let i = 0; ; i++) {
      if (i === ACCEPTS_PER_TURN) {
        // SIGIO is raised per arrival, not per waiting connection: come back for the rest
        // after the others had their turn, or they would wait for the next arrival.
        setTimeout(() => this.service(), 0);
        return;
      }
      let fd: number | null;
      try {
        fd = this.px.accept(l.fd);
      } catch (e) {
        this.warn(`master CLI: ${(e as Error).message}`);
        return;
      }
      if (fd === null) return;
      const refused = l.sessions >= MAX_SESSIONS_PER_LISTENER && !this.evictIdle(l);
      if (refused && this.refusedLingering >= MAX_REFUSED_LINGERING) {
        try {
          this.px.writeSome(fd, encoder.encode(TOO_MANY));
        } catch {
          // gone already
        }
        this.px.close(fd);
        continue;
      }
      this.px.signalWhenReadable(fd);
      const s = new Session(fd, l, !refused);
      if (refused) {
        // Told why, then closed once its input is read (see lingering close above).
        this.refusedLingering++;
        this.sessions.set(fd, s);
        s.closing = true;
        this.send(s, TOO_MANY);
        this.readAll(s);
        continue;
      }
      l.sessions++;
      this.sessions.set(fd, s);
      this.armIdleTimer();
      // Input that arrived before O_ASYNC was set raised no SIGIO: read it now.
      this.readAll(s);
    }
  }

  /** Makes room on `l` by closing its session idle the longest, if one qualifies (sessions.ts). */
  private evictIdle(l: CliListener): boolean {
    let victim: Session | undefined;
    let now: number;
    for (;;) {
      now = Date.now();
      victim = longestIdle(this.sessions.values(), l, now);
      if (!victim) return false;
      // input that arrived since the last poll makes it active, not idle: read it first (a
      // session it leaves active is passed over; one that ended has made room already)
      this.readAll(victim);
      if (l.sessions < MAX_SESSIONS_PER_LISTENER) return true;
      if (longestIdle([victim], l, now) === victim) break;
    }
    // it no longer holds a place: it lingers like a refused connection until its close
    victim.counted = false;
    l.sessions--;
    this.refusedLingering++;
    victim.closing = true;
    this.send(victim, evictionNotice(victim, now, MAX_SESSIONS_PER_LISTENER));
    if (this.refusedLingering > MAX_REFUSED_LINGERING) this.drop(victim);
    return true;
  }

  readAll(s: Session): void {
    const end = this.px.readAvailable(s.fd, this.buf, (chunk) => {
      s.lastActive = Date.now();
      if (s.closing || s.tooLong || s.lingering !== undefined) return;
      this.takeLines(s, chunk);
    });
    if (end === "error") return this.drop(s);
    if (end === "eof") s.peerClosed = true;
    if (s.peerClosed && s.partialBytes > 0 && !s.closing && !s.tooLong) this.acceptLine(s, this.lineOf(s, new Uint8Array(0)));
    if (s.stream && streamOver(s)) s.stream.end();
    this.pump(s);
  }

  /** Queues the commands of every line `chunk` ends; keeps the rest for the next read. */
  private takeLines(s: Session, chunk: Uint8Array): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      if (s.partialBytes + nl - start > MAX_LINE) return this.lineTooLong(s);
      this.acceptLine(s, this.lineOf(s, chunk.subarray(start, nl)));
      start = nl + 1;
    }
    if (start === chunk.length) return;
    s.partial.push(chunk.slice(start)); // a copy: the read buffer is reused
    s.partialBytes += chunk.length - start;
    if (s.partialBytes > MAX_LINE) this.lineTooLong(s);
  }

  /** The commands before the long line are still answered (pump), then the error, then the close. */
  private lineTooLong(s: Session): void {
    s.partial = [];
    s.partialBytes = 0;
    s.tooLong = true;
  }

  /** The text of the line whose last bytes are `tail` (earlier ones wait in `s.partial`). */
  private lineOf(s: Session, tail: Uint8Array): string {
    if (s.partialBytes === 0) return decoder.decode(tail);
    const bytes = new Uint8Array(s.partialBytes + tail.length);
    let at = 0;
    for (const part of s.partial) {
      bytes.set(part, at);
      at += part.length;
    }
    bytes.set(tail, at);
    s.partial = [];
    s.partialBytes = 0;
    return decoder.decode(bytes);
  }

  private acceptLine(s: Session, line: string): void {
    const commands = splitCommands(line.replace(/\r$/, ""));
    // An empty line re-prints the prompt, if the prompt is on when its turn comes.
    if (commands.length === 0) commands.push([]);
    s.queue.push(...commands);
  }

  /** Runs queued commands one at a time. */
  pump(s: Session): void {
    while (!s.busy && !s.closing && s.queue.length > 0) {
      const words = s.queue.shift()!;
      if (words.length === 0 && !s.prompt) continue;
      let result: ReturnType<CommandRunner>;
      try {
        result = words.length === 0 ? "" : this.run(s, words);
      } catch (e) {
        result = `Internal error: ${(e as Error).message}`;
      }
      if (result instanceof StreamReply) {
        startStream(this, s, result);
        continue; // it ended at once if more commands were waiting
      }
      if (result instanceof Promise) {
        s.busy = true;
        result.then(
          (r) => this.finish(s, r),
          (e) => this.finish(s, `Internal error: ${(e as Error).message}`),
        );
        return;
      }
      this.reply(s, result);
    }
    if (s.tooLong && !s.busy && !s.closing && s.queue.length === 0) {
      this.send(s, `Line too long (more than ${MAX_LINE} bytes): closing the session.\n`);
      s.closing = true;
    }
    this.maybeClose(s);
  }

  /** Completes an asynchronous command (also for a session adopted across exec). */
  finish(s: Session, reply: string | null): void {
    if (!this.alive(s)) return;
    s.busy = false;
    this.reply(s, reply);
    this.pump(s);
    this.flush(s);
  }

  private reply(s: Session, text: string | null): void {
    if (text === null) {
      s.closing = true;
      s.queue = [];
      return;
    }
    s.replies++;
    s.lastActive = Date.now();
    const body = text === "" || text.endsWith("\n") ? text : `${text}\n`;
    this.send(s, `${body}\n${s.prompt ? this.promptOf(s) : ""}`);
  }

  send(s: Session, text: string): void {
    s.out.push(encoder.encode(text));
    this.flush(s);
  }

  flush(s: Session): void {
    if (!this.alive(s)) return;
    const end = this.px.writeQueued(s.fd, s.out);
    if (end === "error") return this.drop(s);
    if (end === "full") return; // SIGIO tells us when there is room again
    this.maybeClose(s);
  }

  private maybeClose(s: Session): void {
    if (!this.alive(s) || s.out.length > 0 || s.busy) return;
    if (s.peerClosed && (s.closing || (s.queue.length === 0 && !s.tooLong))) return this.drop(s);
    if (s.closing && s.lingering === undefined) this.linger(s);
  }

  /** Closing while the client may still be sending: half-close, then read to EOF (bounded) before closing. */
  private linger(s: Session): void {
    this.px.fn.shutdown(s.fd, SHUT_WR);
    s.queue = [];
    s.partial = [];
    s.partialBytes = 0;
    s.lingering = setTimeout(() => this.drop(s), LINGER_MS);
  }

  /**
   * Whether `s` is still open. By identity: a dropped session's descriptor number may
   * already belong to a newer session when a late reply (a worker's) arrives.
   */
  private alive(s: Session): boolean {
    return this.sessions.get(s.fd) === s;
  }

  drop(s: Session): void {
    if (!this.alive(s)) return;
    this.sessions.delete(s.fd);
    if (s.counted) s.listener.sessions--;
    else this.refusedLingering--;
    if (s.lingering !== undefined) clearTimeout(s.lingering);
    s.stream?.pause();
    this.px.fn.shutdown(s.fd, SHUT_WR);
    this.px.close(s.fd);
  }

  /**
   * The idle check runs only while sessions exist: it stops itself at the first tick that
   * finds none (rather than at every last close, so a stream of short sessions does not
   * create and cancel a timer each).
   */
  armIdleTimer(): void {
    if (this.idleTimer) return;
    this.idleTimer = setInterval(() => {
      if (this.sessions.size === 0) return this.disarmIdleTimer();
      const now = Date.now();
      for (const s of [...this.sessions.values()]) {
        if (!s.busy && now - s.lastActive > IDLE_TIMEOUT_MS) this.drop(s);
      }
    }, 30_000);
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
  }

  closeAll(): void {
    for (const s of [...this.sessions.values()]) {
      // a stream's client learns where to resume (best effort: the master is exiting)
      if (s.stream) this.px.writeQueued(s.fd, [...s.out, encoder.encode(s.stream.closing("the master is exiting"))]);
      this.drop(s);
    }
    this.disarmIdleTimer();
    for (const l of this.listeners.values()) this.px.close(l.fd);
    this.listeners.clear();
  }
}

/** The sessions of `keep` that are given, once each. */
function existing(keep: readonly (Session | undefined)[]): Session[] {
  return [...new Set(keep.filter((s): s is Session => s !== undefined))];
}
