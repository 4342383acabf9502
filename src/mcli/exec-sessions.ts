/**
 * The master CLI's sessions across a re-exec (REFERENCE §5.3): which cross it (the one
 * that asked for the reload — or, for the re-exec owed by reloads the master loaded
 * itself, the one that asked for the last of them, as well as one that asks for the next
 * — and those accepted that have sent nothing yet, sessions.ts),
 * how the others end (answered first, never reset over unread input), what is undone
 * when the exec fails, and how the next image adopts those that crossed. The server
 * (server.ts) runs sessions; this file only moves them between images.
 */
import { POLLIN, POLLOUT } from "../sys/constants.ts";
import type { Posix } from "../sys/posix.ts";
import { Session, type CliListener, type HandedSession } from "./session.ts";
import { carriedAcrossExec, IDLE_AT_EXEC, neverSpoke } from "./sessions.ts";
import { adoptStream, handStream, type StreamServer } from "./exec-streams.ts";

/** before an exec, how long the sessions that end with the image may take to send their command and get the reply */
export const EXEC_DRAIN_MS = 250;

/** What of the server (server.ts) the sessions' crossing uses. */
export interface SessionServer extends StreamServer<Session> {
  readonly px: Posix;
  readonly listeners: Map<string, CliListener>;
  readonly sessions: Map<number, Session>;
  readAll(s: Session): void;
  flush(s: Session): void;
  send(s: Session, text: string): void;
  drop(s: Session): void;
  service(): void;
  armIdleTimer(): void;
}

export class ExecSessions {
  /** sessions prepare() handed over with nothing sent yet (kept in case the exec fails) */
  private handedFresh: Session[] = [];
  /** when the reload now in progress began (sessions.ts: which silent sessions cross the exec) */
  private reloadStartedAt?: number;

  constructor(private readonly server: SessionServer) {}

  /** A reload begins: sessions silent since before this are merely idle at its exec. */
  reloadStarted(at: number): void {
    this.reloadStartedAt = at;
  }

  /**
   * In the next image, a session that survived exec: the one that asked for the reload
   * (`requester`: its reply comes first), or one accepted just before the exec that had
   * sent nothing yet.
   */
  adopt(h: HandedSession, requester: boolean): Session | undefined {
    const { px, listeners, sessions } = this.server;
    const listener = listeners.get(h.listenerKey);
    if (!listener) {
      px.close(h.fd);
      return undefined;
    }
    px.setCloexec(h.fd, true);
    px.signalWhenReadable(h.fd);
    const s = new Session(h.fd, listener);
    s.level = h.level;
    s.prompt = h.prompt;
    if (h.target !== undefined) s.target = h.target;
    s.queue = h.pending;
    s.peerClosed = h.peerClosed;
    if (h.lastActive !== undefined) s.lastActive = h.lastActive;
    s.busy = requester; // the requester's reload reply comes first
    listener.sessions++;
    sessions.set(s.fd, s);
    this.server.armIdleTimer();
    if (h.stream) adoptStream(this.server, s, h.stream);
    return s;
  }

  /**
   * Before execve: listeners (and the requesting session) stay open, without SIGIO;
   * connections waiting in the backlog stay there for the next image, and so do those
   * accepted that have sent nothing yet (returned, for the handover). Every other session
   * ends with this image: what it already sent is answered first, so that it is closed
   * after its replies, never reset over unread input.
   */
  prepare(keep: readonly Session[]): HandedSession[] {
    const { px, listeners } = this.server;
    const fresh = this.endSessionsBeforeExec(keep);
    for (const l of listeners.values()) {
      px.stopSignalWhenReadable(l.fd);
      px.setCloexec(l.fd, false);
    }
    for (const s of [...keep, ...fresh]) {
      px.stopSignalWhenReadable(s.fd);
      px.setCloexec(s.fd, false);
    }
    this.handedFresh = fresh;
    return fresh.map((s) => (s.stream ? handStream(s, this.handOver(s)) : this.handOver(s)));
  }

  /** The exec did not happen: what prepare() kept open is this image's again. */
  failed(keep: readonly Session[]): void {
    const { px, listeners } = this.server;
    for (const l of listeners.values()) {
      px.setCloexec(l.fd, true);
      px.signalWhenReadable(l.fd);
    }
    for (const s of [...keep, ...this.handedFresh]) {
      px.setCloexec(s.fd, true);
      px.signalWhenReadable(s.fd);
      s.stream?.start(); // catches up from where it paused
    }
    this.handedFresh = [];
    this.server.service(); // what the fresh sessions sent meanwhile
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
      lastActive: s.lastActive,
    };
  }

  /**
   * The sessions other than `keep` end with this image, but for those accepted that have
   * sent nothing yet (a client between its connect and its write): they are returned, to
   * be handed to the next image like connections still in the backlog. Each other session
   * first gets what it is owed, the replies to what it already sent (within
   * EXEC_DRAIN_MS), and is then closed with nothing unread: an orderly end for the client.
   */
  private endSessionsBeforeExec(keep: readonly Session[]): Session[] {
    const server = this.server;
    for (const s of [...server.sessions.values()]) if (!keep.includes(s)) server.readAll(s);
    const now = Date.now();
    // a stream goes on in the next image, as do sessions that have sent nothing yet
    const fresh = [...server.sessions.values()].filter((s) => !keep.includes(s) && (s.stream !== undefined || carriedAcrossExec(s, now, this.reloadStartedAt)));
    this.reloadStartedAt = undefined;
    const ending = () => [...server.sessions.values()].filter((s) => !keep.includes(s) && !fresh.includes(s));
    const deadline = Date.now() + EXEC_DRAIN_MS;
    for (;;) {
      // a session silent since before the reload is not waited for: it is merely idle
      const waiting = ending().filter((s) => s.out.length > 0 || (s.replies === 0 && !s.peerClosed && !s.busy && !s.closing && !neverSpoke(s)));
      const left = deadline - Date.now();
      if (waiting.length === 0 || left <= 0) break;
      const pollfds = new Int32Array(waiting.length * 2);
      waiting.forEach((s, i) => {
        pollfds[i * 2] = s.fd;
        pollfds[i * 2 + 1] = POLLIN | (s.out.length > 0 ? POLLOUT : 0);
      });
      server.px.fn.poll(pollfds, waiting.length, Math.min(left, 20));
      for (const s of waiting) {
        server.readAll(s);
        server.flush(s);
      }
    }
    for (const s of ending()) {
      if (s.busy) server.send(s, "The master is re-executing for a reload: this command was interrupted; try again.\n\n");
      // a person at a prompt is told why the session ends
      else if (s.prompt && !s.closing) server.send(s, "\nThe master is re-executing for a reload: this session ends; reconnect.\n");
      else if (neverSpoke(s)) server.send(s, IDLE_AT_EXEC);
      server.drop(s);
    }
    return fresh;
  }
}
