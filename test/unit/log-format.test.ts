import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { journalStreamMatches, type LogStyle, renderLine } from "../../src/log-format.ts";

const at = new Date("2026-01-02T03:04:05.678Z");

describe("log formats", () => {
  test("JOURNAL_STREAM matches only stderr's own DEV:INODE", () => {
    const stderr = { dev: 65024n, ino: 18446744073709551557n };
    assert.equal(journalStreamMatches("65024:18446744073709551557", stderr), true);
    assert.equal(journalStreamMatches("65024:18446744073709551556", stderr), false);
    assert.equal(journalStreamMatches("65025:18446744073709551557", stderr), false);
    for (const bad of [undefined, "", "65024", "65024:", ":1", "a:b", "65024:1:2"]) assert.equal(journalStreamMatches(bad, stderr), false, String(bad));
    assert.equal(journalStreamMatches("65024:18446744073709551557", undefined), false);
  });

  test("text, journal prefixes, json", () => {
    const entry = { level: "warning" as const, pid: 42, text: "[WARNING]  (42) : careful", message: "careful", time: at };
    assert.equal(renderLine({ format: "text", journal: false }, entry), "[WARNING]  (42) : careful");
    assert.equal(renderLine({ format: "text", journal: true }, entry), "<4>[WARNING]  (42) : careful");
    assert.equal(renderLine({ format: "journal", journal: false }, entry), "<4>[WARNING]  (42) : careful");
    assert.equal(renderLine({ format: "journal", journal: false }, { ...entry, text: "[WARNING]  (42) : a\nb" }), "<4>[WARNING]  (42) : a\n<4>b");
    const fields = { worker: 1, pid: 7, message: "not this one", generation: 2 };
    assert.equal(
      renderLine({ format: "json", journal: true }, { ...entry, fields }),
      '{"time":"2026-01-02T03:04:05.678Z","level":"warning","pid":42,"message":"careful","worker":1,"generation":2}',
    );
  });

  test("the logger: priorities by level, fields in json only, load lines always text", () => {
    const out: string[] = [];
    let style: LogStyle = { format: "journal", journal: false };
    const log = createLogger({ level: 4, pid: () => 9, write: (l) => out.push(l), style: () => style });
    log.alert("a");
    log.warn("w");
    log.notice("n", { worker: 1 });
    log.debug("d");
    assert.deepEqual(out, ["<3>[ALERT]    (9) : a", "<4>[WARNING]  (9) : w", "<5>[NOTICE]   (9) : n", "<7>[DEBUG]    (9) : d"]);
    style = { format: "json", journal: false };
    log.notice("n", { worker: 1 });
    const json = JSON.parse(out.at(-1)!);
    assert.deepEqual([json.level, json.pid, json.message, json.worker], ["notice", 9, "n", 1]);
    assert.deepEqual(log.loadLines().slice(-2), ["[DEBUG]    (9) : d", "[NOTICE]   (9) : n"]);
  });

  test("batch: the lines logged inside are written in order when it returns or throws, not before; nested batches write once", () => {
    const out: string[] = [];
    const log = createLogger({ level: 3, pid: () => 9, write: (l) => out.push(l), style: () => ({ format: "text", journal: false }) });
    const seen: number[] = [];
    const r = log.batch(() => {
      log.notice("first");
      log.batch(() => log.notice("inner"));
      seen.push(out.length);
      log.warn("last");
      return 7;
    });
    assert.equal(r, 7);
    assert.deepEqual(seen, [0]);
    assert.deepEqual(out, ["[NOTICE]   (9) : first", "[NOTICE]   (9) : inner", "[WARNING]  (9) : last"]);
    assert.deepEqual(log.loadLines(), ["[NOTICE]   (9) : first", "[NOTICE]   (9) : inner", "[WARNING]  (9) : last"]);
    assert.throws(() =>
      log.batch(() => {
        log.alert("before the throw");
        throw new Error("boom");
      }),
    );
    assert.equal(out.at(-1), "[ALERT]    (9) : before the throw");
    log.notice("after");
    assert.equal(out.at(-1), "[NOTICE]   (9) : after");
  });
});
