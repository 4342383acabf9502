// Line numbers for key paths in TOML, YAML and JSON texts, and JSON syntax errors.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { keyPathText, lineFinder, locateKey } from "../../src/config/index.ts";
import { scanJson } from "../../src/config/jsonscan.ts";
import { readFailure } from "../../src/config/load.ts";

describe("TOML", () => {
  const text = [
    /* 1 */ "# comment",
    /* 2 */ "[global]",
    /* 3 */ "workers = 2",
    /* 4 */ `"stop-signal" = "TERM"`,
    /* 5 */ `banner = """`,
    /* 6 */ "[not-a-header]",
    /* 7 */ `key = "not a key"`,
    /* 8 */ `"""`,
    /* 9 */ "",
    /* 10 */ "[[listen]]",
    /* 11 */ `bind = "tcp://:80"`,
    /* 12 */ "[[listen]]",
    /* 13 */ `  name = "b"   # indented`,
    /* 14 */ "[listen.extra]",
    /* 15 */ "x = 1",
    /* 16 */ "",
    /* 17 */ "[worker]",
    /* 18 */ "command = [",
    /* 19 */ `  "node",`,
    /* 20 */ "  [1, 2],",
    /* 21 */ "]",
    /* 22 */ "env.NODE_ENV = 'production'",
    /* 23 */ "env . 'a b' = 1",
    /* 24 */ "cwd = '/srv'",
  ].join("\n");
  const find = lineFinder(text, "toml");
  const cases: [(string | number)[], number | undefined][] = [
    [["global"], 2], [["global", "workers"], 3], [["global", "stop-signal"], 4], [["global", "banner"], 5],
    [["global", "key"], 2], [["not-a-header"], undefined],
    [["listen"], 10], [["listen", 0], 10], [["listen", 0, "bind"], 11], [["listen", 1], 12], [["listen", 1, "name"], 13],
    [["listen", 1, "extra", "x"], 15], [["listen", 1, "mode"], 12], [["listen", 2, "bind"], 10],
    [["worker", "command"], 18], [["worker", "command", 1], 18], [["worker", "env", "NODE_ENV"], 22],
    [["worker", "env", "a b"], 23], [["worker", "cwd"], 24], [["worker", "missing"], 17], [["program", 0, "name"], undefined],
  ];
  for (const [path, line] of cases) {
    test(`${keyPathText(path)} → ${line}`, () => assert.equal(find(path), line));
  }
  test("inline tables fall back to their key", () => {
    assert.equal(locateKey(`[worker]\nenv = { A = 1,\n B = 2 }\n`, "toml", ["worker", "env", "B"]), 2);
    assert.equal(locateKey(`listen = [{ bind = "x" }, { bind = "y" }]\n`, "toml", ["listen", 1, "bind"]), 1);
  });
});

describe("YAML", () => {
  const text = [
    /* 1 */ "---",
    /* 2 */ "global:",
    /* 3 */ "  workers: 2   # comment",
    /* 4 */ `  "stop-signal": TERM`,
    /* 5 */ "  banner: |",
    /* 6 */ "    workers: not a key",
    /* 7 */ "",
    /* 8 */ "    still text",
    /* 9 */ "  ready: spawn",
    /* 10 */ "listen:",
    /* 11 */ "- bind: tcp://:80",
    /* 12 */ "  name: a",
    /* 13 */ "-",
    /* 14 */ "  bind: tcp://:81",
    /* 15 */ "worker:",
    /* 16 */ "  command:",
    /* 17 */ "    - node",
    /* 18 */ "    - server.js",
    /* 19 */ "  env: {A: 1}",
    /* 20 */ "program:",
    /* 21 */ "  - name: p",
    /* 22 */ "    command: [p]",
    /* 23 */ "  - name: q",
    /* 24 */ "    'on-failure': exit",
    /* 25 */ "matrix:",
    /* 26 */ "  - - a",
    /* 27 */ "    - b",
    /* 28 */ "  - - c",
  ].join("\n");
  const find = lineFinder(text, "yaml");
  const cases: [(string | number)[], number | undefined][] = [
    [["global"], 2], [["global", "workers"], 3], [["global", "stop-signal"], 4], [["global", "banner"], 5], [["global", "ready"], 9],
    [["listen", 0], 11], [["listen", 0, "bind"], 11], [["listen", 0, "name"], 12], [["listen", 1], 13], [["listen", 1, "bind"], 14],
    [["worker", "command", 0], 17], [["worker", "command", 1], 18], [["worker", "env", "A"], 19],
    [["program", 0, "name"], 21], [["program", 0, "command", 0], 22], [["program", 1, "name"], 23], [["program", 1, "on-failure"], 24],
    [["matrix", 0, 0], 26], [["matrix", 0, 1], 27], [["matrix", 1, 0], 28], [["master-cli"], undefined],
  ];
  for (const [path, line] of cases) {
    test(`${keyPathText(path)} → ${line}`, () => assert.equal(find(path), line));
  }
});

