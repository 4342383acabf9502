/**
 * `show events` streams on master CLI sessions (server.ts), and how they cross the
 * master's re-exec: the session's descriptor stays open through execve (like the reload
 * requester's), the stream stops following in the old image, and the next image queues
 * the bytes that were still unsent, then catches up from the last event queued: the
 * client sees one stream, with no gap and no duplicate.
 */
import { POLLERR, POLLHUP } from "../sys/constants.ts";
import { EventStream, unsentBytes, type HandedStream, type StreamReply } from "./event-stream.ts";
import type { EventLog } from "./events.ts";

/** poll events that end a stream: the client closed its side entirely (a half-close does not) */
export const STREAM_HANGUP = POLLHUP | POLLERR;

/** The parts of a session (server.ts Session) a stream touches. */
export interface StreamingSession {
  out: Uint8Array[];
  busy: boolean;
  queue: unknown[];
  prompt: boolean;
  peerClosed: boolean;
  tooLong: boolean;
  stream?: EventStream;
}

/**
 * A stream ends at the client's next line (or a line too long), and at a half-close when
 * the prompt is on (a person's ^D or ^C); other clients half-close after sending the
 * command (`steward cli -S ADDR show events`, socat) and the stream goes on.
 */
export function streamOver(s: StreamingSession): boolean {
  return s.queue.length > 0 || s.tooLong || (s.prompt && s.peerClosed);
}

/** The parts of the server (server.ts CliServer) a stream writes through. */
export interface StreamServer<S extends StreamingSession> {
  readonly events: EventLog;
  send(s: S, text: string): void;
  /** completes the session's running command with `reply` (here: the empty line) */
  finish(s: S, reply: string | null): void;
}

function attach<S extends StreamingSession>(server: StreamServer<S>, s: S, log: EventLog, last: number): EventStream {
  s.busy = true; // the command runs until the stream ends: no other command, no idle close
  const stream = new EventStream(log, {
    get out() {
      return s.out;
    },
    send: (text) => server.send(s, text),
    ended: () => {
      if (s.stream !== stream) return;
      s.stream = undefined;
      server.finish(s, "");
    },
  }, last);
  s.stream = stream;
  return stream;
}

/** `show events [since N]` begins: the replay, then live events; at once over if more commands wait. */
export function startStream<S extends StreamingSession>(server: StreamServer<S>, s: S, reply: StreamReply): void {
  const stream = attach(server, s, reply.log, reply.after ?? reply.log.last);
  stream.start();
  if (streamOver(s)) stream.end();
}

/** Before execve: the stream stops following here; the next image resumes it from `last`. */
export function handStream<S extends StreamingSession, H extends object>(s: S, handed: H): H & { stream: HandedStream } {
  s.stream!.pause();
  return { ...handed, stream: s.stream!.handOver(s.out) };
}

/** In the next image: the unsent bytes first, then the events after the last one queued. */
export function adoptStream<S extends StreamingSession>(server: StreamServer<S>, s: S, h: HandedStream): void {
  s.out = unsentBytes(h);
  attach(server, s, server.events, h.last).start();
}
