// What an event costs the master (src/mcli/events.ts, src/mcli/event-stream.ts), on the
// runtime the master runs on: `node_modules/.bin/bun bench/events-record.ts [events=20000]`.
// Each event is numbered, serialized once, kept in the 1000-event ring and queued on every
// stream following it; measured with no stream and with 10 streams (a client that reads
// at once), alternated, 5 rounds each, medians with min–max. Also the ring's size when full.
import { EventLog } from "../src/mcli/events.ts";
import { EventStream, type StreamIo } from "../src/mcli/event-stream.ts";

const events = Number(process.argv[2] || 20_000);
const encoder = new TextEncoder();

function io(): StreamIo {
  const out: Uint8Array[] = [];
  return { out, send: (text) => void encoder.encode(text), ended: () => {} };
}

function round(streams: number): number {
  const log = new EventLog();
  for (let i = 0; i < streams; i++) new EventStream(log, io(), 0).start();
  const time = new Date();
  const t0 = performance.now();
  for (let i = 0; i < events; i++) {
    log.record({ event: "worker-exited", worker: i % 8, workerPid: 100_000 + i, generation: i >> 3, role: "old", exit: "exited with code 0" }, time);
  }
  return ((performance.now() - t0) * 1000) / events;
}

const results: Record<string, number[]> = { "0 streams": [], "10 streams": [] };
round(0); // warm-up
for (let r = 0; r < 5; r++) {
  results["0 streams"]!.push(round(0));
  results["10 streams"]!.push(round(10));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name}: ${median(xs).toFixed(2)} µs/event (min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)})`);
}
const full = new EventLog();
for (let i = 0; i < 1000; i++) full.record({ event: "worker-exited", worker: 1, workerPid: 123456, generation: i, role: "old", exit: "exited with code 0" }, new Date());
console.log(`ring of 1000 such events: ${full.after(0).reduce((n, e) => n + e.line.length, 0)} bytes of JSON lines`);
