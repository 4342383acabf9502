/**
 * The event ring (src/mcli/events.ts) and one stream over it (src/mcli/event-stream.ts):
 * numbering, the bounded ring, `since`, a re-exec's handover, a slow reader's overflow.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventLog } from "../../src/mcli/events.ts";
import { EventStream, STREAM_BACKLOG_BYTES, unsentBytes, type StreamIo } from "../../src/mcli/event-stream.ts";

const T = new Date("2026-11-30T05:00:00.000Z");

function seqs(lines: string[]): number[] {
  return lines.map((l) => JSON.parse(l).seq);
}

/** A session's output as the stream sees it; `written` is what the client read so far. */
class FakeIo implements StreamIo {
  out: Uint8Array[] = [];
  written = "";
  endedCount = 0;
  /** whether the client reads what is sent at once */
  reading = true;
  send(text: string): void {
    this.out.push(new TextEncoder().encode(text));
    if (this.reading) this.read();
  }
  read(): void {
    for (const chunk of this.out.splice(0)) this.written += new TextDecoder().decode(chunk);
  }
  ended(): void {
    this.endedCount++;
  }
  lines(): Array<Record<string, unknown>> {
    return this.written.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  }
}

describe("event log", () => {
  test("numbers events from 1, seq, time and event first; fields never replace them", () => {
    const log = new EventLog();
    assert.equal(log.last, 0);
    const a = log.record({ event: "worker-started", worker: 1, workerPid: 42, generation: 0 }, T);
    const b = log.record({ event: "loaded", generation: 0, seq: 99, time: "no" }, T);
    assert.equal(a.line, '{"seq":1,"time":"2026-11-30T05:00:00.000Z","event":"worker-started","worker":1,"workerPid":42,"generation":0}');
    assert.deepEqual(JSON.parse(b.line), { seq: 2, time: T.toISOString(), event: "loaded", generation: 0 });
    assert.equal(log.last, 2);
  });

  test("keeps the last `capacity` events; after(N) gives those above N, oldest first", () => {
    const log = new EventLog(5);
    for (let i = 0; i < 12; i++) log.record({ event: "e", i }, T);
    assert.equal(log.oldest, 8);
    assert.deepEqual(log.after(0).map((e) => e.seq), [8, 9, 10, 11, 12]);
    assert.deepEqual(log.after(10).map((e) => e.seq), [11, 12]);
    assert.deepEqual(log.after(12), []);
  });

  test("a handover carries the numbers on; events recorded before the adoption are numbered after", () => {
    const old = new EventLog(4);
    for (let i = 0; i < 6; i++) old.record({ event: "e", i }, T);
    const handed = JSON.parse(JSON.stringify(old.handOver()));
    const next = new EventLog(4);
    next.record({ event: "early" }, T);
    next.adopt(handed);
    assert.deepEqual(next.after(0).map((e) => e.seq), [4, 5, 6, 7]);
    assert.equal(JSON.parse(next.after(6)[0]!.line).event, "early");
    assert.equal(next.record({ event: "later" }, T).seq, 8);
    // the ring is still bounded and ordered after the adoption
    assert.deepEqual(next.after(0).map((e) => e.seq), [5, 6, 7, 8]);
  });
});

describe("event stream", () => {
  test("without since: only new events; with since N: the events after N, then new ones, each once", () => {
    const log = new EventLog();
    for (let i = 0; i < 3; i++) log.record({ event: "e", i }, T);
    const live = new FakeIo();
    new EventStream(log, live, log.last).start();
    const replay = new FakeIo();
    new EventStream(log, replay, 1).start();
    log.record({ event: "e", i: 3 }, T);
    assert.deepEqual(seqs(live.written.trimEnd().split("\n")), [4]);
    assert.deepEqual(seqs(replay.written.trimEnd().split("\n")), [2, 3, 4]);
  });

  test("since N older than the ring: one events-lost line (no seq) names what is gone", () => {
    const log = new EventLog(3);
    for (let i = 0; i < 7; i++) log.record({ event: "e", i }, T);
    const io = new FakeIo();
    new EventStream(log, io, 1).start();
    const [lost, ...events] = io.lines();
    assert.equal(lost!.event, "events-lost");
    assert.deepEqual([lost!.from, lost!.to, "seq" in lost!], [2, 4, false]);
    assert.deepEqual(events.map((e) => e.seq), [5, 6, 7]);
  });

  test("paused (across an exec) and started again: it catches up from the last event queued, no gap, no duplicate", () => {
    const log = new EventLog();
    const io = new FakeIo();
    const stream = new EventStream(log, io, 0);
    stream.start();
    log.record({ event: "a" }, T);
    stream.pause();
    log.record({ event: "b" }, T);
    log.record({ event: "c" }, T);
    // the next image: a new stream object from the handed `last`
    const handed = stream.handOver([]);
    assert.equal(handed.last, 1);
    const again = new EventStream(log, io, handed.last);
    again.start();
    log.record({ event: "d" }, T);
    assert.deepEqual(io.lines().map((e) => [e.seq, e.event]), [[1, "a"], [2, "b"], [3, "c"], [4, "d"]]);
  });

  test("unsent bytes cross the exec intact, even cut inside a UTF-8 sequence", () => {
    const bytes = new TextEncoder().encode('{"reason":"ünïcode"}\n');
    const out = [bytes.subarray(3, 9), bytes.subarray(9)];
    const h = new EventStream(new EventLog(), new FakeIo(), 0).handOver(out);
    const back = unsentBytes(JSON.parse(JSON.stringify(h)));
    assert.equal(new TextDecoder().decode(back[0]!), new TextDecoder().decode(bytes.subarray(3)));
    assert.deepEqual(unsentBytes({ last: 0, unsent: "" }), []);
  });

  test("a reader that falls more than STREAM_BACKLOG_BYTES behind: the stream ends with a line naming the next seq", () => {
    const log = new EventLog(10_000);
    const io = new FakeIo();
    io.reading = false;
    const stream = new EventStream(log, io, 0);
    stream.start();
    const filler = "x".repeat(1000);
    let n = 0;
    while (io.endedCount === 0 && n < 10_000) log.record({ event: "e", filler, n: n++ }, T);
    assert.equal(io.endedCount, 1, "the stream ended");
    const queued = io.out.reduce((sum, c) => sum + c.length, 0);
    assert.ok(queued < STREAM_BACKLOG_BYTES + 3000, `bounded: ${queued}`);
    // nothing more is queued once it ended
    log.record({ event: "after" }, T);
    io.read();
    const lines = io.lines();
    const last = lines.at(-1)!;
    assert.equal(last.event, "stream-ended");
    const delivered = lines.slice(0, -1).map((e) => e.seq as number);
    assert.deepEqual(delivered, delivered.map((_, i) => i + 1), "delivered in order, no gap");
    assert.equal(last.next, delivered.length + 1);
    assert.match(String(last.reason), new RegExp(`events dropped: .*show events since ${delivered.length}'`));
    assert.ok(delivered.length < n, "later events were not queued");
  });
});
