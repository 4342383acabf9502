/**
 * Which master CLI sessions give way (src/mcli/sessions.ts): the longest idle, quiet
 * session of a full listener; silent sessions carried across a re-exec only when accepted
 * just before the reload began.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { MasterCliConfig } from "../../src/config/types.ts";
import { Session, type CliListener } from "../../src/mcli/server.ts";
import { carriedAcrossExec, EVICT_AFTER_IDLE_MS, evictionNotice, longestIdle } from "../../src/mcli/sessions.ts";

const config = { address: { kind: "unix", path: "/x.sock" }, level: "admin" } as unknown as MasterCliConfig;
const listener = (key: string): CliListener => ({ key, fd: 3, config, sessions: 0 });

function session(l: CliListener, fd: number, lastActive: number, set: Partial<Session> = {}): Session {
  const s = new Session(fd, l);
  s.lastActive = lastActive;
  return Object.assign(s, set);
}

describe("longestIdle", () => {
  const now = 1_000_000;
  const a = listener("a");
  const b = listener("b");

  test("the session idle the longest on that listener, past the threshold", () => {
    const s1 = session(a, 10, now - 5_000);
    const s2 = session(a, 11, now - 60_000);
    const s3 = session(b, 12, now - 600_000); // another listener's
    assert.equal(longestIdle([s1, s2, s3], a, now), s2);
    assert.equal(longestIdle([s1, s2, s3], b, now), s3);
  });

  test("none idle long enough: none", () => {
    const s1 = session(a, 10, now - EVICT_AFTER_IDLE_MS);
    const s2 = session(a, 11, now - 10);
    assert.equal(longestIdle([s1, s2], a, now), undefined);
  });

  test("a session with something pending is never chosen", () => {
    const old = now - 600_000;
    const pending = [
      session(a, 10, old, { busy: true }),
      session(a, 11, old, { queue: [["show", "proc"]] }),
      session(a, 12, old, { partialBytes: 3, partial: [new Uint8Array(3)] }),
      session(a, 13, old, { out: [new Uint8Array(1)] }),
      session(a, 14, old, { closing: true }),
      session(a, 15, old, { counted: false }),
    ];
    assert.equal(longestIdle(pending, a, now), undefined);
    const idle = session(a, 16, now - 2_000);
    assert.equal(longestIdle([...pending, idle], a, now), idle);
  });

  test("the notice says why, after a newline at a prompt", () => {
    const s = session(a, 10, now - 7_500);
    assert.equal(evictionNotice(s, now, 64), "Closing this session: idle for 7s while all 64 sessions of this listener are in use, and a new client needs one.\n");
    s.prompt = true;
    assert.match(evictionNotice(s, now, 64), /^\nClosing this session/);
  });
});

describe("carriedAcrossExec", () => {
  const a = listener("a");
  const start = 1_000_000;

  test("silent and accepted just before the reload began, or during it: carried", () => {
    assert.equal(carriedAcrossExec(session(a, 10, start - 200), start + 5_000, start), true);
    assert.equal(carriedAcrossExec(session(a, 10, start + 3_000), start + 5_000, start), true);
  });

  test("silent since well before the reload: merely idle, not carried", () => {
    assert.equal(carriedAcrossExec(session(a, 10, start - 5_000), start + 100, start), false);
    assert.equal(carriedAcrossExec(session(a, 10, start - 5_000), start, undefined), false);
  });

  test("a session that spoke is never carried (it is answered, then closed)", () => {
    assert.equal(carriedAcrossExec(session(a, 10, start, { replies: 1 }), start, start), false);
    assert.equal(carriedAcrossExec(session(a, 10, start, { prompt: true }), start, start), false);
    assert.equal(carriedAcrossExec(session(a, 10, start, { partialBytes: 2 }), start, start), false);
  });
});
