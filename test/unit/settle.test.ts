import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Settler } from "../../src/master/settle.ts";
import type { Posix } from "../../src/sys/posix.ts";
import { FakeOs } from "./_fake-os.ts";
import { FakeSystem } from "./_fake-system.ts";
import { recordingLog } from "./_supervised.ts";

/** A settler over fake time; `settles` counts the settles that ran (each compacts first). */
function settler(quiet = () => true) {
  const sys = new FakeSystem();
  const os = new FakeOs(sys);
  const { log } = recordingLog();
  const out = { sys, settles: 0, settler: undefined as unknown as Settler };
  // no /proc/self/smaps in the fake: the settle compacts, then logs why it gave nothing back
  out.settler = new Settler(os, {} as Posix, log, () => out.settles++, quiet);
  return out;
}

describe("settling after loads and after master CLI use (master/settle.ts)", () => {
  test("a load settles a second after the last one", () => {
    const s = settler();
    s.settler.soon();
    s.sys.advance(600);
    s.settler.soon();
    s.sys.advance(900);
    assert.equal(s.settles, 0, "a second load postpones the settle");
    s.sys.advance(100);
    assert.equal(s.settles, 1);
    s.sys.advance(10_000);
    assert.equal(s.settles, 1, "once");
  });

  test("master CLI use settles once the CLI has been quiet for 5 s; a client polling faster keeps its pages", () => {
    const s = settler();
    s.settler.used();
    s.sys.advance(4_999);
    assert.equal(s.settles, 0);
    s.sys.advance(1);
    assert.equal(s.settles, 1);
    for (let i = 0; i < 10; i++) {
      s.settler.used();
      s.sys.advance(2_000);
    }
    assert.equal(s.settles, 1, "commands 2 s apart: no settle between them");
    s.sys.advance(3_000);
    assert.equal(s.settles, 2, "5 s after the last command");
  });

  test("master CLI use does not postpone a load's settle; a load shortens a wait for CLI quiet", () => {
    const s = settler();
    s.settler.soon();
    s.sys.advance(500);
    s.settler.used();
    s.sys.advance(500);
    assert.equal(s.settles, 1, "the load's settle came on time");
    s.settler.used();
    s.sys.advance(2_000);
    s.settler.soon();
    s.sys.advance(1_000);
    assert.equal(s.settles, 2, "a load's settle replaces the longer wait");
    s.sys.advance(10_000);
    assert.equal(s.settles, 2);
  });

  test("nothing is given back while a load, a reload or a stop is under way", () => {
    let quiet = false;
    const s = settler(() => quiet);
    s.settler.soon();
    s.settler.used();
    s.sys.advance(10_000);
    assert.equal(s.settles, 0);
    quiet = true;
    s.settler.used();
    s.sys.advance(5_000);
    assert.equal(s.settles, 1);
  });
});
