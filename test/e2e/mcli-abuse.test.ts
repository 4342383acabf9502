/**
 * Bad input and many clients on the master CLI (REFERENCE §7.1, §7.2): random bytes, a 1 MiB
 * line, 1000 commands on one line, half-open sessions, 200 concurrent clients. After each,
 * the master still serves, and a session opened before the abuse ("the witness") still
 * answers: bad input closes at most the session that sent it.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, test } from "node:test";
import { MODES } from "./_modes.ts";
import { isAlive } from "./_process.ts";
import { e2e, type Steward } from "./_steward.ts";
import { connectRetrying, exchange, EVICTED, RawSession, replies, socat, startCliMaster } from "./_mcli.ts";

const TOO_LONG = "Line too long (more than 65536 bytes): closing the session.\n";
const TOO_MANY = "Too many sessions (at most 64 per listener).\n\n";

/** A deterministic pseudo-random byte generator (xorshift32). */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

async function witness(address: string): Promise<RawSession> {
  const s = new RawSession(address);
  await s.connected;
  s.write("echo witness\n");
  await s.until((t) => t === "witness\n\n");
  return s;
}

/** The witness still answers, a new session too, and the master lives. */
async function stillServing(steward: Steward, w: RawSession, address: string): Promise<void> {
  const before = w.text.length;
  w.write("show cli level\n");
  await w.until((t) => t.length > before && t.endsWith("\n\n"), 10_000, "the witness's reply");
  assert.match(w.text.slice(before), /^(admin|operator|user)\n\n$/);
  assert.equal((await exchange(address, "echo new\n")).text, "new\n\n");
  assert.ok(isAlive(steward.pid), steward.log());
  assert.equal(steward.exit, undefined);
}

