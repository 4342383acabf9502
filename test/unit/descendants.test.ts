import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import type { Config } from "../../src/config/types.ts";
import type { Logger } from "../../src/log.ts";
import { adoptedToSignal, descendantsOf, parseStat, type ProcRecord } from "../../src/host/descendants.ts";
import type { MasterState } from "../../src/state.ts";
import { Strays } from "../../src/master/strays.ts";
import { Supervisor, type StrayPort, type SupervisorPorts } from "../../src/master/supervisor.ts";
import { FakeSystem } from "./_fake-system.ts";

const rec = (pid: number, ppid: number, state = "S"): ProcRecord => ({ pid, ppid, state });

describe("descendants (host/descendants.ts)", () => {
  test("parseStat reads pid, ppid and state past a command name with spaces and parentheses", () => {
    assert.deepEqual(parseStat("4242 (a (b) c) Z 17 4242 4242 0 -1 4194560"), { pid: 4242, ppid: 17, state: "Z" });
    assert.equal(parseStat("garbage"), undefined);
  });

  test("descendantsOf: the whole tree below the root, parents first, nothing else", () => {
    const tree = [rec(1, 0), rec(100, 1), rec(200, 100), rec(201, 200), rec(202, 200, "Z"), rec(300, 100), rec(999, 1), rec(400, 300)];
    assert.deepEqual(descendantsOf(100, tree).map((r) => r.pid), [200, 300, 201, 202, 400]);
    assert.deepEqual(descendantsOf(400, tree), []);
  });

  test("descendantsOf ends on a parent loop (a snapshot taken while PIDs were reused)", () => {
    assert.deepEqual(descendantsOf(1, [rec(4, 1), rec(5, 4), rec(6, 5), rec(4, 6)]).map((r) => r.pid), [4, 5, 6]);
  });

  test("adoptedToSignal: live children not started by the master and not signalled yet", () => {
    const children = [rec(10, 1), rec(11, 1), rec(12, 1, "Z"), rec(13, 1)];
    assert.deepEqual(adoptedToSignal(children, (pid) => pid === 10, new Set([13])), [11]);
  });
});

describe("strays (master/strays.ts)", () => {
  function strays(children: ProcRecord[], all: ProcRecord[] = children) {
    const sent: Array<[number, number]> = [];
    let hasChildren = true;
    const s = new Strays({
      self: 1,
      known: (pid) => pid === 10,
      kill: (pid, sig) => void sent.push([pid, sig]),
      hasChildren: () => hasChildren,
      children: () => children,
      processes: () => all,
    });
    return { s, sent, setChildren: (v: boolean) => (hasChildren = v) };
  }

  test("stop() signals each adopted child once (SIGTERM for one that is no worker's); kill() SIGKILLs the tree, then every newcomer", () => {
    const children = [rec(10, 1), rec(11, 1)];
    const all = [...children, rec(20, 11), rec(21, 20, "Z")];
    const { s, sent } = strays(children, all);
    assert.deepEqual(s.stop(10), [11]);
    assert.deepEqual(s.stop(10), [], "not twice");
    assert.deepEqual(sent, [[11, 15]]);
    assert.deepEqual(s.kill(), [10, 11, 20]);
    all.push(rec(12, 1));
    assert.deepEqual(s.stop(10), [10, 11, 12, 20], "after kill(), stop() kills all that is below the master");
    assert.deepEqual(sent.slice(4).map(([, sig]) => sig), [9, 9, 9, 9]);
  });
});

describe("supervisor stop with adopted processes", () => {
  function config(): Config {
    return {
      global: { ...DEFAULT_GLOBAL, workers: 1, hardStopAfter: 1000 },
      listen: [],
      worker: { command: ["/bin/true"], env: {} },
      program: [],
      masterCli: [],
    };
  }

  /** A master with one worker and `adopted` orphans, and a fake of what /proc would say. */
  function setup(adopted: number[]) {
    const sys = new FakeSystem();
    const orphans = new Set(adopted);
    const calls: string[] = [];
    const port: StrayPort = {
      stop: (sig) => {
        calls.push(`stop ${sig}`);
        return [...orphans];
      },
      kill: () => {
        calls.push("kill");
        const pids = [...orphans];
        orphans.clear();
        return pids;
      },
      left: () => orphans.size > 0 || sys.alive().length > 0,
    };
    const ports: SupervisorPorts = {
      now: () => sys.now(),
      after: (ms, fn) => sys.after(ms, fn),
      spawn: (child) => sys.spawn(child),
      kill: (pid, sig) => sys.kill(pid, sig),
      isAccepting: (pid) => sys.isAccepting(pid),
      parentOf: () => undefined,
      exit: (code) => sys.exit(code),
      strays: port,
    };
    const log: Logger = { notice: () => {}, warn: () => {}, alert: () => {}, debug: () => {}, loadLines: () => [], beginLoad: () => {}, restoreLoad: () => {}, batch: (fn) => fn() };
    const state: MasterState = { pid: 1, startedAt: 0, reloads: 0, failedReloads: 0, version: "t", phase: "starting", processes: new Map() };
    const sup = new Supervisor(config(), state, ports, log, () => ({ label: "w", path: "/bin/true", argv: ["true"], env: {}, fds: [] }));
    sys.onDeath = (ws) => sup.childExited(ws);
    sup.start();
    const orphanExits = (pid: number) => {
      orphans.delete(pid);
      sup.childExited({ pid, exited: true, code: 0 });
    };
    return { sys, sup, calls, orphanExits, forget: (pid: number) => orphans.delete(pid), flush: () => new Promise((r) => setTimeout(r, 0)) };
  }

  test("the master exits only once the last adopted process is gone", async () => {
    const { sys, sup, calls, orphanExits, flush } = setup([500, 501]);
    sup.signal("SIGTERM");
    await flush();
    assert.deepEqual(calls.slice(0, 1), ["stop 15"], "adopted processes are signalled when the stop begins");
    assert.equal(sys.alive().length, 0, "the worker is gone");
    assert.equal(sys.exitCode, undefined, "but two adopted processes are left");
    orphanExits(500);
    assert.equal(sys.exitCode, undefined);
    orphanExits(501);
    assert.equal(sys.exitCode, 0);
  });

  test("hard-stop-after kills what is left below the master, then it exits", async () => {
    const { sys, sup, calls, flush } = setup([600]);
    sup.signal("SIGINT");
    await flush();
    sys.advance(999);
    assert.ok(!calls.includes("kill"));
    sys.advance(1);
    assert.ok(calls.includes("kill"), "killed at hard-stop-after");
    sup.childExited({ pid: 600, exited: false, signal: 9 });
    assert.equal(sys.exitCode, 130);
  });

  test("a worker that daemonized and exited: the last worker gone stops the master, which waits for the daemon", async () => {
    const { sys, sup, orphanExits, flush } = setup([700]);
    const [worker] = sys.alive();
    worker!.alive = false;
    sup.childExited({ pid: worker!.pid, exited: true, code: 0 });
    await flush();
    assert.equal(sys.exitCode, undefined, "the daemon is still there");
    orphanExits(700);
    assert.equal(sys.exitCode, 0);
  });

  test("a child it did not start (a preflight) collected last: the stopping master exits then", async () => {
    const { sys, sup, forget, flush } = setup([800]);
    sup.signal("SIGTERM");
    await flush();
    assert.equal(sys.exitCode, undefined, "the preflight is still there");
    forget(800); // collected through the reloader's waiter, not as a supervised child
    sup.otherChildGone();
    assert.equal(sys.exitCode, 0);
  });
});
