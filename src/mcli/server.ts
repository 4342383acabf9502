/**
 * The master CLI server. Its listening sockets are bound through FFI so they can survive
 * the master's re-exec (no runtime can adopt a listening descriptor for us), and every
 * descriptor here is non-blocking with O_ASYNC: the kernel raises SIGIO when one can be
 * read or written, and `service()` then polls them all without waiting. Nothing polls
 * while nothing happens.
 *
 * Invariants: a session runs one command at a time, in order; a reply is always followed
 * by one empty line; bad input closes at most the session that sent it.
 */
import type { MasterCliConfig } from "../config/types.ts";
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, SHUT_WR } from "../sys/constants.ts";
import type { Posix } from "../sys/posix.ts";
import { splitCommands, type Level } from "./protocol.ts";

export const MAX_SESSIONS_PER_LISTENER = 64;
export const IDLE_TIMEOUT_MS = 10 * 60_000;
export const MAX_LINE = 64 * 1024;

export interface CliListener {
  key: string;
  fd: number;
  config: MasterCliConfig;
  /** a unix socket file this master created */
  path?: string;
  sessions: number;
}

/** What a session carries across a re-exec when it asked for the reload. */
export interface HandedSession {
  fd: number;
  listenerKey: string;
  level: Level;
  prompt: boolean;
  target?: string;
  /** input received after the reload command, still to run */
  pending: string[][];
  peerClosed: boolean;
}

export class Session {
  level: Level;
  prompt = false;
  /** default routing target (`@1`, `@!123`), if set */
  target?: string;
  input = "";
  queue: string[][] = [];
  out: Uint8Array[] = [];
  busy = false;
  peerClosed = false;
  closing = false;
  lastActive = Date.now();

  constructor(
    readonly fd: number,
    readonly listener: CliListener,
  ) {
    this.level = listener.config.level;
  }
}

