import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { RunOptions } from "../../src/master/options.ts";
import {
  type CliDeps,
  envVariableOf,
  normalizeArgv,
  parseBoolean,
  readEnvLogLevel,
  readEnvOptions,
  runCli,
  SHORT_FLAGS,
  UsageError,
} from "../../src/cli/index.ts";
import { RUN_ARGS } from "../../src/cli/args.ts";

interface Outcome {
  code: number;
  stdout: string[];
  stderr: string[];
  started: RunOptions[];
}

/** Runs the CLI with recording stand-ins for the master, the streams and the clients. */
async function steward(
  argv: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; deps?: Partial<CliDeps> } = {},
): Promise<Outcome> {
  const outcome: Outcome = { code: -1, stdout: [], stderr: [], started: [] };
  outcome.code = await runCli(argv, {
    version: "1.2.3",
    env: options.env ?? {},
    cwd: options.cwd ?? tmpdir(),
    startMaster: async (opts) => {
      outcome.started.push(opts);
    },
    stdout: (line) => outcome.stdout.push(line),
    stderr: (line) => outcome.stderr.push(line),
    ...options.deps,
  });
  return outcome;
}

/** A temporary directory with the given files, removed after `body` whatever happens. */
async function withFiles(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "steward-cli-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const VALID_TOML = `
[global]
workers = 2

[[listen]]
name = "http"
bind = "tcp://127.0.0.1:18080"

[worker]
command = ["node", "server.js"]
`;

const INVALID_TOML = `
[global]
workers = "many"
wrokers = 3

[worker]
command = ["node", "server.js"]
`;

const WORKER = ["--", "node", "server.js"];

/** The one usage line: exit 2, nothing on stdout, nothing started. */
function assertUsage(outcome: Outcome, line: string): void {
  assert.deepEqual(outcome.stderr, [line]);
  assert.equal(outcome.code, 2);
  assert.deepEqual(outcome.stdout, []);
  assert.deepEqual(outcome.started, []);
}

describe("normalizeArgv", () => {
  const withValue = new Set(["-S", "-f", "-p", "-l", "-n"]);
  for (const [flag, expansion] of Object.entries(SHORT_FLAGS)) {
    test(`${flag} → ${expansion.join(" ")}`, () => {
      const argv = withValue.has(flag) ? [flag, "VALUE"] : [flag];
      const normalized = normalizeArgv(argv);
      assert.deepEqual(normalized.args, withValue.has(flag) ? [...expansion, "VALUE"] : [...expansion]);
      assert.equal(normalized.subcommand, "run");
      assert.equal(normalized.explicit, false);
      assert.equal(normalized.command, undefined);
    });
  }

  test("-Ws is master-worker and systemd, not -W -s", () => {
    assert.deepEqual(normalizeArgv(["-Ws"]).args, ["--master-worker", "--systemd"]);
    assert.deepEqual(normalizeArgv(["-Ws"]).spelled, ["-Ws", "-Ws"]);
  });

  test("the HAProxy example line", () => {
    const normalized = normalizeArgv(["-W", "-S", "/run/app.sock", "-l", "http=tcp://0.0.0.0:8080", "-n", "4", "--", "node", "server.js"]);
    assert.deepEqual(normalized.args, [
      "--master-worker", "--master-cli", "/run/app.sock", "--listen", "http=tcp://0.0.0.0:8080", "--workers", "4",
    ]);
    assert.deepEqual(normalized.command, ["node", "server.js"]);
  });

  test("values glued to -f, -S, -p, -l, -n", () => {
    assert.deepEqual(
      normalizeArgv(["-f/etc/app.toml", "-S/run/a.sock,mode,660", "-p/run/app.pid", "-ltcp://[::1]:80", "-n4"]).args,
      ["--config=/etc/app.toml", "--master-cli=/run/a.sock,mode,660", "--pidfile=/run/app.pid", "--listen=tcp://[::1]:80", "--workers=4"],
    );
  });

  test("everything after -- is the worker command, untouched", () => {
    const normalized = normalizeArgv(["-n", "2", "--", "node", "-W", "x.js", "-f", "--", "-Ws", "--version"]);
    assert.deepEqual(normalized.args, ["--workers", "2"]);
    assert.deepEqual(normalized.command, ["node", "-W", "x.js", "-f", "--", "-Ws", "--version"]);
    assert.deepEqual(normalizeArgv(["--"]).command, []);
  });

  test("the first word is the subcommand", () => {
    assert.deepEqual(normalizeArgv(["check", "-f", "app.toml"]), {
      subcommand: "check", explicit: true, args: ["--config", "app.toml"], spelled: ["-f", "app.toml"], command: undefined,
    });
    assert.equal(normalizeArgv(["run", "-W"]).subcommand, "run");
    assert.equal(normalizeArgv(["run", "-W"]).explicit, true);
    assert.equal(normalizeArgv(["-f", "check"]).subcommand, "run");
    assert.equal(normalizeArgv([]).subcommand, "run");
  });

  test("--version means the version subcommand", () => {
    assert.equal(normalizeArgv(["--version"]).subcommand, "version");
    assert.equal(normalizeArgv(["-W", "--version"]).subcommand, "version");
    assert.equal(normalizeArgv(["--", "node", "--version"]).subcommand, "run");
    assert.equal(normalizeArgv(["-v"]).subcommand, "version");
    assert.equal(normalizeArgv(["--", "node", "-v"]).subcommand, "run");
  });
});

describe("STEWARD_* variables", () => {
  test("names", () => {
    assert.equal(envVariableOf("workers"), "STEWARD_WORKERS");
    assert.equal(envVariableOf("ready-timeout"), "STEWARD_READY_TIMEOUT");
    assert.equal(envVariableOf("master-cli"), "STEWARD_MASTER_CLI");
  });

  test("booleans", () => {
    for (const word of ["1", "true", "yes", "on", "TRUE", " Yes ", "On"]) assert.equal(parseBoolean(word), true, word);
    for (const word of ["0", "false", "no", "off", "FALSE", "Off"]) assert.equal(parseBoolean(word), false, word);
    for (const word of ["", "2", "y", "enabled", "truee"]) assert.equal(parseBoolean(word), undefined, word);
  });

  test("every option is read; lists are split on whitespace; empty means unset", () => {
    const values = readEnvOptions({
      STEWARD_WORKERS: "4",
      STEWARD_READY_TIMEOUT: "10s",
      STEWARD_DAEMON: "off",
      STEWARD_SYSTEMD: "yes",
      STEWARD_LISTEN: "http=tcp://0.0.0.0:80  tcp://[::1]:81\nunix:///run/a.sock",
      STEWARD_MASTER_CLI: "/run/a.sock,mode,660 127.0.0.1:9999",
      STEWARD_PIDFILE: "",
    }, RUN_ARGS);
    assert.deepEqual(values, {
      workers: "4",
      "ready-timeout": "10s",
      daemon: false,
      systemd: true,
      listen: ["http=tcp://0.0.0.0:80", "tcp://[::1]:81", "unix:///run/a.sock"],
      "master-cli": ["/run/a.sock,mode,660", "127.0.0.1:9999"],
    });
  });

  test("what a master gives its workers, and unknown STEWARD_* variables, are not options", () => {
    const values = readEnvOptions({
      STEWARD_WORKER_ID: "3",
      STEWARD_GENERATION: "7",
      STEWARD_MASTER_PID: "4120",
      STEWARD_CLI_SOCKET: "/run/steward/w3.sock",
      STEWARD_WORKER: "x",
      STEWARD_FROBNICATE: "1",
    }, RUN_ARGS);
    assert.deepEqual(values, {});
  });

  test("a bad boolean names the variable", () => {
    assert.throws(() => readEnvOptions({ STEWARD_DAEMON: "maybe" }, RUN_ARGS), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.message, "STEWARD_DAEMON must be 1, true, yes, on, 0, false, no or off (got 'maybe')");
      return true;
    });
  });

  test("log level", () => {
    assert.equal(readEnvLogLevel({}), undefined);
    assert.equal(readEnvLogLevel({ STEWARD_LOG_LEVEL: "debug" }), 4);
    assert.equal(readEnvLogLevel({ STEWARD_LOG_LEVEL: "WARN" }), 1);
    assert.equal(readEnvLogLevel({ STEWARD_LOG_LEVEL: "silent" }), -1);
    assert.equal(readEnvLogLevel({ STEWARD_LOG_LEVEL: "5" }), 5);
    assert.throws(() => readEnvLogLevel({ STEWARD_LOG_LEVEL: "constructor" }), UsageError);
    assert.throws(() => readEnvLogLevel({ STEWARD_LOG_LEVEL: "9" }), UsageError);
  });
});

describe("usage errors: exit 2, one line", () => {
  test("unknown option, with the likely one", async () => {
    assertUsage(await steward(["--wrkers", "4"]), "steward: unknown option '--wrkers' (did you mean '--workers'?); run 'steward --help'");
    assertUsage(await steward(["-workers", "4"]), "steward: unknown option '-workers' (did you mean '--workers'?); run 'steward --help'");
    assertUsage(await steward(["-x"]), "steward: unknown option '-x'; run 'steward --help'");
    assertUsage(await steward(["--constructor"]), "steward: unknown option '--constructor'; run 'steward --help'");
  });

  test("an option of another subcommand, in the user's spelling", async () => {
    assertUsage(await steward(["check", "-D"]), "steward: unknown option '-D'; run 'steward check --help'");
    assertUsage(await steward(["reload", "--url", "x"]), "steward: unknown option '--url'; run 'steward reload --help'");
  });

  test("missing values", async () => {
    assertUsage(await steward(["-n"]), "steward: option '-n' needs a value; run 'steward --help'");
    assertUsage(await steward(["--workers", "--daemon"]), "steward: option '--workers' needs a value; run 'steward --help'");
    assertUsage(await steward(["--config="]), "steward: option '--config' needs a value; run 'steward --help'");
    assertUsage(await steward(["-f", "--", "node"]), "steward: option '-f' needs a value; run 'steward --help'");
  });

  test("a value given to a flag", async () => {
    assertUsage(await steward(["--daemon=yes"]), "steward: option '--daemon' takes no value; run 'steward --help'");
  });

  test("a worker command without --", async () => {
    assertUsage(await steward(["-n", "2", "node", "server.js"]),
      "steward: unexpected argument 'node' (a worker command goes after '--'); run 'steward --help'");
  });

  test("unknown subcommand", async () => {
    assertUsage(await steward(["chek", "-f", "x.toml"]), "steward: unknown command 'chek' (did you mean 'check'?); run 'steward --help'");
    assertUsage(await steward(["node", "server.js"]),
      "steward: unknown command 'node' (a worker command goes after '--'); run 'steward --help'");
  });

  test("-D with -Ws", async () => {
    const line = "steward: --daemon and --systemd cannot be combined: systemd supervises a foreground process; run 'steward --help'";
    assertUsage(await steward(["-D", "-Ws", ...WORKER]), line);
    assertUsage(await steward(["--daemon", "--systemd", ...WORKER]), line);
  });

  test("a conflict names the variable that caused it", async () => {
    assertUsage(await steward(["-Ws", ...WORKER], { env: { STEWARD_DAEMON: "1" } }),
      "steward: STEWARD_DAEMON and --systemd cannot be combined: systemd supervises a foreground process; run 'steward --help'");
    const outcome = await steward(["--no-daemon", "-Ws", ...WORKER], { env: { STEWARD_DAEMON: "1" } });
    assert.equal(outcome.code, 0);
    assert.equal(outcome.started[0]!.daemon, false);
  });

  test("-q with -V", async () => {
    assertUsage(await steward(["-q", "-V", ...WORKER]), "steward: --quiet and --verbose cannot be combined: choose one log level; run 'steward --help'");
  });

  test("a bad boolean in the environment", async () => {
    assertUsage(await steward(WORKER, { env: { STEWARD_SYSTEMD: "sure" } }),
      "steward: STEWARD_SYSTEMD must be 1, true, yes, on, 0, false, no or off (got 'sure'); run 'steward --help'");
  });

  test("bad values name the option or the variable", async () => {
    const outcome = await steward(["-n", "many", ...WORKER], { env: { STEWARD_READY: "eventually" } });
    assert.equal(outcome.code, 2);
    assert.equal(outcome.stderr.length, 2);
    assert.match(outcome.stderr[0]!, /^steward: --workers: .*\(got "many"\); run 'steward --help'$/);
    assert.match(outcome.stderr[1]!, /^steward: STEWARD_READY: .*\(got "eventually"\); run 'steward --help'$/);
    assert.deepEqual(outcome.started, []);
  });

  test("-- after a command that takes none", async () => {
    assertUsage(await steward(["version", "--", "x"]), "steward: 'version' takes no command after '--'; run 'steward version --help'");
  });
});

describe("--help and --version", () => {
  test("--help and -h print usage to stdout", async () => {
    for (const flag of ["--help", "-h"]) {
      const outcome = await steward([flag]);
      assert.equal(outcome.code, 0);
      assert.deepEqual(outcome.stderr, []);
      const text = outcome.stdout.join("\n");
      assert.match(text, /steward v1\.2\.3/);
      assert.match(text, /-f, --config=<file>/);
      assert.match(text, /-Ws, --systemd/);
      assert.match(text, /-S, --master-cli/);
      assert.match(text, /run\|check\|cli\|reload\|status\|upgrade\|version\|help/);
      // the description is whole (it once ended at "replaces the file's")
      assert.match(text, /-l, --listen=<\[name=\]url> +a listener: .*; replaces the file's \[\[listen\]\] list$/m);
      assert.match(text, /-V, --verbose/);
      assert.match(text, /after '--' is the worker command/);
      assert.doesNotMatch(text, /\u001b\[/);
    }
  });

  test("a subcommand's help", async () => {
    const outcome = await steward(["upgrade", "--help"]);
    assert.equal(outcome.code, 0);
    assert.match(outcome.stdout.join("\n"), /steward upgrade/);
    assert.match(outcome.stdout.join("\n"), /--sha256=<hex>/);
  });

  test("steward help [COMMAND] is --help", async () => {
    const general = await steward(["help"]);
    assert.equal(general.code, 0);
    assert.deepEqual(general.stdout, (await steward(["--help"])).stdout);
    for (const name of ["run", "check", "status", "upgrade"]) {
      const outcome = await steward(["help", name]);
      assert.equal(outcome.code, 0, name);
      assert.deepEqual(outcome.stderr, []);
      assert.deepEqual(outcome.stdout, (await steward([name, "--help"])).stdout, name);
    }
    assertUsage(await steward(["help", "bogus"]),
      "steward: unknown command 'bogus' (the commands: run, check, cli, reload, status, upgrade, version, help); run 'steward --help'");
    assertUsage(await steward(["help", "run", "check"]), "steward: 'help' takes one command name (got 'run check'); run 'steward --help'");
  });

  test("--version, -v (HAProxy's) and version", async () => {
    for (const argv of [["--version"], ["version"], ["-W", "--version"], ["-v"], ["-W", "-v", "-f", "x.toml"], ["-v", "--", "node", "x.js"]]) {
      const outcome = await steward(argv);
      assert.equal(outcome.code, 0);
      assert.deepEqual(outcome.stdout, ["1.2.3"]);
      assert.deepEqual(outcome.stderr, []);
    }
  });
});

describe("check", () => {
  test("a valid file", async () => {
    await withFiles({ "app.toml": VALID_TOML }, async (dir) => {
      for (const argv of [["check", "-f", "app.toml"], ["-c", "-f", "app.toml"], ["--check", "--config", join(dir, "app.toml")]]) {
        const outcome = await steward(argv, { cwd: dir });
        assert.deepEqual(outcome.stdout, ["Configuration file is valid"], argv.join(" "));
        assert.deepEqual(outcome.stderr, []);
        assert.equal(outcome.code, 0);
        assert.deepEqual(outcome.started, []);
      }
    });
  });

  test("an invalid file: one line per problem, exit 1", async () => {
    await withFiles({ "app.toml": INVALID_TOML }, async (dir) => {
      for (const argv of [["check", "-f", "app.toml"], ["-c", "-f", "app.toml"]]) {
        const outcome = await steward(argv, { cwd: dir });
        assert.equal(outcome.code, 1);
        assert.deepEqual(outcome.stdout, []);
        assert.equal(outcome.stderr.length, 2);
        assert.match(outcome.stderr[0]!, /^app\.toml:3: global\.workers: /);
        assert.match(outcome.stderr[1]!, /^app\.toml:4: global\.wrokers: unknown key \(did you mean 'workers'\?\)$/);
      }
    });
  });

  test("a missing file is a failed load, not a usage error", async () => {
    const outcome = await steward(["check", "-f", "/nonexistent/steward.toml"]);
    assert.equal(outcome.code, 1);
    assert.deepEqual(outcome.stderr, ["/nonexistent/steward.toml: cannot read the file: no such file"]);
  });

  test("a worker or program command that does not exist is refused, as run refuses it", async () => {
    const missing = VALID_TOML.replace('["node", "server.js"]', '["no-such-program-x", "server.js"]');
    const program = `${VALID_TOML}\n[[program]]\nname = "side"\ncommand = ["./not-here.sh"]\n`;
    await withFiles({ "app.toml": missing, "prog.toml": program, "ok.toml": VALID_TOML }, async (dir) => {
      for (const argv of [["check", "-f", "app.toml"], ["-c", "-f", "app.toml"]]) {
        const outcome = await steward(argv, { cwd: dir, env: { PATH: "/usr/bin:/bin" } });
        assert.equal(outcome.code, 1, argv.join(" "));
        assert.deepEqual(outcome.stdout, []);
        assert.deepEqual(outcome.stderr, ["app.toml: worker.command: 'no-such-program-x' not found in PATH"]);
      }
      const fromArgs = await steward(["check", "-l", "tcp://127.0.0.1:0", "--", "./nope", "x"], { cwd: dir });
      assert.equal(fromArgs.code, 1);
      assert.deepEqual(fromArgs.stderr, ["command line: worker.command: './nope' is not an executable file"]);
      const prog = await steward(["check", "-f", "prog.toml"], { cwd: dir, env: { PATH: "/usr/bin:/bin" } });
      assert.equal(prog.code, 1);
      assert.deepEqual(prog.stderr, ["prog.toml: program 'side': command: './not-here.sh' is not an executable file"]);
      // found through the worker's own PATH, as run finds it
      assert.equal((await steward(["check", "-f", "ok.toml"], { cwd: dir, env: { PATH: "/nonexistent" } })).code, 1);
      assert.equal((await steward(["check", "-f", "ok.toml"], { cwd: dir, env: { PATH: process.env.PATH } })).code, 0);
    });
  });

  test("the file from STEWARD_CONFIG, overridden on the command line", async () => {
    await withFiles({ "app.toml": VALID_TOML, "bad.toml": INVALID_TOML }, async (dir) => {
      const env = { STEWARD_CONFIG: "bad.toml" };
      assert.equal((await steward(["check"], { cwd: dir, env })).code, 1);
      assert.equal((await steward(["check", "-f", "app.toml"], { cwd: dir, env })).code, 0);
    });
  });
});

describe("run", () => {
  test("starts the master with the command-line configuration", async () => {
    const argv = [
      "-W", "-S", "/tmp/steward-a.sock", "-S", "127.0.0.1:9999,level,operator",
      "-l", "http=tcp://127.0.0.1:18080", "-l", "tcp://[::1]:18081", "-n", "4", "--", "node", "-W", "x.js",
    ];
    const outcome = await steward(argv);
    assert.deepEqual(outcome.stderr, []);
    assert.equal(outcome.code, 0);
    assert.equal(outcome.started.length, 1);
    const [opts] = outcome.started;
    assert.deepEqual(opts!.args, argv);
    assert.equal(opts!.systemd, false);
    assert.equal(opts!.daemon, false);
    assert.equal(opts!.logLevel, 3);
    assert.equal(opts!.config.global.workers, 4);
    assert.deepEqual(opts!.config.worker.command, ["node", "-W", "x.js"]);
    assert.deepEqual(opts!.config.listen.map((listener) => [listener.name, listener.bind]), [
      ["http", "tcp://127.0.0.1:18080"],
      ["listen2", "tcp://[::1]:18081"],
    ]);
    assert.deepEqual(opts!.config.masterCli.map((cli) => [cli.bind, cli.level]), [
      ["/tmp/steward-a.sock", "admin"],
      ["127.0.0.1:9999", "operator"],
    ]);
  });

  test("-Ws, -D, -q, -V, --verbose", async () => {
    assert.equal((await steward(["-Ws", ...WORKER])).started[0]!.systemd, true);
    assert.equal((await steward(["-D", ...WORKER])).started[0]!.daemon, true);
    assert.equal((await steward(["-q", ...WORKER])).started[0]!.logLevel, 0);
    assert.equal((await steward(["-V", ...WORKER])).started[0]!.logLevel, 4);
    assert.equal((await steward(["--verbose", ...WORKER])).started[0]!.logLevel, 4);
    assert.equal((await steward(WORKER, { env: { STEWARD_LOG_LEVEL: "warn" } })).started[0]!.logLevel, 1);
    assert.equal((await steward(["-V", ...WORKER], { env: { STEWARD_LOG_LEVEL: "warn" } })).started[0]!.logLevel, 4);
  });

  test("the last value wins for an option given twice", async () => {
    assert.equal((await steward(["-n", "2", "--workers=5", ...WORKER])).started[0]!.config.global.workers, 5);
  });

  test("command line over environment over file", async () => {
    await withFiles({ "app.toml": VALID_TOML }, async (dir) => {
      const workers = async (argv: string[], env: Record<string, string>) => {
        const outcome = await steward(argv, { cwd: dir, env });
        assert.deepEqual(outcome.stderr, []);
        return outcome.started[0]!.config.global.workers;
      };
      assert.equal(await workers(["-f", "app.toml"], {}), 2);
      assert.equal(await workers(["-f", "app.toml"], { STEWARD_WORKERS: "3" }), 3);
      assert.equal(await workers(["-f", "app.toml", "-n", "4"], { STEWARD_WORKERS: "3" }), 4);
      assert.equal(await workers([], { STEWARD_CONFIG: "app.toml", STEWARD_WORKERS: "" }), 2);
    });
  });

  test("-l replaces STEWARD_LISTEN, which replaces the file's listeners", async () => {
    await withFiles({ "app.toml": VALID_TOML }, async (dir) => {
      const env = { STEWARD_LISTEN: "a=tcp://127.0.0.1:18090 b=tcp://127.0.0.1:18091" };
      const binds = async (argv: string[], environment: Record<string, string>) =>
        (await steward(["-f", "app.toml", ...argv], { cwd: dir, env: environment })).started[0]!.config.listen.map((l) => l.name);
      assert.deepEqual(await binds([], {}), ["http"]);
      assert.deepEqual(await binds([], env), ["a", "b"]);
      assert.deepEqual(await binds(["-l", "c=tcp://127.0.0.1:18092"], env), ["c"]);
    });
  });

  test("worker variables in the environment do not change anything", async () => {
    const env = { STEWARD_WORKER_ID: "x", STEWARD_GENERATION: "y", STEWARD_MASTER_PID: "z", STEWARD_CLI_SOCKET: "", STEWARD_NOPE: "1" };
    const outcome = await steward(WORKER, { env });
    assert.equal(outcome.code, 0);
    assert.equal(outcome.started.length, 1);
  });

  test("neither file nor worker command is a configuration error (exit 1)", async () => {
    const outcome = await steward(["-n", "2"]);
    assert.equal(outcome.code, 1);
    assert.equal(outcome.stderr.length, 1);
    assert.match(outcome.stderr[0]!, /worker\.command: required/);
    assert.deepEqual(outcome.started, []);
  });

  test("explicit run", async () => {
    const outcome = await steward(["run", "-n", "2", ...WORKER]);
    assert.equal(outcome.code, 0);
    assert.equal(outcome.started[0]!.config.global.workers, 2);
  });
});

describe("cli, reload, upgrade", () => {
  test("not available in this build", async () => {
    for (const name of ["cli", "reload", "upgrade"]) {
      const outcome = await steward([name, "-S", "/run/app.sock"]);
      assert.deepEqual(outcome.stderr, [`steward: '${name}' is not available in this build`]);
      assert.equal(outcome.code, 2);
    }
  });

  test("cli sends the words, including those after --", async () => {
    const requests: unknown[] = [];
    const mcli = { cli: async (request: unknown) => (requests.push(request), 0) };
    assert.equal((await steward(["cli", "-S", "/run/app.sock", "show", "proc"], { deps: { mcli } })).code, 0);
    assert.equal((await steward(["cli", "-S/run/b.sock"], { deps: { mcli } })).code, 0);
    assert.equal((await steward(["cli", "-S", "/run/c.sock", "--", "@1", "-x"], { deps: { mcli } })).code, 0);
    assert.deepEqual(requests, [
      { address: "/run/app.sock", words: ["show", "proc"] },
      { address: "/run/b.sock", words: [] },
      { address: "/run/c.sock", words: ["@1", "-x"] },
    ]);
  });

  test("reload returns the client's exit code; the address may come from STEWARD_MASTER_CLI", async () => {
    const requests: unknown[] = [];
    const mcli = { reload: async (request: unknown) => (requests.push(request), 1) };
    assert.equal((await steward(["reload", "-S", "/run/app.sock"], { deps: { mcli } })).code, 1);
    const env = { STEWARD_MASTER_CLI: "/run/env.sock,mode,600 127.0.0.1:9999" };
    assert.equal((await steward(["reload"], { env, deps: { mcli } })).code, 1);
    assert.deepEqual(requests, [{ address: "/run/app.sock" }, { address: "/run/env.sock,mode,600" }]);
    assertUsage(await steward(["reload"], { deps: { mcli } }),
      "steward: option '--master-cli' (-S) is required: the master CLI socket path or HOST:PORT; run 'steward reload --help'");
  });

  test("upgrade checks its request", async () => {
    const requests: unknown[] = [];
    const upgrade = async (request: unknown) => (requests.push(request), 0);
    const sha = "AB".repeat(32);
    const ok = await steward(["upgrade", "--url", "https://example.com/steward", "--sha256", sha, "-S", "/run/a.sock"], { deps: { upgrade } });
    assert.equal(ok.code, 0);
    assert.deepEqual(requests, [{ url: "https://example.com/steward", sha256: "ab".repeat(32), address: "/run/a.sock" }]);
    assertUsage(await steward(["upgrade", "--sha256", sha], { deps: { upgrade } }),
      "steward: option '--url' (or '--manifest') is required: where to download the new binary; run 'steward upgrade --help'");
    assertUsage(await steward(["upgrade", "--url", "https://example.com/s", "--sha256", "abc"], { deps: { upgrade } }),
      "steward: option '--sha256' must be 64 hexadecimal digits (got 'abc'); run 'steward upgrade --help'");
    assertUsage(await steward(["upgrade", "--url", "example.com/s", "--sha256", sha], { deps: { upgrade } }),
      "steward: option '--url' must be an absolute URL (got 'example.com/s'); run 'steward upgrade --help'");
    assert.equal(requests.length, 1);
  });
});
