/**
 * sys/signal-park.ts against the real runtime this test runs on (Bun or Deno): real
 * signals sent to this process. While parked, a signal must wait, pending, for the JS
 * thread rather than reach the runtime's handler on another thread (where an execve
 * would discard it); after release() the handler gets it, once.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Posix } from "../../src/sys/posix.ts";
import { SignalPark } from "../../src/sys/signal-park.ts";

declare const Bun: unknown;
// deno-lint-ignore no-explicit-any
declare const Deno: any;
const SIGUSR2 = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** libc and signal listeners of the runtime this test runs on */
async function runtime(): Promise<{ px: Posix; onSignal: (handler: () => void) => void }> {
  const libc =
    typeof Bun !== "undefined" ? (await import("../../src/sys/bun.ts")).bindLibcBun() : (await import("../../src/sys/deno.ts")).bindLibcDeno();
  return {
    px: new Posix(libc),
    onSignal: (handler) => (typeof Bun !== "undefined" ? void process.on("SIGUSR2", handler) : Deno.addSignalListener("SIGUSR2", handler)),
  };
}

const { px, onSignal } = await runtime();
// `deno test` runs a test file on a thread of its own; the master's JavaScript runs on the
// main thread, the one the forwarding handler targets (signal-park.ts checks it)
const offMain = px.fn.gettid() !== px.pid() ? "this test runner runs the file off the main thread" : false;

describe("signal park (sys/signal-park.ts)", () => {
  test("a parked signal waits on the JS thread, however often it is sent; release() hands it to the runtime", { skip: offMain }, async () => {
    let handled = 0;
    onSignal(() => handled++);
    const park = new SignalPark(px, process.arch);
    assert.ok(park.forwards, `forwarding is there on ${process.arch}`);
    park.park([SIGUSR2]);
    for (let i = 0; i < 3; i++) {
      px.kill(px.pid(), SIGUSR2);
      await sleep(50); // the runtime's threads had every chance to take it
    }
    assert.equal(handled, 0, "no parked signal reached the runtime's handler");
    assert.deepEqual(park.pending([SIGUSR2]), [SIGUSR2]);
    park.release([SIGUSR2]);
    for (let i = 0; i < 40 && handled === 0; i++) await sleep(25);
    assert.equal(handled, 1, "delivered once after release (standard signals do not queue)");
    assert.deepEqual(park.pending([SIGUSR2]), []);
  });
});
