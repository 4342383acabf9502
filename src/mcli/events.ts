/**
 * The master's events (REFERENCE §7.6): every log call whose fields hold `event` becomes
 * one numbered JSON line, `{"seq":N,"time":"<ISO>","event":"<name>",...fields}`, kept in
 * a bounded ring for `show events since N` and given to the streams that follow it live.
 *
 * Invariants: sequence numbers start at 1 and grow by one per event, across re-execs (the
 * ring and the next number are handed to the next image); the ring holds the last
 * `capacity` events; nothing here blocks or waits (a stream's output is bounded by its
 * session, event-stream.ts).
 */
import type { LogFields } from "../log-format.ts";

/** how many events the ring keeps for `since` */
export const EVENT_RING_CAPACITY = 1000;

/** What a master hands its next image: the next number and the lines the ring holds, oldest first. */
export interface HandedEvents {
  next: number;
  lines: string[];
}

/** One event as the stream writes it (without its newline) and its number. */
export interface EventLine {
  seq: number;
  line: string;
}

export type EventListener = (e: EventLine) => void;

export class EventLog {
  private ring: EventLine[] = [];
  /** index in `ring` of the oldest event once the ring is full */
  private start = 0;
  private nextSeq = 1;
  private readonly listeners = new Set<EventListener>();

  constructor(readonly capacity = EVENT_RING_CAPACITY) {}

  /** the number of the latest event (0: none yet) */
  get last(): number {
    return this.nextSeq - 1;
  }

  /** the number of the oldest event the ring holds (last + 1 when it holds none) */
  get oldest(): number {
    return this.ring.length === 0 ? this.nextSeq : this.ring[this.start]!.seq;
  }

  /** Numbers and keeps an event, then gives it to every listener. */
  record(fields: LogFields, time: Date): EventLine {
    const { event, ...rest } = fields;
    // the three keys every line has come first and are never replaced by a field
    const line = JSON.stringify({ seq: this.nextSeq, time: time.toISOString(), event, ...withoutKeys(rest, ["seq", "time"]) });
    const e = { seq: this.nextSeq++, line };
    this.keep(e);
    for (const l of [...this.listeners]) l(e);
    return e;
  }

  private keep(e: EventLine): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(e);
      return;
    }
    this.ring[this.start] = e;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The events held with a number above `after`, oldest first. */
  after(after: number): EventLine[] {
    const ordered = [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
    const first = ordered.findIndex((e) => e.seq > after);
    return first < 0 ? [] : ordered.slice(first);
  }

  /** `fn` gets every event recorded from now on; returns how to stop. */
  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  handOver(): HandedEvents {
    return { next: this.nextSeq, lines: this.after(0).map((e) => e.line) };
  }

  /**
   * In a new image: the previous image's events come first; any this image recorded
   * before (none in practice: the state is adopted before anything is logged) are
   * numbered again after them, so numbers never repeat.
   */
  adopt(h: HandedEvents): void {
    const own = this.after(0);
    this.ring = [];
    this.start = 0;
    this.nextSeq = h.next;
    for (const line of h.lines) {
      const seq = seqOf(line);
      if (seq !== undefined && seq < h.next) this.keep({ seq, line });
    }
    for (const e of own) {
      const parsed = JSON.parse(e.line) as Record<string, unknown>;
      this.keep({ seq: this.nextSeq, line: JSON.stringify({ ...parsed, seq: this.nextSeq }) });
      this.nextSeq++;
    }
  }
}

function withoutKeys(fields: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (!keys.includes(k)) out[k] = v;
  return out;
}

function seqOf(line: string): number | undefined {
  try {
    const seq = (JSON.parse(line) as { seq?: unknown }).seq;
    return typeof seq === "number" && Number.isSafeInteger(seq) ? seq : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `show events [since N]`: where the stream starts (undefined: only new events), or the
 * one-line error for bad arguments. `last`: the latest event's number.
 */
export function parseShowEvents(args: readonly string[], last: number): { since?: number } | { error: string } {
  if (args.length === 0) return {};
  if (args[0] !== "since") return { error: `show events: unexpected '${args[0]}': the only option is 'since N'` };
  if (args.length === 1) return { error: "show events since: a number is missing (since N replays the events after N)" };
  if (args.length > 2) return { error: `show events since ${args[1]}: unexpected '${args[2]}' after the number` };
  const text = args[1]!;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    return { error: `show events since: '${text}' is not an event number (a whole number, 0 or more)` };
  }
  const since = Number(text);
  if (since > last) {
    return { error: `show events since ${since}: no such event yet, the latest is ${last} (numbers start again at 1 when the master starts afresh)` };
  }
  return { since };
}