/** Runs one command; resolves to its reply (without the closing empty line), or null for `quit`. */
export type CommandRunner = (session: Session, words: string[]) => string | null | Promise<string | null>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CliServer {
  readonly listeners = new Map<string, CliListener>();
  readonly sessions = new Map<number, Session>();
  private readonly buf = new Uint8Array(65536);
  private idleTimer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly px: Posix,
    private readonly run: CommandRunner,
    private readonly promptOf: (s: Session) => string,
    private readonly warn: (message: string) => void,
  ) {}

  add(listener: CliListener): void {
    this.px.signalWhenReadable(listener.fd);
    this.listeners.set(listener.key, listener);
  }

  removeListener(key: string): void {
    this.listeners.delete(key);
  }

  /** A session that survived exec (the one that asked for the reload). */
  adoptSession(h: HandedSession): Session | undefined {
    const listener = this.listeners.get(h.listenerKey);
    if (!listener) {
      this.px.close(h.fd);
      return undefined;
    }
    this.px.setCloexec(h.fd, true);
    this.px.signalWhenReadable(h.fd);
    const s = new Session(h.fd, listener);
    s.level = h.level;
    s.prompt = h.prompt;
    if (h.target !== undefined) s.target = h.target;
    s.queue = h.pending;
    s.peerClosed = h.peerClosed;
    s.busy = true; // its reload reply comes first
    listener.sessions++;
    this.sessions.set(s.fd, s);
    this.armIdleTimer();
    return s;
  }

  /** Before execve: listeners (and the requesting session) stay open, without SIGIO. */
  prepareExec(keep: Session | undefined): void {
    for (const l of this.listeners.values()) {
      this.px.stopSignalWhenReadable(l.fd);
      this.px.setCloexec(l.fd, false);
    }
    if (keep) {
      this.px.stopSignalWhenReadable(keep.fd);
      this.px.setCloexec(keep.fd, false);
    }
  }

  execFailed(keep: Session | undefined): void {
    for (const l of this.listeners.values()) {
      this.px.setCloexec(l.fd, true);
      this.px.signalWhenReadable(l.fd);
    }
    if (keep) {
      this.px.setCloexec(keep.fd, true);
      this.px.signalWhenReadable(keep.fd);
    }
  }

  handOver(s: Session): HandedSession {
    return {
      fd: s.fd,
      listenerKey: s.listener.key,
      level: s.level,
      prompt: s.prompt,
      ...(s.target !== undefined ? { target: s.target } : {}),
      pending: s.queue,
      peerClosed: s.peerClosed,
    };
  }

  /** Called on SIGIO (and after anything that queued output): accept, read, run, write. */
  service(): void {
    const listeners = [...this.listeners.values()];
    const sessions = [...this.sessions.values()];
    const fds = [...listeners.map((l) => l.fd), ...sessions.map((s) => s.fd)];
    const events = [...listeners.map(() => POLLIN), ...sessions.map((s) => POLLIN | (s.out.length > 0 ? POLLOUT : 0))];
    const revents = this.px.pollNow(fds, events);
    listeners.forEach((l, i) => {
      if (revents[i]! & POLLIN) this.acceptAll(l);
    });
    sessions.forEach((s, j) => {
      const r = revents[listeners.length + j]!;
      if (r & POLLNVAL) return this.drop(s);
      if (r & POLLIN || r & POLLHUP || r & POLLERR) this.readAll(s);
      if (this.sessions.has(s.fd)) this.flush(s);
    });
  }

  private acceptAll(l: CliListener): void {
    for (let i = 0; i < 256; i++) {
      let fd: number | null;
      try {
        fd = this.px.accept(l.fd);
      } catch (e) {
        this.warn(`master CLI: ${(e as Error).message}`);
        return;
      }
      if (fd === null) return;
      if (l.sessions >= MAX_SESSIONS_PER_LISTENER) {
        this.px.writeSome(fd, encoder.encode(`Too many sessions (at most ${MAX_SESSIONS_PER_LISTENER} per listener).\n\n`));
        this.px.close(fd);
        continue;
      }
      this.px.signalWhenReadable(fd);
      const s = new Session(fd, l);
      l.sessions++;
      this.sessions.set(fd, s);
      this.armIdleTimer();
      // Input that arrived before O_ASYNC was set raised no SIGIO: read it now.
      this.readAll(s);
    }
  }

  private readAll(s: Session): void {
    for (;;) {
      let n: number | null;
      try {
        n = this.px.readSome(s.fd, this.buf);
      } catch {
        return this.drop(s);
      }
      if (n === null) break;
      if (n === 0) {
        s.peerClosed = true;
        break;
      }
      s.lastActive = Date.now();
      if (s.closing) continue;
      s.input += decoder.decode(this.buf.subarray(0, n), { stream: true });
      let nl: number;
      while ((nl = s.input.indexOf("\n")) >= 0) {
        const line = s.input.slice(0, nl);
        s.input = s.input.slice(nl + 1);
        this.acceptLine(s, line);
        if (s.closing) break;
      }
      if (s.input.length > MAX_LINE) {
        s.input = "";
        s.queue = [];
        this.send(s, `Line too long (more than ${MAX_LINE} bytes): closing the session.\n`);
        s.closing = true;
      }
    }
    if (s.peerClosed && s.input.trim() !== "" && !s.closing) {
      this.acceptLine(s, s.input);
      s.input = "";
    }
    this.pump(s);
  }

  private acceptLine(s: Session, line: string): void {
    const commands = splitCommands(line.replace(/\r$/, ""));
    if (commands.length === 0 && s.prompt) commands.push([]);
    s.queue.push(...commands);
  }

  /** Runs queued commands one at a time. */
  pump(s: Session): void {
    while (!s.busy && !s.closing && s.queue.length > 0) {
      const words = s.queue.shift()!;
      let result: string | null | Promise<string | null>;
      try {
        result = words.length === 0 ? "" : this.run(s, words);
      } catch (e) {
        result = `Internal error: ${(e as Error).message}`;
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
    this.maybeClose(s);
  }

  /** Completes an asynchronous command (also for a session adopted across exec). */
  finish(s: Session, reply: string | null): void {
    if (!this.sessions.has(s.fd)) return;
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
    const body = text === "" || text.endsWith("\n") ? text : `${text}\n`;
    this.send(s, `${body}\n${s.prompt ? this.promptOf(s) : ""}`);
  }

  private send(s: Session, text: string): void {
    s.out.push(encoder.encode(text));
    this.flush(s);
  }

  private flush(s: Session): void {
    while (s.out.length > 0) {
      const chunk = s.out[0]!;
      let n: number | null;
      try {
        n = this.px.writeSome(s.fd, chunk);
      } catch {
        return this.drop(s);
      }
      if (n === null) return; // SIGIO tells us when there is room again
      if (n < chunk.length) s.out[0] = chunk.subarray(n);
      else s.out.shift();
    }
    this.maybeClose(s);
  }

  private maybeClose(s: Session): void {
    if (!this.sessions.has(s.fd) || s.out.length > 0 || s.busy) return;
    if (s.closing || (s.peerClosed && s.queue.length === 0)) this.drop(s);
  }

  drop(s: Session): void {
    if (!this.sessions.delete(s.fd)) return;
    s.listener.sessions--;
    this.px.fn.shutdown(s.fd, SHUT_WR);
    this.px.close(s.fd);
    if (this.sessions.size === 0) this.disarmIdleTimer();
  }

  /** The idle check runs only while sessions exist. */
  private armIdleTimer(): void {
    if (this.idleTimer) return;
    this.idleTimer = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions.values()) {
        if (!s.busy && now - s.lastActive > IDLE_TIMEOUT_MS) this.drop(s);
      }
    }, 30_000);
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
  }

  closeAll(): void {
    for (const s of [...this.sessions.values()]) this.drop(s);
    for (const l of this.listeners.values()) this.px.close(l.fd);
    this.listeners.clear();
  }
}
