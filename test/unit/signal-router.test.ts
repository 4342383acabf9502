import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type EarlyHold, FIRST_LINE_SIGNALS, SignalRouter, STOP_SIGNALS } from "../../src/master/signal-router.ts";
import { HANDOVER_VAR } from "../../src/master/handover.ts";
import type { SignalName } from "../../src/runtime/types.ts";

/** A runtime whose signals the test raises itself. */
function fakeRuntime() {
  const listeners = new Map<SignalName, Array<() => void>>();
  return {
    onSignal(signal: SignalName, handler: () => void) {
      listeners.set(signal, [...(listeners.get(signal) ?? []), handler]);
    },
    raise(signal: SignalName) {
      for (const h of listeners.get(signal) ?? []) h();
    },
    count: (signal: SignalName) => listeners.get(signal)?.length ?? 0,
  };
}

describe("signal router (master/signal-router.ts)", () => {
  test("stop signals held before the master exists are delivered at open(), in order", () => {
    const rt = fakeRuntime();
    const router = new SignalRouter(rt);
    router.hold(STOP_SIGNALS);
    rt.raise("SIGINT");
    rt.raise("SIGTERM");
    const got: string[] = [];
    for (const s of STOP_SIGNALS) router.on(s, () => got.push(s));
    assert.deepEqual(got, [], "nothing is delivered before open()");
    router.open();
    assert.deepEqual(got, ["SIGINT", "SIGTERM"]);
    rt.raise("SIGUSR1");
    assert.deepEqual(got, ["SIGINT", "SIGTERM", "SIGUSR1"], "after open(), at once");
  });

  test("a signal is hooked once, however many times it is held or handled", () => {
    const rt = fakeRuntime();
    const router = new SignalRouter(rt);
    router.hold(["SIGTERM"]);
    router.hold(["SIGTERM"]);
    let n = 0;
    router.on("SIGTERM", () => n++);
    router.open();
    rt.raise("SIGTERM");
    assert.equal(rt.count("SIGTERM"), 1);
    assert.equal(n, 1, "one delivery per signal");
  });

  test("a held signal with no handler by open() is dropped, not thrown", () => {
    const rt = fakeRuntime();
    const router = new SignalRouter(rt);
    router.hold(["SIGUSR1"]);
    rt.raise("SIGUSR1");
    assert.doesNotThrow(() => router.open());
  });

  test("signals main.ts held before the router loaded come first, then later ones, each once", () => {
    const rt = fakeRuntime();
    const arrived: SignalName[] = ["SIGTERM"];
    let forward: ((s: SignalName) => void) | undefined;
    const early: EarlyHold = {
      hooked: STOP_SIGNALS,
      handOver(to) {
        forward = to;
        return arrived.splice(0);
      },
    };
    const router = new SignalRouter(rt, early);
    forward!("SIGINT");
    const got: string[] = [];
    for (const s of STOP_SIGNALS) router.on(s, () => got.push(s));
    assert.equal(rt.count("SIGTERM"), 0, "a signal main.ts hooked is not hooked again");
    router.open();
    assert.deepEqual(got, ["SIGTERM", "SIGINT"]);
    forward!("SIGUSR1");
    assert.deepEqual(got, ["SIGTERM", "SIGINT", "SIGUSR1"]);
  });

  test("main.ts's own copies of the handover variable and the first-line signals match", () => {
    // main.ts imports nothing of its own before it hooks them (see its holdStopSignals)
    const main = readFileSync(new URL("../../src/main.ts", import.meta.url), "utf8");
    assert.ok(main.includes(`const HANDOVER_VAR = "${HANDOVER_VAR}";`));
    assert.ok(main.includes(`const FIRST_LINE_SIGNALS: readonly SignalName[] = ${JSON.stringify(FIRST_LINE_SIGNALS).replaceAll(",", ", ")};`));
    assert.doesNotMatch(main, /^import (?!type )[^;]*from "\.{1,2}\//m, "no static import of a local module");
  });
});
