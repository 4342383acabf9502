import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { messages } from "../../src/notify/systemd.ts";
import { sameFile } from "../../src/master/os.ts";
import { checkArgs } from "../../src/master/handshake.ts";
import { decodeHandover, encodeHandover, HANDOVER_FORMAT } from "../../src/master/handover.ts";

describe("sd_notify messages", () => {
  test("the texts systemd's Type=notify-reload expects", () => {
    assert.equal(messages.ready(42), "READY=1\nMAINPID=42\nSTATUS=Ready");
    assert.equal(messages.reloading(123456789n), "RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=Reloading");
    assert.equal(messages.reloadFailed("bad\nthing"), "READY=1\nSTATUS=Reload failed: bad thing");
    assert.equal(messages.rolledBack("worker 1 (7) exited\nwith code 1"), "READY=1\nSTATUS=Rolled back: worker 1 (7) exited with code 1");
    assert.equal(messages.probation(3, Date.UTC(2026, 10, 30, 5, 0, 0)), "STATUS=Generation 3 on probation until 2026-11-30T05:00:00.000Z");
    assert.equal(messages.stopping(), "STOPPING=1\nSTATUS=Stopping");
    assert.equal(messages.watchdog(), "WATCHDOG=1");
  });
});

describe("preflight", () => {
  test("the check runs `run --check` with the master's arguments, before any `--`", () => {
    const n = "0123456789abcdef0123456789abcdef";
    assert.deepEqual(checkArgs(["-f", "a.toml", "--", "node", "-c"], 1, n), ["__preflight", "1", n, "run", "--check", "-f", "a.toml", "--", "node", "-c"]);
    assert.deepEqual(checkArgs(["run", "-l", "x"], 2, n), ["__preflight", "2", n, "run", "--check", "-l", "x"]);
  });
  test("a file is the same only if inode, size, mtime and ctime all match", () => {
    const a = { dev: 1, ino: 2, size: 3, mtimeMs: 4, ctimeMs: 5 };
    assert.equal(sameFile(a, { ...a }), true);
    assert.equal(sameFile(a, { ...a, ino: 9 }), false);
    assert.equal(sameFile(a, { ...a, ctimeMs: 6 }), false);
    assert.equal(sameFile(a, undefined), false);
  });
});

describe("handover", () => {
  test("a state of an unknown format, or incomplete, is refused with a reason", () => {
    assert.deepEqual(decodeHandover("{"), { ok: false, reason: decodeHandover("{").ok ? "" : (decodeHandover("{") as { reason: string }).reason });
    assert.match((decodeHandover('{"format":99}') as { reason: string }).reason, /format 99 is not one this steward reads/);
    assert.match((decodeHandover(`{"format":${HANDOVER_FORMAT}}`) as { reason: string }).reason, /incomplete/);
  });
  test("a complete state round-trips", () => {
    const h = {
      format: HANDOVER_FORMAT,
      writtenBy: "1.0.0",
      master: { pid: 1, startedAt: 5, reloads: 2, failedReloads: 0, version: "1.0.0" },
      processes: [],
      listeners: [],
      notify: { fd: 7, path: "/run/x" },
      runDir: "/run",
      options: { config: {} as never, logLevel: 3, systemd: false, daemon: false, args: ["-f", "x"] },
      cli: { listeners: [] },
      loadLines: ["a"],
      reloadPending: true,
      hard: false,
    };
    const back = decodeHandover(encodeHandover(h));
    assert.equal(back.ok, true);
    assert.deepEqual(back.ok && back.handover, h);
  });
});
