/**
 * The master CLI's pure parts (REFERENCE §7): the text protocol, `show proc`, levels, routing
 * targets and the command runner, against a fake MasterView (no sockets, no processes).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { MasterCliConfig } from "../../src/config/types.ts";
import type { MasterState, ProcessEntry } from "../../src/state.ts";
import { createCommandRunner, promptFor, resolveTarget, showProc, showProcJson, type MasterView } from "../../src/mcli/commands.ts";
import { closeMatches, formatUptime, joinWords, levelAllows, procHeader, procLine, splitCommands, type Level } from "../../src/mcli/protocol.ts";
import { Session, type CliListener } from "../../src/mcli/server.ts";
import { EventLog } from "../../src/mcli/events.ts";
import { StreamReply } from "../../src/mcli/event-stream.ts";

describe("splitCommands", () => {
  test("words by spaces and tabs, commands by ';'", () => {
    assert.deepEqual(splitCommands("show proc"), [["show", "proc"]]);
    assert.deepEqual(splitCommands("  show \t  version  "), [["show", "version"]]);
    assert.deepEqual(splitCommands("show proc; show version;help"), [["show", "proc"], ["show", "version"], ["help"]]);
    assert.deepEqual(splitCommands("show proc\r"), [["show", "proc"]]);
  });

  test("empty commands are dropped", () => {
    assert.deepEqual(splitCommands(""), []);
    assert.deepEqual(splitCommands(";;; ;"), []);
    assert.deepEqual(splitCommands(";help;;"), [["help"]]);
  });

  test("'\\' escapes ';', space and '\\' only", () => {
    assert.deepEqual(splitCommands("echo a\\;b"), [["echo", "a;b"]]);
    assert.deepEqual(splitCommands("echo a\\ b c"), [["echo", "a b", "c"]]);
    assert.deepEqual(splitCommands("echo a\\\\;b"), [["echo", "a\\"], ["b"]]);
    assert.deepEqual(splitCommands("echo \\x \\n"), [["echo", "\\x", "\\n"]]);
    assert.deepEqual(splitCommands("echo end\\"), [["echo", "end\\"]]);
    assert.deepEqual(splitCommands("echo \\;"), [["echo", ";"]]);
    assert.deepEqual(splitCommands("\\ "), [[" "]]);
  });

  test("1000 commands on one line", () => {
    const commands = splitCommands(Array.from({ length: 1000 }, (_, i) => `echo ${i}`).join(";"));
    assert.equal(commands.length, 1000);
    assert.deepEqual(commands[999], ["echo", "999"]);
  });
});

describe("joinWords", () => {
  test("escapes what splitCommands undoes", () => {
    assert.equal(joinWords(["echo", "a b", "c;d", "e\\f"]), "echo a\\ b c\\;d e\\\\f");
  });

  test("round trip through splitCommands, for words made of the special characters", () => {
    const alphabet = ["a", "b", " ", ";", "\\", "@", "!", "é"];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 500; round++) {
      const words = Array.from({ length: 1 + random(4) }, () =>
        Array.from({ length: 1 + random(6) }, () => alphabet[random(alphabet.length)]).join(""),
      );
      assert.deepEqual(splitCommands(joinWords(words)), [words], JSON.stringify(words));
    }
  });
});

describe("formatUptime", () => {
  test("days, then two-digit hours, minutes and seconds", () => {
    assert.equal(formatUptime(0), "0d00h00m00s");
    assert.equal(formatUptime(4325), "0d01h12m05s");
    assert.equal(formatUptime(86400 + 3661), "1d01h01m01s");
    assert.equal(formatUptime(100 * 86400 + 59), "100d00h00m59s");
  });

  test("floors fractions; never negative (a clock step back)", () => {
    assert.equal(formatUptime(59.999), "0d00h00m59s");
    assert.equal(formatUptime(-5), "0d00h00m00s");
  });
});

describe("procLine", () => {
  test("four 15-character left-aligned columns, each followed by one space, then the version", () => {
    const line = procLine({ pid: 4120, type: "master", reloads: "3 [failed: 0]", uptime: "0d01h12m05s", version: "1.2.0" });
    assert.equal(line, "4120            master          3 [failed: 0]   0d01h12m05s     1.2.0");
    for (const [i, field] of ["4120", "master", "3 [failed: 0]", "0d01h12m05s"].entries()) {
      assert.equal(line.slice(i * 16, i * 16 + 16), field.padEnd(15) + " ");
    }
    assert.equal(line.slice(64), "1.2.0");
  });

  test("the header is HAProxy's", () => {
    assert.equal(procHeader(), "#<PID>          <type>          <reloads>       <uptime>        <version>");
  });

  test("a field longer than its column pushes the rest right, keeping one space", () => {
    const line = procLine({ pid: 1, type: "a-very-long-program-name", reloads: "0", uptime: "0d00h00m01s", version: "-" });
    assert.equal(line, "1               a-very-long-program-name 0               0d00h00m01s     -");
  });
});

describe("closeMatches", () => {
  const known = ["help", "prompt", "quit", "echo", "show", "reload", "hard-reload", "operator", "user"];
  test("typos find the command", () => {
    assert.deepEqual(closeMatches("relaod", known), ["reload"]);
    assert.deepEqual(closeMatches("shwo", known).slice(0, 1), ["show"]);
    assert.equal(closeMatches("hlep", known)[0], "help");
  });
  test("a prefix of two letters or more counts as close", () => {
    assert.ok(closeMatches("op", known).includes("operator"));
  });
  test("nothing for unrelated words; at most `max`", () => {
    assert.deepEqual(closeMatches("xyzzy", known), []);
    assert.ok(closeMatches("e", known, 2).length <= 2);
  });
});

describe("levels", () => {
  test("admin > operator > user; a session may use what its level or a lower one needs", () => {
    const levels: Level[] = ["user", "operator", "admin"];
    for (const [i, session] of levels.entries()) {
      for (const [j, needed] of levels.entries()) assert.equal(levelAllows(session, needed), i >= j, `${session} → ${needed}`);
    }
  });
});

// A fake master: fixed processes, times relative to now.

const NOW = Date.now();
const MASTER_PID = 4120;

function entry(fields: Partial<ProcessEntry> & Pick<ProcessEntry, "pid">): ProcessEntry {
  return {
    kind: "worker",
    name: "worker",
    id: 1,
    generation: 3,
    startedAt: NOW - 41_000 - 500,
    version: "1.2.0",
    role: "current",
    ready: true,
    ...fields,
  };
}

function fakeState(extra: Partial<MasterState> = {}): MasterState {
  const processes = [
    entry({ pid: 5311, id: 2 }),
    entry({ pid: 5310, id: 1 }),
    entry({ pid: 4990, id: 1, generation: 2, role: "old", version: "1.1.0", startedAt: NOW - 190_000 - 500, stopSentAt: NOW - 30_000 }),
    entry({ pid: 4991, id: 2, generation: 1, role: "old", version: "1.0.0", startedAt: NOW - 400_000 - 500 }),
    entry({ pid: 4125, kind: "program", name: "metrics-agent", id: 0, generation: 3, startedAt: NOW - 725_000 - 500, status: "Collecting" }),
  ];
  return {
    pid: MASTER_PID,
    startedAt: NOW - 4325_000 - 500,
    reloads: 3,
    failedReloads: 0,
    version: "1.2.0",
    phase: "running",
    processes: new Map(processes.map((p) => [p.pid, p])),
    ...extra,
  };
}

interface FakeView extends MasterView {
  reloads: boolean[];
  ended: string[];
}

function fakeView(state = fakeState()): FakeView {
  const reloads: boolean[] = [];
  const ended: string[] = [];
  return {
    pid: MASTER_PID,
    version: "1.2.0",
    exe: { path: "/usr/local/bin/steward", compiled: true },
    state,
    reloads,
    ended,
    endProbation: (action) => {
      ended.push(action);
      return state.probation ? `Generation ${state.probation.generation} ${action === "promote" ? "promoted" : "rolled back"}.` : "No generation is on probation.";
    },
    listenerLines: () => ["3 http tcp://127.0.0.1:8080 tcp"],
    startupLogs: () => ["[NOTICE]   (4120) : Loading success."],
    env: () => ({ HOME: "/root", EMPTY: "" }),
    reload: (_session, hard) => {
      reloads.push(hard);
      return Promise.resolve("Success=1\n--\nok");
    },
    cliSocketOf: (p) => `/nonexistent/steward-test/${p.pid}.sock`,
    rssKiB: (pid) => (pid === MASTER_PID ? 2048 : 1024),
    holdsListener: () => true,
    metricsText: () => "# HELP steward_reloads_total Reloads that succeeded.\n# TYPE steward_reloads_total counter\nsteward_reloads_total 3\n",
    events: new EventLog(),
  };
}

function session(level: Level = "admin"): Session {
  const config: MasterCliConfig = { bind: "/run/test.sock", address: { kind: "unix", path: "/run/test.sock" }, mode: 0o600, level };
  const listener: CliListener = { key: "unix:/run/test.sock", fd: 100, config, sessions: 1 };
  return new Session(101, listener);
}

describe("show proc", () => {
  test("HAProxy's layout: master, workers, old workers, programs, one line each", () => {
    const lines = showProc(fakeView()).split("\n");
    assert.deepEqual(lines, [
      "#<PID>          <type>          <reloads>       <uptime>        <version>",
      "4120            master          3 [failed: 0]   0d01h12m05s     1.2.0",
      "# workers",
      "5310            worker          0               0d00h00m41s     1.2.0",
      "5311            worker          0               0d00h00m41s     1.2.0",
      "# old workers",
      "4990            worker          1               0d00h03m10s     1.1.0",
      "4991            worker          2               0d00h06m40s     1.0.0",
      "# programs",
      "4125            metrics-agent   0               0d00h12m05s     -",
      "",
    ]);
  });

  test("every process line has 15-character columns", () => {
    const rows = showProc(fakeView()).split("\n").filter((l) => /^\d/.test(l));
    assert.equal(rows.length, 6);
    for (const row of rows) {
      assert.match(row, /^\d+ +(master|worker|metrics-agent) +\d+( \[failed: \d+\])? +\d+d\d\dh\d\dm\d\ds +\S+$/);
      for (const end of [15, 31, 47, 63]) assert.equal(row[end], " ", `column ending at ${end} in ${JSON.stringify(row)}`);
      for (const start of [0, 16, 32, 48, 64]) assert.notEqual(row[start], " ", `column starting at ${start} in ${JSON.stringify(row)}`);
    }
  });

  test("failed reloads are counted on the master row; nothing else running", () => {
    const state = fakeState({ failedReloads: 2, processes: new Map() });
    assert.equal(showProc(fakeView(state)).split("\n")[1], "4120            master          3 [failed: 2]   0d01h12m05s     1.2.0");
    assert.deepEqual(showProc(fakeView(state)).split("\n").slice(2), ["# workers", "# old workers", "# programs", ""]);
  });

  test("json: the same facts, with ids, generations, seconds, status and RSS", () => {
    const json = JSON.parse(showProcJson(fakeView())) as Record<string, any>;
    assert.deepEqual(Object.keys(json), ["master", "workers", "oldWorkers", "programs"]);
    assert.equal(json.master.pid, MASTER_PID);
    assert.equal(json.master.reloads, 3);
    assert.equal(json.master.failedReloads, 0);
    assert.equal(json.master.uptime, 4325);
    assert.equal(json.master.version, "1.2.0");
    assert.equal(json.master.rss, 2048 * 1024);
    assert.equal(json.master.exe, "/usr/local/bin/steward");
    assert.equal(json.master.compiled, true);
    assert.deepEqual(json.workers.map((w: { pid: number }) => w.pid), [5310, 5311]);
    const w = json.workers[0];
    for (const key of ["pid", "id", "generation", "reloads", "uptime", "version", "status", "rss"]) assert.ok(key in w, key);
    assert.deepEqual([w.id, w.generation, w.reloads, w.uptime, w.status, w.rss], [1, 3, 0, 41, "ready", 1024 * 1024]);
    assert.deepEqual(json.oldWorkers.map((o: { pid: number; reloads: number }) => [o.pid, o.reloads]), [[4990, 1], [4991, 2]]);
    assert.equal(json.oldWorkers[0].status, "stopping");
    assert.equal(json.programs[0].type, "metrics-agent");
    assert.equal(json.programs[0].status, "Collecting");
  });
});

describe("show proc: a current worker holding none of the listeners", () => {
  // 5310 holds none; 5311: cannot tell; old worker 4990 holds none too (draining: not marked)
  const view = (): MasterView => ({ ...fakeView(), holdsListener: (pid) => (pid === 5311 ? undefined : false) });

  test("text: marked after its version; old workers and programs never are", () => {
    const lines = showProc(view()).split("\n");
    assert.equal(lines[3], "5310            worker          0               0d00h00m41s     1.2.0 [not listening]");
    assert.equal(lines[4], "5311            worker          0               0d00h00m41s     1.2.0");
    assert.equal(lines[6], "4990            worker          1               0d00h03m10s     1.1.0");
  });

  test("json: listening false / true, absent when unknown; only on current workers", () => {
    const json = JSON.parse(showProcJson(view())) as Record<string, any>;
    assert.deepEqual(json.workers.map((w: { listening?: boolean }) => w.listening), [false, undefined]);
    assert.equal("listening" in json.workers[1], false);
    assert.equal(JSON.parse(showProcJson(fakeView())).workers[0].listening, true);
    for (const o of [...json.oldWorkers, ...json.programs]) assert.equal("listening" in o, false);
  });
});

describe("show proc: a generation on probation", () => {
  const state = () => {
    const s = fakeState({ probation: { generation: 4, until: Date.UTC(2026, 10, 30, 5, 12, 30), failures: 0, allowed: 1 } });
    s.processes.set(6001, entry({ pid: 6001, id: 1, generation: 4, role: "probation" }));
    return s;
  };

  test("text: the master row names the generation and until when; its workers are marked; columns unchanged", () => {
    const lines = showProc(fakeView(state())).split("\n");
    assert.equal(lines[1], "4120            master          3 [failed: 0]   0d01h12m05s     1.2.0 [probation: generation 4 until 2026-11-30T05:12:30.000Z]");
    assert.deepEqual(lines.slice(2, 6), [
      "# workers",
      "5310            worker          0               0d00h00m41s     1.2.0",
      "6001            worker          0               0d00h00m41s     1.2.0 [probation]",
      "5311            worker          0               0d00h00m41s     1.2.0",
    ]);
  });

  test("json: master.probation, and role/status probation on its workers", () => {
    const json = JSON.parse(showProcJson(fakeView(state()))) as Record<string, any>;
    assert.deepEqual(json.master.probation, { generation: 4, until: "2026-11-30T05:12:30.000Z", failures: 0, allowed: 1 });
    const w = json.workers.find((x: { pid: number }) => x.pid === 6001);
    assert.deepEqual([w.role, w.status, w.generation], ["probation", "probation", 4]);
    assert.equal("probation" in JSON.parse(showProcJson(fakeView())).master, false);
  });

  test("promote and rollback: operator level, no arguments, the view's one-line outcome", async () => {
    const view = fakeView(state());
    const run = createCommandRunner(view);
    assert.equal(await run(session("operator"), ["promote"]), "Generation 4 promoted.");
    assert.equal(await run(session("operator"), ["rollback"]), "Generation 4 rolled back.");
    assert.equal(await run(session("user"), ["rollback"]), "Permission denied");
    assert.equal(await run(session("admin"), ["promote", "now"]), "'promote' takes no argument (got 'now')");
    assert.deepEqual(view.ended, ["promote", "rollback"]);
  });
});

describe("resolveTarget", () => {
  const state = fakeState();
  test("@, @0 and @master are the master", () => {
    for (const prefix of ["@", "@0", "@master"]) assert.equal(resolveTarget(state, prefix), "master");
  });
  test("@N is current worker N, never an old one with the same id", () => {
    assert.equal((resolveTarget(state, "@1") as ProcessEntry).pid, 5310);
    assert.equal((resolveTarget(state, "@2") as ProcessEntry).pid, 5311);
  });
  test("@!PID is any worker, old or current, or a program", () => {
    assert.equal((resolveTarget(state, "@!4990") as ProcessEntry).role, "old");
    assert.equal((resolveTarget(state, "@!5311") as ProcessEntry).id, 2);
    assert.equal((resolveTarget(state, "@!4125") as ProcessEntry).name, "metrics-agent");
  });
  test("anything else names the prefix it could not find", () => {
    assert.equal(resolveTarget(state, "@3"), "Can't find the target PID matching the prefix '3'");
    assert.equal(resolveTarget(state, "@!4120"), "Can't find the target PID matching the prefix '!4120'");
    assert.equal(resolveTarget(state, "@!1234"), "Can't find the target PID matching the prefix '!1234'");
    assert.equal(resolveTarget(state, "@worker"), "Can't find the target PID matching the prefix 'worker'");
  });
});

describe("command runner", () => {
  const run = async (view: MasterView, s: Session, line: string) => {
    const replies: Array<string | null> = [];
    const runner = createCommandRunner(view);
    for (const words of splitCommands(line)) {
      const r = await runner(s, words);
      // a stream is started by the server (exec-streams.ts): here, where it would start
      replies.push(r instanceof StreamReply ? `[stream after ${r.after ?? "now"}]` : r);
    }
    return replies;
  };

  test("user level: help, echo, version and level; everything else is refused", async () => {
    const view = fakeView();
    const s = session("user");
    const [help, echo, version, level, proc, listeners, logs, env, reload, hard, raise] = await run(
      view,
      s,
      "help; echo a\\;b  c; show version; show cli level; show proc; show listeners; show startup-logs; show env; reload; hard-reload; operator",
    );
    assert.match(help!, /^The following commands are valid at this level:/);
    assert.ok(!/show proc|reload|show env/.test(help!), help!);
    assert.equal(echo, "a;b c");
    assert.equal(version, "1.2.0");
    assert.equal(level, "user");
    for (const refused of [proc, listeners, logs, env, reload, hard, raise]) assert.equal(refused, "Permission denied");
    assert.deepEqual(view.reloads, []);
    assert.equal(s.level, "user", "never raised");
  });

  test("operator level: show proc, listeners, startup logs and reload; not env or hard-reload", async () => {
    const view = fakeView();
    const s = session("operator");
    const [help, proc, listeners, logs, reload, env, hard] = await run(view, s, "help;show proc;show listeners;show startup-logs;reload;show env;hard-reload");
    assert.match(help!, /show proc/);
    assert.ok(!/show env|hard-reload/.test(help!), help!);
    assert.match(proc!, /^#<PID>/);
    assert.equal(listeners, "3 http tcp://127.0.0.1:8080 tcp");
    assert.equal(logs, "[NOTICE]   (4120) : Loading success.");
    assert.equal(reload, "Success=1\n--\nok");
    assert.equal(env, "Permission denied");
    assert.equal(hard, "Permission denied");
    assert.deepEqual(view.reloads, [false]);
  });

  test("show metrics: the Prometheus text at operator level, refused at user level", async () => {
    const [text] = await run(fakeView(), session("operator"), "show metrics");
    assert.equal(text, "# HELP steward_reloads_total Reloads that succeeded.\n# TYPE steward_reloads_total counter\nsteward_reloads_total 3\n");
    const [denied] = await run(fakeView(), session("user"), "show metrics");
    assert.equal(denied, "Permission denied");
  });

  test("show events [since N]: a stream at operator level; bad arguments get one line", async () => {
    const view = fakeView();
    for (let i = 0; i < 3; i++) view.events.record({ event: "worker-ready", worker: i }, new Date(0));
    const replies = await run(view, session("operator"), "show events; show events since 2; show events since 3; show events since x; show events since; show events since 4; show events from 1; show events since 1 2; show events since -1");
    assert.deepEqual(replies, [
      "[stream after now]",
      "[stream after 2]",
      "[stream after 3]",
      "show events since: 'x' is not an event number (a whole number, 0 or more)",
      "show events since: a number is missing (since N replays the events after N)",
      "show events since 4: no such event yet, the latest is 3 (numbers start again at 1 when the master starts afresh)",
      "show events: unexpected 'from': the only option is 'since N'",
      "show events since 1: unexpected '2' after the number",
      "show events since: '-1' is not an event number (a whole number, 0 or more)",
    ]);
    assert.deepEqual(await run(view, session("user"), "show events"), ["Permission denied"]);
  });

  test("admin level: env, hard-reload; lowering the level sticks", async () => {
    const view = fakeView();
    const s = session("admin");
    const [env, home, missing, hard, operator, refused, user, denied] = await run(
      view,
      s,
      "show env; show env HOME; show env NOPE; hard-reload; operator; show env; user; show proc",
    );
    assert.equal(env, "HOME=/root\nEMPTY=");
    assert.equal(home, "HOME=/root");
    assert.equal(missing, "Variable not found: 'NOPE'");
    assert.equal(hard, "Success=1\n--\nok");
    assert.deepEqual(view.reloads, [true]);
    assert.equal(operator, "");
    assert.equal(refused, "Permission denied");
    assert.equal(user, "");
    assert.equal(denied, "Permission denied");
    assert.equal(s.level, "user");
  });

  test("help CMD narrows; unknown commands name the word and close matches", async () => {
    const [helpReload, unknown, typo, show, unknownShow] = await run(fakeView(), session("admin"), "help reload; frobnicate; relaod; show; show porc");
    assert.equal(helpReload, "The following commands are valid at this level:\n  reload: reload and wait for the result");
    assert.equal(unknown, "Unknown command: 'frobnicate'");
    assert.equal(typo, "Unknown command: 'relaod'\nDid you mean: reload?");
    assert.match(show!, /^Unknown command: 'show'\nDid you mean: show version, show cli level, show proc,/);
    assert.match(unknownShow!, /^Unknown command: 'show porc'\nDid you mean: show proc/);
  });

  test("prompt toggles; quit ends the session (null)", async () => {
    const s = session();
    const [on, quit] = await run(fakeView(), s, "prompt; quit");
    assert.equal(on, "");
    assert.equal(s.prompt, true);
    assert.equal(quit, null);
  });

  test("a routing prefix alone sets the default target; '@' resets it; the prompt follows", async () => {
    const view = fakeView();
    const s = session();
    assert.equal(promptFor(view, s), "master> ");
    const [set] = await run(view, s, "@1");
    assert.equal(set, "");
    assert.equal(s.target, "@1");
    assert.equal(promptFor(view, s), "5310> ");
    // routed commands go to the worker's socket: here there is none
    const [routed] = await run(view, s, "show info");
    assert.equal(routed, "Can't connect to the target CLI!");
    // session commands stay with the master
    const [prompt, level, quit] = await run(view, s, "prompt; user; quit");
    assert.deepEqual([prompt, level, quit], ["", "", null]);
    assert.equal(s.level, "user");
    const [master] = await run(view, s, "@master show version");
    assert.equal(master, "1.2.0");
    const [reset, version] = await run(view, s, "@; show version");
    assert.deepEqual([reset, version], ["", "1.2.0"]);
    assert.equal(s.target, undefined);
  });

  test("an unknown target is refused and leaves the default target alone", async () => {
    const s = session();
    const [missing, missingPid, routed] = await run(fakeView(), s, "@7; @!99999 show info; @9 show info");
    assert.equal(missing, "Can't find the target PID matching the prefix '7'");
    assert.equal(missingPid, "Can't find the target PID matching the prefix '!99999'");
    assert.equal(routed, "Can't find the target PID matching the prefix '9'");
    assert.equal(s.target, undefined);
  });

  test("after a failed reload the prompt says so", () => {
    assert.equal(promptFor(fakeView(fakeState({ failedReloads: 1 })), session()), "master[ReloadFailed]> ");
  });
});
