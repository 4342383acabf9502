/**
 * One `show events` stream on a master CLI session (REFERENCE §7.6): what the ring holds
 * after the starting number, then every new event as it is recorded, one JSON line each,
 * until the client closes, sends another line, or reads too slowly.
 *
 * Invariants: a stream queues each event once, in order, with no gap (`last` is the
 * number of the last one queued; a catch-up after a pause starts at last + 1); what waits
 * unsent on the session is bounded by STREAM_BACKLOG_BYTES: above it the stream ends with
 * a line that says so and where to resume, so a slow reader never holds the master.
 */
import { Buffer } from "node:buffer";
import type { EventLine, EventLog } from "./events.ts";

/** unsent bytes a stream may leave waiting on its session before it ends (about 5000 events) */
export const STREAM_BACKLOG_BYTES = 1024 * 1024;

/** What `show events` returns to the server: start a stream after `after` (undefined: only new events). */
export class StreamReply {
  constructor(
    readonly log: EventLog,
    readonly after: number | undefined,
  ) {}
}

/** How a stream writes to its session (the server's). */
export interface StreamIo {
  /** bytes waiting unsent on the session */
  readonly out: Uint8Array[];
  /** queues `text` and writes what the socket takes now */
  send(text: string): void;
  /** the stream is over: the reply's closing empty line, then the session's next commands */
  ended(): void;
}

/** A stream carried across a re-exec, beside its session (server.ts HandedSession). */
export interface HandedStream {
  /** the number of the last event queued for the client */
  last: number;
  /** what was queued and not yet written, base64 (a chunk may end inside a UTF-8 sequence) */
  unsent: string;
}

/** A line of the stream that is not an event: it has no `seq`. */
export function noticeLine(event: string, fields: Record<string, string | number>, time = new Date()): string {
  return `${JSON.stringify({ time: time.toISOString(), event, ...fields })}\n`;
}

export class EventStream {
  private unsubscribe?: () => void;
  private over = false;

  constructor(
    private readonly log: EventLog,
    private readonly io: StreamIo,
    /** the number of the last event the client has been given (or that it asked to start after) */
    public last: number,
  ) {}

  /** Replays what the ring holds after `last`, then follows new events. */
  start(): void {
    if (this.over) return;
    const missing = this.log.oldest - (this.last + 1);
    if (missing > 0) {
      this.io.send(
        noticeLine("events-lost", {
          from: this.last + 1,
          to: this.log.oldest - 1,
          reason: `no longer held: the master keeps the last ${this.log.capacity} events`,
        }),
      );
      this.last = this.log.oldest - 1;
    }
    const held = this.log.after(this.last);
    if (held.length > 0) {
      this.io.send(held.map((e) => `${e.line}\n`).join(""));
      this.last = held.at(-1)!.seq;
    }
    this.unsubscribe = this.log.subscribe((e) => this.deliver(e));
  }

  private deliver(e: EventLine): void {
    if (e.seq <= this.last) return;
    if (queuedBytes(this.io.out) > STREAM_BACKLOG_BYTES) {
      this.end(
        noticeLine("stream-ended", {
          reason: `events dropped: more than ${STREAM_BACKLOG_BYTES} bytes waited unread; resume with 'show events since ${this.last}'`,
          next: this.last + 1,
        }),
      );
      return;
    }
    this.io.send(`${e.line}\n`);
    this.last = e.seq;
  }

  /** Stops following (the session goes across an exec, or away); `start` catches up later. */
  pause(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Ends the stream for good, after `finalLine` if given; the session goes on. */
  end(finalLine?: string): void {
    if (this.over) return;
    this.pause();
    this.over = true;
    if (finalLine !== undefined) this.io.send(finalLine);
    this.io.ended();
  }

  /** The master closes the session (it is exiting): the client is told where to resume. */
  closing(reason: string): string {
    this.pause();
    this.over = true;
    return noticeLine("stream-ended", { reason, next: this.last + 1 });
  }

  handOver(out: Uint8Array[]): HandedStream {
    return { last: this.last, unsent: Buffer.concat(out).toString("base64") };
  }
}

export function queuedBytes(out: readonly Uint8Array[]): number {
  let n = 0;
  for (const chunk of out) n += chunk.length;
  return n;
}

/** The unsent bytes of a handed stream, to queue again on the adopted session. */
export function unsentBytes(h: HandedStream): Uint8Array[] {
  const bytes = Buffer.from(h.unsent, "base64");
  return bytes.length > 0 ? [new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)] : [];
}