for (const mode of MODES) {
  describe(`master CLI under abuse [${mode}]`, () => {
    test("random bytes: answered line by line, the session ends cleanly, others unaffected", e2e(mode, async (bed) => {
      const { steward, admin, operator } = await startCliMaster(bed, { workers: 1 });
      const w = await witness(operator);
      const bytes = randomBytes(256 * 1024, 0x5eed);
      for (let i = 100; i < bytes.length; i += 97 + (bytes[i]! % 200)) bytes[i] = 0x0a; // lines well under 64 KiB
      const { text, error } = await exchange(admin, bytes, 30_000);
      assert.equal(error, undefined, `no reset: ${error}`);
      assert.ok(text.endsWith("\n\n"), JSON.stringify(text.slice(-100)));
      assert.ok(text.includes("Unknown command: '"), text.slice(0, 300));
      // the same bytes with no newline at all: one line over the limit
      const noNewline = randomBytes(100 * 1024, 0xbeef).map((b) => (b === 0x0a ? 0x20 : b));
      const long = await exchange(admin, noNewline, 30_000);
      assert.equal(long.text, TOO_LONG);
      await stillServing(steward, w, admin);
    }));

    test("a 1 MiB line closes that session with an error; the master keeps serving others", e2e(mode, async (bed) => {
      const { steward, admin, user } = await startCliMaster(bed, { workers: 1 });
      const w = await witness(user);
      const line = Buffer.alloc(1024 * 1024, "a");
      // the error arrives whole and the connection is not reset: the master reads to the end first
      const raw = await exchange(admin, Buffer.concat([Buffer.from("echo before\n"), line, Buffer.from("\necho after\n")]), 30_000);
      assert.deepEqual([raw.text, raw.error], [`before\n\n${TOO_LONG}`, undefined]);
      // the limit is on the line, however the reads split it: 70 KiB is over, 60 KiB is fine
      assert.equal((await exchange(admin, `echo ${"b".repeat(70 * 1024)}\n`)).text, TOO_LONG);
      assert.equal((await exchange(admin, `echo ${"b".repeat(60 * 1024)}\n`)).text, `${"b".repeat(60 * 1024)}\n\n`);
      const viaSocat = await socat(admin, Buffer.concat([line, Buffer.from("\n")]));
      assert.equal(viaSocat.stdout, TOO_LONG);
      // a client that keeps its side open gets the error and the close
      const open = new RawSession(admin);
      await open.connected;
      open.write(line);
      assert.equal(await open.untilClosed(15_000), TOO_LONG);
      await stillServing(steward, w, admin);
    }));

    test("1000 ';'-separated commands on one line: 1000 replies in order", e2e(mode, async (bed) => {
      const { steward, admin, operator } = await startCliMaster(bed, { workers: 1 });
      const w = await witness(operator);
      const input = Array.from({ length: 1000 }, (_, i) => `echo ${i}`).join(";") + "\n";
      const r = replies((await socat(admin, input)).stdout);
      assert.deepEqual(r, Array.from({ length: 1000 }, (_, i) => String(i)));
      const mixed = replies((await socat(admin, Array.from({ length: 1000 }, (_, i) => (i % 2 ? "show version" : "show cli level")).join(";") + "\n")).stdout);
      assert.equal(mixed.length, 1000);
      await stillServing(steward, w, admin);
    }));

    test("half-open sessions (silent, a partial line, no half-close) hold nothing up", e2e(mode, async (bed) => {
      const { steward, admin, operator } = await startCliMaster(bed, { workers: 1 });
      const w = await witness(operator);
      const idle: RawSession[] = [];
      for (let i = 0; i < 30; i++) {
        const s = new RawSession(i % 2 ? admin : operator);
        await s.connected;
        if (i % 3 === 1) s.write("show ver");
        if (i % 3 === 2) s.write("show version\n");
        idle.push(s);
      }
      await Promise.all(idle.filter((_, i) => i % 3 === 2).map((s) => s.until((t) => t.endsWith("\n\n"))));
      await stillServing(steward, w, admin);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(idle.filter((s) => s.closed).length, 0, "the master leaves them open (until the idle timeout)");
      // finishing the partial line later still works
      idle[1]!.write("sion\n");
      await idle[1]!.until((t) => /^\d+\.\d+\.\d+\n\n$/.test(t));
      for (const s of idle) s.destroy();
      await stillServing(steward, w, admin);
    }));

    test("200 concurrent clients: 64 sessions per listener, the others told why not; then all served again", e2e(mode, async (bed) => {
      const { steward, admin, operator } = await startCliMaster(bed, { workers: 1 });
      const w = await witness(operator);
      const deadline = Date.now() + 30_000;
      const sessions = await Promise.all(Array.from({ length: 200 }, () => connectRetrying(admin, deadline)));
      for (const s of sessions) s.write("echo in\n");
      await Promise.all(sessions.map((s) => s.until((t) => t === "in\n\n" || (t === TOO_MANY && s.closed) || s.closed, 30_000).catch(() => undefined)));
      const served = sessions.filter((s) => s.text === "in\n\n" && !s.closed);
      const refused = sessions.filter((s) => s.text === TOO_MANY && s.closed);
      // on a slow machine, connecting all 200 may take over a second: the first sessions,
      // idle by then, make room for later ones (src/mcli/sessions.ts)
      const evicted = sessions.filter((s) => EVICTED.test(s.text) && s.closed);
      const other = sessions.filter((s) => !served.includes(s) && !refused.includes(s) && !evicted.includes(s)).map((s) => `${JSON.stringify(s.text)} ${s.error ?? ""} closed=${s.closed}`);
      assert.deepEqual(other, [], "every client was either served or told why not");
      assert.equal(served.length, 64);
      assert.equal(refused.length + evicted.length, 136);
      // the other listener has its own 64
      await stillServing(steward, w, operator);
      for (const s of served) s.end();
      await Promise.all(served.map((s) => s.untilClosed()));
      // the slots are free again
      const again = await Promise.all(Array.from({ length: 64 }, () => connectRetrying(admin, Date.now() + 10_000)));
      for (const s of again) s.write("echo again\n");
      await Promise.all(again.map((s) => s.until((t) => t === "again\n\n")));
      for (const s of again) s.end();
      await Promise.all(again.map((s) => s.untilClosed()));
      await stillServing(steward, w, admin);
    }));
  });
}