describe("JSON", () => {
  const text = `{\n  "global": {"workers": 2,\n    "ready": "spawn"},\n  "listen": [\n    {"bind": "x"},\n\n    {\n      "name": "y"\n    }\n  ],\n  "a\\"b": {"c": [1,\n 2]}\n}`;
  const find = lineFinder(text, "json");
  const cases: [(string | number)[], number | undefined][] = [
    [["global"], 2], [["global", "workers"], 2], [["global", "ready"], 3], [["listen"], 4], [["listen", 0, "bind"], 5],
    [["listen", 1], 7], [["listen", 1, "name"], 8], [["listen", 1, "bind"], 7], [['a"b', "c", 1], 12], [["worker"], undefined],
  ];
  for (const [path, line] of cases) {
    test(`${keyPathText(path)} → ${line}`, () => assert.equal(find(path), line));
  }
  test("syntax errors", () => {
    const error = (source: string) => scanJson(source).error;
    assert.deepEqual(error(`{"a": 1}`), undefined);
    assert.deepEqual(error(`{"a": 1,\n}`), { line: 2, message: "trailing comma before '}'" });
    assert.deepEqual(error(`[1,\n\n]`), { line: 3, message: "trailing comma before ']'" });
    assert.deepEqual(error(`{"a" 1}`), { line: 1, message: `expected ':' after "a" but found '1'` });
    assert.deepEqual(error(`{\n'a': 1}`), { line: 2, message: `expected a "key" but found '''` });
    assert.deepEqual(error(`{"a": tru}`), { line: 1, message: "unexpected 't'" });
    assert.deepEqual(error(`{"a": -}`), { line: 1, message: "invalid number" });
    assert.deepEqual(error(`{"a": "\\x"}`), { line: 1, message: "invalid escape in a string" });
    assert.deepEqual(error(`{"a": 1}\n{}`), { line: 2, message: "unexpected '{' after the end of the document" });
    assert.deepEqual(error(`{"a": [1, 2}`), { line: 1, message: "expected ',' or ']' but found '}'" });
    assert.deepEqual(error(`{"a":\n`), { line: 2, message: "unexpected end of file" });
    assert.deepEqual(error(`{"a": {"b": 1},\n "a": 2}`), { line: 2, message: `duplicate key "a"` });
    assert.deepEqual(error(`[{"a": 1}, {"a": 2}]`), undefined);
  });
});

describe("read failures", () => {
  test("OS codes become words", () => {
    assert.equal(readFailure(Object.assign(new Error("EACCES: permission denied, open 'x'"), { code: "EACCES" })), "permission denied");
    assert.equal(readFailure(Object.assign(new Error("ENOENT"), { code: "ENOENT" })), "no such file");
    assert.equal(readFailure(Object.assign(new Error("EIO: i/o error\nmore"), { code: "EIO" })), "EIO: i/o error");
  });
});
