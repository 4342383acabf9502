// Loading files (TOML, YAML, JSON): defaults, every kind of problem with its line, overrides.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ROLLOUT_DEFAULTS } from "../../src/config/rollout.ts";
import {
  type Config, type ConfigOverrides, type ConfigResult, DEFAULT_GLOBAL, formatProblem, idsFromText, loadConfig,
} from "../../src/config/index.ts";

const ids = idsFromText("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/srv:/bin/sh\n", "root:x:0:\napp:x:1001:\nstaff:x:50:\n");
const dir = mkdtempSync(join(tmpdir(), "steward-config-load-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(name: string, text: string | undefined, overrides: ConfigOverrides = {}): Promise<ConfigResult> {
  if (text !== undefined) writeFileSync(join(dir, name), text);
  return loadConfig({ file: name, overrides, cwd: dir, ids });
}

function config(result: ConfigResult): Config {
  if (!result.ok) assert.fail(`expected a valid config, got:\n${result.problems.map(formatProblem).join("\n")}`);
  return result.config;
}

function problems(result: ConfigResult): string[] {
  assert.equal(result.ok, false, "expected problems");
  return result.ok ? [] : result.problems.map(formatProblem);
}

const REFERENCE_SAMPLE = `[global]
workers = 2                  # worker processes per generation
ready = "accepting"
ready-timeout = "30s"
stop-signal = "SIGTERM"
hard-stop-after = "5m"
max-reloads = 50
on-failure = "exit"
pidfile = "/run/app.pid"
user = "app"
group = "staff"

[[listen]]
name = "http"
bind = "tcp://0.0.0.0:8080"
backlog = 1024

[[listen]]
bind = "unix:///run/app/web.sock"
mode = "660"

[worker]
command = ["node", "server.js"]
cwd = "/srv/app"
env = { NODE_ENV = "production", PORT = 8080, DEBUG = false }

[[program]]
name = "metrics-agent"
command = ["/usr/bin/agent", "--port", "9100"]
start-on-reload = true
on-failure = "restart"

[[master-cli]]
bind = "/run/app/master.sock"
mode = "600"
level = "admin"
`;

describe("valid files", () => {
  test("the reference's sample, fully resolved", async () => {
    assert.deepEqual(config(await load("spec.toml", REFERENCE_SAMPLE)), {
      file: join(dir, "spec.toml"),
      global: {
        workers: 2, ready: { kind: "accepting" }, readyTimeout: 30_000, stopSignal: 15, hardStopAfter: 300_000,
        maxReloads: 50, onFailure: "exit", logFormat: "text", ...ROLLOUT_DEFAULTS, probation: 0, probationFailures: 0, pidfile: "/run/app.pid", user: "app", uid: 1000, group: "staff", gid: 50,
      },
      listen: [
        { name: "http", bind: "tcp://0.0.0.0:8080", address: { kind: "tcp", host: "0.0.0.0", port: 8080, family: 4 }, backlog: 1024 },
        { name: "listen2", bind: "unix:///run/app/web.sock", address: { kind: "unix", path: "/run/app/web.sock" }, backlog: 511, mode: 0o660 },
      ],
      worker: { command: ["node", "server.js"], cwd: "/srv/app", env: { NODE_ENV: "production", PORT: "8080", DEBUG: "false" } },
      program: [{ name: "metrics-agent", command: ["/usr/bin/agent", "--port", "9100"], env: {}, startOnReload: true, onFailure: "restart" }],
      masterCli: [{ bind: "/run/app/master.sock", address: { kind: "unix", path: "/run/app/master.sock" }, mode: 0o600, level: "admin" }],
    });
  });

  test("defaults (REFERENCE §3)", async () => {
    const loaded = config(await load("min.toml", `[worker]\ncommand = "node  server.js --port 1"\n[[program]]\nname = "p"\ncommand = ["p"]\n`));
    assert.deepEqual(loaded.global, DEFAULT_GLOBAL);
    assert.deepEqual(loaded.global, {
      workers: 1, ready: { kind: "accepting" }, readyTimeout: 30_000, stopSignal: 15, hardStopAfter: 300_000, maxReloads: 50, onFailure: "exit", logFormat: "text",
      rollout: { kind: "all" }, maxRss: 0, maxRssFor: 30_000, oldRssBudget: 0, probation: 0, probationFailures: 0,
    });
    assert.deepEqual(loaded.worker, { command: ["node", "server.js", "--port", "1"], env: {} });
    assert.deepEqual(loaded.program, [{ name: "p", command: ["p"], env: {}, startOnReload: true, onFailure: "restart" }]);
    assert.deepEqual(loaded.listen, []);
    assert.deepEqual(loaded.masterCli, []);
  });

  test("the same config in YAML and JSON; relative paths against the file's directory", async () => {
    mkdirSync(join(dir, "etc"), { recursive: true });
    const yaml = `global:\n  ready: "delay:1.5s"\n  user: 1000\n  pidfile: run/app.pid\nlisten:\n- name: web\n  bind: unix:web.sock\n  mode: 0660\nworker:\n  command: [app]\n  cwd: ..\nmaster-cli:\n  - bind: m.sock\n    level: user\n`;
    const json = JSON.stringify({
      global: { ready: "delay:1.5s", user: 1000, pidfile: "run/app.pid" },
      listen: [{ name: "web", bind: "unix:web.sock", mode: 660 }],
      worker: { command: ["app"], cwd: ".." },
      "master-cli": [{ bind: "m.sock", level: "user" }],
    });
    const fromYaml = config(await load("etc/app.yaml", yaml));
    const fromJson = config(await load("etc/app.json", json));
    assert.deepEqual({ ...fromYaml, file: "" }, { ...fromJson, file: "" });
    assert.deepEqual(fromYaml.global.ready, { kind: "delay", ms: 1_500 });
    assert.equal(fromYaml.global.uid, 1000);
    assert.equal(fromYaml.global.gid, undefined);
    assert.equal(fromYaml.global.pidfile, join(dir, "etc/run/app.pid"));
    assert.equal(fromYaml.listen[0]?.bind, `unix://${join(dir, "etc/web.sock")}`);
    assert.equal(fromYaml.listen[0]?.mode, 0o660);
    assert.equal(fromYaml.worker.cwd, dir);
    assert.equal(fromYaml.masterCli[0]?.bind, join(dir, "etc/m.sock"));
    assert.equal(fromYaml.masterCli[0]?.level, "user");
  });

  test(".yml and upper-case extensions; empty YAML and TOML files are empty configs", async () => {
    const overrides = { command: ["x"] };
    assert.equal(config(await load("a.yml", "# only a comment\n", overrides)).global.workers, 1);
    assert.equal(config(await load("b.TOML", "", overrides)).global.workers, 1);
  });
});

describe("problems with exact lines", () => {
  test("TOML: every kind, every one reported", async () => {
    const text = [
      /* 1 */ "[global]",
      /* 2 */ "wrokers = 2",
      /* 3 */ "workers = 0",
      /* 4 */ `ready = "later"`,
      /* 5 */ `ready-timeout = "10"`,
      /* 6 */ `stop-signal = "SIGTREM"`,
      /* 7 */ `hard-stop-after = -1`,
      /* 8 */ `on-failure = "restrat"`,
      /* 9 */ "pidfile = 5",
      /* 10 */ `user = "nobody"`,
      /* 11 */ "",
      /* 12 */ "[[listen]]",
      /* 13 */ `name = "http"`,
      /* 14 */ `bind = "tcp://0.0.0.0:8080"`,
      /* 15 */ "",
      /* 16 */ "[[listen]]",
      /* 17 */ `name = "http"`,
      /* 18 */ `bind = "tcp://127.0.0.1:8080"`,
      /* 19 */ "backlog = 70000",
      /* 20 */ `mode = "600"`,
      /* 21 */ "",
      /* 22 */ "[[listen]]",
      /* 23 */ `bind = "tcp://0.0.0.0:8080"`,
      /* 24 */ "",
      /* 25 */ "[worker]",
      /* 26 */ `command = ["node", 3]`,
      /* 27 */ "cwd = []",
      /* 28 */ "workers = 4",
      /* 29 */ "env = { A = 1, B = [1], LISTEN_FDS = 2 }",
      /* 30 */ "",
      /* 31 */ "[[program]]",
      /* 32 */ `name = "agent"`,
      /* 33 */ `command = ""`,
      /* 34 */ "",
      /* 35 */ "[[program]]",
      /* 36 */ `name = "agent"`,
      /* 37 */ `command = "agent"`,
      /* 38 */ `start-on-reload = "yes"`,
      /* 39 */ "",
      /* 40 */ "[[master-cli]]",
      /* 41 */ `bind = "127.0.0.1:8080"`,
      /* 42 */ `level = "god"`,
      /* 43 */ "",
      /* 44 */ "[extra]",
    ].join("\n");
    assert.deepEqual(problems(await load("all.toml", text)), [
      "all.toml:2: global.wrokers: unknown key (did you mean 'workers'?)",
      "all.toml:3: global.workers: must be an integer from 1 to 4096 (got 0)",
      `all.toml:4: global.ready: must be accepting, notify, spawn or delay:DURATION (got "later")`,
      `all.toml:5: global.ready-timeout: missing unit (ms, s, m, h) (got "10")`,
      `all.toml:6: global.stop-signal: unknown signal 'SIGTREM' (did you mean SIGTERM?) (got "SIGTREM")`,
      "all.toml:7: global.hard-stop-after: must not be negative (got -1)",
      `all.toml:8: global.on-failure: must be exit, restart or ignore (did you mean 'restart'?) (got "restrat")`,
      "all.toml:9: global.pidfile: must be a path (a string) (got 5)",
      `all.toml:10: global.user: unknown user 'nobody' (not in /etc/passwd) (got "nobody")`,
      `all.toml:17: listen[1].name: duplicate name (also listen[0]) (got "http")`,
      `all.toml:18: listen[1].bind: address overlaps tcp://0.0.0.0:8080 (listen[0]) (got "tcp://127.0.0.1:8080")`,
      "all.toml:19: listen[1].backlog: must be an integer from 1 to 65535 (got 70000)",
      `all.toml:20: listen[1].mode: applies only to unix sockets (got "600")`,
      `all.toml:23: listen[2].bind: duplicate address (also listen[0]) (got "tcp://0.0.0.0:8080")`,
      "all.toml:26: worker.command[1]: must be a string (got 3)",
      "all.toml:27: worker.cwd: must be a path (a string) (got [])",
      "all.toml:28: worker.workers: unknown key (it belongs in global)",
      "all.toml:29: worker.env.B: must be a string, number or boolean (got [1])",
      "all.toml:29: worker.env.LISTEN_FDS: is set by steward for every worker and cannot be configured",
      `all.toml:33: program[0].command: empty command (got "")`,
      `all.toml:36: program[1].name: duplicate name (also program[0]) (got "agent")`,
      `all.toml:38: program[1].start-on-reload: must be true or false (got "yes")`,
      `all.toml:41: master-cli[0].bind: address overlaps tcp://0.0.0.0:8080 (listen[0]) (got "127.0.0.1:8080")`,
      `all.toml:42: master-cli[0].level: must be admin, operator or user (got "god")`,
      "all.toml:44: extra: unknown key",
    ]);
  });

  test("YAML: lines through nested mappings and compact lists", async () => {
    const text = [
      /* 1 */ "# steward",
      /* 2 */ "global:",
      /* 3 */ "  workers: many",
      /* 4 */ "  ready_timeout: 10s",
      /* 5 */ "listen:",
      /* 6 */ "- name: a",
      /* 7 */ "  bind: tcp://[::1]:80",
      /* 8 */ "- name: 'b:c'",
      /* 9 */ "  bind: 0.0.0.0:81",
      /* 10 */ "worker:",
      /* 11 */ "  command:",
      /* 12 */ "    - node",
      /* 13 */ "  env:",
      /* 14 */ "    ok: yes",
      /* 15 */ "    bad: {x: 1}",
      /* 16 */ "master-cli:",
      /* 17 */ "  - bind: /run/m.sock",
      /* 18 */ "    mode: 0800",
    ].join("\n");
    assert.deepEqual(problems(await load("all.yaml", text)), [
      `all.yaml:3: global.workers: must be an integer from 1 to 4096 (got "many")`,
      "all.yaml:4: global.ready_timeout: unknown key (did you mean 'ready-timeout'?)",
      `all.yaml:8: listen[1].name: may contain only letters, digits, '_', '.' and '-' (got "b:c")`,
      `all.yaml:9: listen[1].bind: missing scheme (did you mean tcp://0.0.0.0:81?) (got "0.0.0.0:81")`,
      `all.yaml:15: worker.env.bad: must be a string, number or boolean (got {"x":1})`,
      `all.yaml:18: master-cli[0].mode: must be an octal mode such as "600" or "0660" (got 800)`,
    ]);
  });

  test("JSON: lines of keys and array elements", async () => {
    const text = `{
  "global": {
    "workers": "2",
    "max-reloads": -1
  },
  "listen": [
    { "name": "a", "bind": "tcp://*:80" },
    "tcp://*:81"
  ],
  "worker": {
    "command": ["node",
      false]
  },
  "program": [
    {
      "command": ["x"],
      "on-failure": "never"
    }
  ]
}`;
    assert.deepEqual(problems(await load("all.json", text)), [
      `all.json:3: global.workers: must be an integer from 1 to 4096 (got "2")`,
      "all.json:4: global.max-reloads: must be an integer from 0 to 1000000 (got -1)",
      `all.json:8: listen[1]: must be a table (got "tcp://*:81")`,
      "all.json:12: worker.command[1]: must be a string (got false)",
      "all.json:15: program[0].name: required (programs are shown and addressed by name)",
      `all.json:17: program[0].on-failure: must be exit, restart or ignore (got "never")`,
    ]);
  });

  test("keys in the wrong section name their section", async () => {
    assert.deepEqual(problems(await load("wrong.yaml", "workers: 2\nworker:\n  command: [x]\n  bind: tcp://:80\nglobal:\n  comand: [y]\n")), [
      "wrong.yaml:1: workers: unknown key (it belongs in global)",
      "wrong.yaml:4: worker.bind: unknown key (it belongs in listen)",
      "wrong.yaml:6: global.comand: unknown key",
    ]);
  });

  test("three mistakes give three lines", async () => {
    const text = `[global]\nworkers = 5000\nstop-signal = "SIGNOPE"\n\n[worker]\ncommand = []\n`;
    assert.deepEqual(problems(await load("three.toml", text)), [
      "three.toml:2: global.workers: must be an integer from 1 to 4096 (got 5000)",
      `three.toml:3: global.stop-signal: unknown signal 'SIGNOPE' (got "SIGNOPE")`,
      "three.toml:6: worker.command: empty command (got [])",
    ]);
  });

  test("rollout and memory keys: read from [global], one line per bad value naming it", async () => {
    const good = `[global]\nworkers = 4\nrollout = "batch:25%"\nmax-rss = "512MiB"\nmax-rss-for = "10s"\nold-rss-budget = "2GB"\n[worker]\ncommand = ["x"]\n`;
    const g = config(await load("good-rollout.toml", good)).global;
    assert.deepEqual([g.rollout, g.maxRss, g.maxRssFor, g.oldRssBudget], [{ kind: "batch", percent: 25 }, 512 * 2 ** 20, 10_000, 2e9]);
    const text = `[global]\nrollout = "batches:2"\nmax-rss = "512"\nmax-rss-for = "soon"\nold-rss-budget = "2 furlongs"\n[worker]\ncommand = ["x"]\n`;
    assert.deepEqual(problems(await load("bad-rollout.toml", text)), [
      `bad-rollout.toml:2: global.rollout: must be "all", "batch:N" or "batch:P%" (e.g. "batch:1", "batch:25%") (got "batches:2")`,
      `bad-rollout.toml:3: global.max-rss: missing unit (B, KiB, MiB, GiB, KB, MB, GB; e.g. "512MiB", "2GiB", "100MB") (got "512")`,
      `bad-rollout.toml:4: global.max-rss-for: not a duration (e.g. "500ms", "30s", "1m30s") (got "soon")`,
      `bad-rollout.toml:5: global.old-rss-budget: unknown unit 'furlongs' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB) (got "2 furlongs")`,
    ]);
  });

  test("probation and probation-failures: read, and one line each for a bad value", async () => {
    const good = config(await load("p.toml", `[global]\nprobation = "1m30s"\nprobation-failures = 2\n[worker]\ncommand = ["node"]\n`));
    assert.deepEqual([good.global.probation, good.global.probationFailures], [90_000, 2]);
    assert.deepEqual(problems(await load("bad.toml", `[global]\nprobation = "30"\nprobation-failures = -1\n[worker]\ncommand = ["node"]\n`)), [
      `bad.toml:2: global.probation: missing unit (ms, s, m, h) (got "30")`,
      "bad.toml:3: global.probation-failures: must be an integer from 0 to 1000000 (got -1)",
    ]);
  });

  test("a missing worker command points at [worker], or at nothing", async () => {
    assert.deepEqual(problems(await load("nocmd.toml", `[global]\nworkers = 1\n\n[worker]\ncwd = "/"\n`)), [
      "nocmd.toml:4: worker.command: required (give [worker] command = [...] or a command after --)",
    ]);
    assert.deepEqual(problems(await load("nocmd.json", `{}`)), [
      "nocmd.json: worker.command: required (give [worker] command = [...] or a command after --)",
    ]);
  });

  test("sections of the wrong shape", async () => {
    const text = `global = 1\nworker = [1]\n\n[listen]\nbind = "tcp://:80"\n`;
    assert.deepEqual(problems(await load("shape.toml", text)), [
      "shape.toml:1: global: must be a table (got 1)",
      "shape.toml:2: worker: must be a table (got [1])",
      "shape.toml:2: worker.command: required (give [worker] command = [...] or a command after --)",
      `shape.toml:4: listen: must be a list of tables ([[listen]] in TOML) (got {"bind":"tcp://:80"})`,
    ]);
  });

  test("modes: numbers read as octal digits, TOML dates are not strings", async () => {
    const text = `[[listen]]\nbind = "unix:/a.sock"\nmode = 600\n[[listen]]\nbind = "unix:/b.sock"\nmode = 0o600\n[global]\npidfile = 1979-05-27\n[worker]\ncommand = ["x"]\n`;
    assert.deepEqual(problems(await load("modes.toml", text)), [
      `modes.toml:6: listen[1].mode: must be an octal mode such as "600" or "0660" (got 384)`,
      `modes.toml:8: global.pidfile: must be a path (a string) (got 1979-05-27)`,
    ]);
  });
});

describe("files that cannot be used", () => {
  test("missing file, directory, extension", async () => {
    mkdirSync(join(dir, "conf.d.toml"), { recursive: true });
    assert.deepEqual(problems(await load("missing.toml", undefined)), ["missing.toml: cannot read the file: no such file"]);
    assert.deepEqual(problems(await load("conf.d.toml", undefined)), ["conf.d.toml: cannot read the file: is a directory"]);
    assert.deepEqual(problems(await load("app.ini", "x=1")), ["app.ini: unsupported extension '.ini' (use .toml, .yaml, .yml or .json)"]);
    assert.deepEqual(problems(await load("Stewardfile", "x=1")), ["Stewardfile: no file extension (use .toml, .yaml, .yml or .json)"]);
  });

  test("unreadable file", { skip: process.getuid?.() === 0 ? "root reads everything" : false }, async () => {
    writeFileSync(join(dir, "secret.toml"), "");
    chmodSync(join(dir, "secret.toml"), 0o000);
    assert.deepEqual(problems(await load("secret.toml", undefined)), ["secret.toml: cannot read the file: permission denied"]);
  });

  test("syntax errors carry the parser's line", async () => {
    assert.deepEqual(problems(await load("syn1.toml", `[global]\nworkers = 2\n\n[listen\nbind = 1\n`)), ["syn1.toml:4: syntax error: illegal character in key"]);
    assert.deepEqual(problems(await load("syn2.toml", `a = 1\nb = "open\n`)), ["syn2.toml:2: syntax error: control characters are not allowed in strings"]);
    assert.deepEqual(problems(await load("syn3.toml", `x = 1\nx = 2\n`)), ["syn3.toml:2: syntax error: trying to redefine an already defined table or value"]);
    assert.deepEqual(problems(await load("syn1.yaml", `global:\n  workers: 1\n  - x\n`)), [
      "syn1.yaml:3: syntax error: bad indentation of a mapping entry",
    ]);
    assert.deepEqual(problems(await load("syn2.yaml", `a: 1\na: 2\n`)), ["syn2.yaml:2: syntax error: duplicated mapping key"]);
    assert.deepEqual(problems(await load("syn1.json", `{\n  "global": {\n    "workers": 2,\n  }\n}`)), ["syn1.json:4: syntax error: trailing comma before '}'"]);
    assert.deepEqual(problems(await load("syn2.json", `{\n  "a": 1\n  "b": 2\n}`)), [`syn2.json:3: syntax error: expected ',' or '}' but found '"'`]);
    assert.deepEqual(problems(await load("syn3.json", "")), ["syn3.json:1: syntax error: empty file (expected a JSON object)"]);
    assert.deepEqual(problems(await load("syn4.json", `{"a": "x\n"}`)), ["syn4.json:1: syntax error: unterminated string"]);
  });

  test("the top level must be a table", async () => {
    assert.deepEqual(problems(await load("list.json", "[1, 2]")), ["list.json: the top level must be an object of sections (got a list)"]);
    assert.deepEqual(problems(await load("scalar.yaml", "hello\n")), ["scalar.yaml: the top level must be a mapping of sections (got a string)"]);
  });
});

describe("overrides", () => {
  const FILE = `[global]\nworkers = 2\npidfile = "app.pid"\n\n[[listen]]\nname = "file"\nbind = "tcp://0.0.0.0:80"\n\n[worker]\ncommand = ["file-cmd"]\n\n[[master-cli]]\nbind = "m.sock"\n`;

  test("scalars replace, -l replaces, -S appends, command replaces; override paths are relative to cwd", async () => {
    mkdirSync(join(dir, "sub"), { recursive: true });
    const loaded = config(await load("sub/ov.toml", FILE, {
      workers: "4", ready: "notify", readyTimeout: "1m", stopSignal: "USR1", hardStopAfter: "0", maxReloads: "3",
      onFailure: "ignore", logFormat: "json", listen: ["http=tcp://[::]:8080", "unix:api.sock"], masterCli: ["127.0.0.1:9999,level,operator"],
      command: ["node", "server.js"],
    }));
    assert.deepEqual(loaded.global, {
      workers: 4, ready: { kind: "notify" }, readyTimeout: 60_000, stopSignal: 10, hardStopAfter: 0, maxReloads: 3,
      onFailure: "ignore", logFormat: "json", ...ROLLOUT_DEFAULTS, probation: 0, probationFailures: 0, pidfile: join(dir, "sub/app.pid"),
    });
    assert.deepEqual(loaded.listen.map((l) => [l.name, l.bind, l.backlog]), [
      ["http", "tcp://[::]:8080", 511],
      ["listen2", `unix://${join(dir, "api.sock")}`, 511],
    ]);
    assert.deepEqual(loaded.masterCli.map((m) => [m.bind, m.level]), [[join(dir, "sub/m.sock"), "admin"], ["127.0.0.1:9999", "operator"]]);
    assert.deepEqual(loaded.worker.command, ["node", "server.js"]);
  });

  test("without overrides the file stands; pidfile override resolves against cwd", async () => {
    const loaded = config(await load("ov2.toml", FILE, { pidfile: "run/x.pid", command: [] }));
    assert.equal(loaded.global.workers, 2);
    assert.equal(loaded.global.pidfile, join(dir, "run/x.pid"));
    assert.deepEqual(loaded.listen.map((l) => l.name), ["file"]);
    assert.deepEqual(loaded.worker.command, ["file-cmd"]);
  });

  test("bad overrides name the option (or the variable) and come after the file's problems", async () => {
    const result = await load("ov3.toml", `[global]\nworkers = "2"\n[worker]\ncommand = ["x"]\n[[master-cli]]\nbind = "/run/m.sock"\n`, {
      workers: "four", readyTimeout: "0", stopSignal: "SIGFOO", listen: ["a=tcp://*:80", "a=tcp://127.0.0.1:80", "bogus"],
      masterCli: ["/run/m.sock", "/x.sock,level"], hardStopAfter: "5", origin: { hardStopAfter: "environment" },
    });
    assert.deepEqual(problems(result), [
      `ov3.toml:2: global.workers: must be an integer from 1 to 4096 (got "2")`,
      `command line: --workers: must be an integer from 1 to 4096 (got "four")`,
      `command line: --ready-timeout: must be greater than 0 (got "0")`,
      `command line: --stop-signal: unknown signal 'SIGFOO' (got "SIGFOO")`,
      `environment: STEWARD_HARD_STOP_AFTER: missing unit (ms, s, m, h) (got "5")`,
      `command line: --listen: missing scheme (use tcp://HOST:PORT, tcp://[V6]:PORT or unix:///PATH) (got "bogus")`,
      `command line: --master-cli: level: missing value (write level,VALUE) (got "/x.sock,level")`,
      `command line: --listen: duplicate name (also --listen 'a=tcp://*:80') (got "a=tcp://127.0.0.1:80")`,
      `command line: --listen: address overlaps tcp://0.0.0.0:80 (--listen 'a=tcp://*:80') (got "a=tcp://127.0.0.1:80")`,
      `command line: --master-cli: duplicate address (also master-cli[0]) (got "/run/m.sock")`,
    ]);
  });
});

describe("no file: the command line alone", () => {
  test("listeners, master CLI and command from options", async () => {
    const loaded = config(await loadConfig({
      cwd: "/srv",
      ids,
      overrides: { listen: ["http=tcp://0.0.0.0:8080"], workers: "4", masterCli: ["/run/app.sock"], command: ["node", "server.js"] },
    }));
    assert.deepEqual(loaded, {
      global: { ...DEFAULT_GLOBAL, workers: 4 },
      listen: [{ name: "http", bind: "tcp://0.0.0.0:8080", address: { kind: "tcp", host: "0.0.0.0", port: 8080, family: 4 }, backlog: 511 }],
      worker: { command: ["node", "server.js"], env: {} },
      program: [],
      masterCli: [{ bind: "/run/app.sock", address: { kind: "unix", path: "/run/app.sock" }, mode: 0o600, level: "admin" }],
    });
  });

  test("no command anywhere", async () => {
    assert.deepEqual(problems(await loadConfig({ cwd: "/", ids, overrides: { listen: ["tcp://:80"] } })), [
      "command line: worker.command: required (give [worker] command = [...] or a command after --)",
    ]);
    assert.deepEqual(problems(await loadConfig({ cwd: "/", ids, overrides: { command: ["", "x"] } })), [
      `command line: --: the program to run must not be empty (got "")`,
      "command line: worker.command: required (give [worker] command = [...] or a command after --)",
    ]);
  });
});
