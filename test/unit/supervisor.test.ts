import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Config, GlobalConfig } from "../../src/config/types.ts";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import type { Logger } from "../../src/log.ts";
import { Supervisor } from "../../src/master/supervisor.ts";
import type { MasterState } from "../../src/state.ts";
import { FakeSystem } from "./_fake-system.ts";

function config(global: Partial<GlobalConfig> = {}, listeners = 1): Config {
  return {
    global: { ...DEFAULT_GLOBAL, workers: 2, ...global },
    listen: Array.from({ length: listeners }, (_, i) => ({
      name: `l${i}`,
      bind: `tcp://127.0.0.1:${8000 + i}`,
      address: { kind: "tcp" as const, host: "127.0.0.1", port: 8000 + i, family: 4 as const },
      backlog: 511,
    })),
    worker: { command: ["/bin/true"], env: {} },
    program: [],
    masterCli: [],
  };
}

function setup(global: Partial<GlobalConfig> = {}, listeners = 1) {
  const sys = new FakeSystem();
  const lines: string[] = [];
  const log: Logger = {
    notice: (m) => lines.push(`NOTICE ${m}`),
    warn: (m) => lines.push(`WARNING ${m}`),
    alert: (m) => lines.push(`ALERT ${m}`),
    debug: (m) => lines.push(`DEBUG ${m}`),
    loadLines: () => lines,
    beginLoad: () => {},
    restoreLoad: () => {},
    batch: (fn) => fn(),
  };
  const state: MasterState = {
    pid: 1,
    startedAt: sys.now(),
    reloads: 0,
    failedReloads: 0,
    version: "test",
    phase: "starting",
    processes: new Map(),
  };
  let loaded = 0;
  const sup = new Supervisor(
    config(global, listeners),
    state,
    sys,
    log,
    (id, generation) => ({ label: `worker ${id}`, path: "/bin/true", argv: ["true", String(id), String(generation)], env: {}, fds: [] }),
    { loaded: () => loaded++ },
  );
  sys.onDeath = (ws) => sup.childExited(ws);
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { sys, sup, state, lines, loadedCount: () => loaded, flush };
}

describe("supervisor start", () => {
  test("spawns N workers with ids 1..N and waits until each accepts", () => {
    const { sys, state, sup, lines, loadedCount } = setup({ workers: 3 });
    sup.start();
    const procs = [...sys.processes.values()];
    assert.deepEqual(procs.map((p) => p.spec.argv.slice(1)), [["1", "0"], ["2", "0"], ["3", "0"]]);
    sys.advance(100);
    assert.equal(state.phase, "starting");
    procs[0]!.accepting = true;
    procs[1]!.accepting = true;
    sys.advance(100);
    assert.equal(loadedCount(), 0);
    procs[2]!.accepting = true;
    sys.advance(100);
    assert.equal(state.phase, "running");
    assert.equal(loadedCount(), 1);
    assert.ok(lines.includes("NOTICE Loading success."));
    assert.deepEqual([...state.processes.values()].map((p) => p.role), ["current", "current", "current"]);
  });

  test("a generation not accepting within ready-timeout fails the start with exit 1", async () => {
    const { sys, sup, lines, flush } = setup({ readyTimeout: 1000 });
    sup.start();
    sys.advance(999);
    assert.equal(sys.exitCode, undefined);
    sys.advance(1);
    await flush();
    assert.ok(lines.some((l) => /^ALERT Loading failure: worker 1 \(\d+\) not ready within 1s: not accepting/.test(l)), lines.join("\n"));
    assert.equal(sys.alive().length, 0);
    assert.equal(sys.exitCode, 1);
  });

  test("a failed start says what it sends: SIGKILL to the failed generation, nothing said of SIGTERM", async () => {
    const { sys, sup, lines, flush } = setup({ readyTimeout: 1000 });
    sup.start();
    const pids = [...sys.processes.keys()];
    sys.advance(1000);
    await flush();
    // each worker got exactly one signal (SIGKILL), and the log says so
    assert.deepEqual(pids.map((pid) => sys.processes.get(pid)!.signals), [[9], [9]]);
    assert.ok(lines.includes(`NOTICE Sent SIGKILL to the 2 worker(s) of failed generation 0: ${pids.join(", ")}`), lines.join("\n"));
    assert.ok(!lines.some((l) => /SIGTERM/.test(l)), lines.join("\n"));
    assert.equal(sys.exitCode, 1);
  });

  test("a worker exiting before it is ready fails the start with its exit code", async () => {
    const { sys, sup, flush } = setup();
    sup.start();
    const [a] = [...sys.processes.keys()];
    sys.processes.get(a!)!.alive = false;
    sup.childExited({ pid: a!, exited: true, code: 3 });
    await flush();
    assert.equal(sys.exitCode, 3);
  });

  test("spawn readiness is immediate; delay readiness waits for the delay", () => {
    const s1 = setup({ ready: { kind: "spawn" } });
    s1.sup.start();
    assert.equal(s1.state.phase, "running");
    const s2 = setup({ ready: { kind: "delay", ms: 500 } });
    s2.sup.start();
    s2.sys.advance(499);
    assert.equal(s2.state.phase, "starting");
    s2.sys.advance(1);
    assert.equal(s2.state.phase, "running");
  });

  test("notify readiness waits for READY=1 from each worker and records STATUS", () => {
    const { sys, sup, state } = setup({ ready: { kind: "notify" } });
    sup.start();
    const [a, b] = [...sys.processes.keys()];
    sup.notified(a!, { READY: "1", STATUS: "warming up" });
    assert.equal(state.phase, "starting");
    assert.equal(state.processes.get(a!)!.status, "warming up");
    sup.notified(999_999, { READY: "1" }); // not a worker: ignored
    assert.equal(state.phase, "starting");
    sup.notified(b!, { READY: "1" });
    assert.equal(state.phase, "running");
  });

  test("sd_notify as systemd takes it: descendants speak for their worker, MAINPID= names a speaker, strangers are logged once", () => {
    const { sys, sup, state, lines } = setup({ ready: { kind: "notify" } });
    sup.start();
    const [a, b] = [...sys.processes.keys()];
    sys.parents.set(5000, a!); // a's child
    sys.parents.set(5001, 5000); // and grandchild
    sup.notified(5001, { READY: "1" });
    assert.equal(state.processes.get(a!)!.ready, true);
    sup.notified(b!, { MAINPID: "7000" }); // 7000's parent is unknown: it speaks for b because b named it
    sup.notified(7000, { READY: "1", STATUS: "re-executed" });
    assert.equal(state.processes.get(b!)!.status, "re-executed");
    assert.equal(state.phase, "running");
    sup.notified(8000, { STATUS: "hi" });
    sup.notified(8000, { STATUS: "hi again" });
    assert.equal(lines.filter((l) => l.startsWith("DEBUG") && l.includes("8000")).length, 1);
  });

  test("EXTEND_TIMEOUT_USEC= extends that worker's ready-timeout, not the others'", async () => {
    const { sys, sup, lines, flush } = setup({ ready: { kind: "notify" }, readyTimeout: 1000 });
    sup.start();
    const [a, b] = [...sys.processes.keys()];
    sup.notified(a!, { EXTEND_TIMEOUT_USEC: "3000000" });
    sup.notified(b!, { READY: "1" });
    sys.advance(2500);
    await flush();
    assert.equal(sys.exitCode, undefined);
    sup.notified(a!, { EXTEND_TIMEOUT_USEC: "2000000" }); // until 4500 from now: beyond 3000
    sys.advance(1999);
    await flush();
    assert.equal(sys.exitCode, undefined);
    sys.advance(1);
    await flush();
    assert.ok(lines.some((l) => l.startsWith(`ALERT Loading failure: worker 1 (${a}) not ready within 1s`)), lines.join("\n"));
    assert.equal(sys.exitCode, 1);
  });

  test("EXTEND_TIMEOUT_USEC= from one worker does not save another that is late", async () => {
    const { sys, sup, lines, flush } = setup({ ready: { kind: "notify" }, readyTimeout: 1000 });
    sup.start();
    const [a, b] = [...sys.processes.keys()];
    sup.notified(a!, { EXTEND_TIMEOUT_USEC: "3000000" });
    sys.advance(1000);
    await flush();
    assert.ok(lines.some((l) => l.startsWith(`ALERT Loading failure: worker 2 (${b}) not ready within 1s`)), lines.join("\n"));
  });

  test("a worker without listeners is ready at spawn under accepting", () => {
    const { sup, state } = setup({}, 0);
    sup.start();
    assert.equal(state.phase, "running");
  });
});

function running(global: Partial<GlobalConfig> = {}) {
  const s = setup({ ready: { kind: "spawn" }, ...global });
  s.sup.start();
  assert.equal(s.state.phase, "running");
  return s;
}

describe("on-failure", () => {
  test("exit: a worker killed by SIGKILL stops the others with SIGTERM and exits 137", async () => {
    const { sys, sup, flush } = running();
    const [a, b] = [...sys.processes.keys()];
    sys.processes.get(a!)!.alive = false;
    sup.childExited({ pid: a!, exited: false, signal: 9 });
    assert.deepEqual(sys.processes.get(b!)!.signals, [15]);
    await flush();
    assert.equal(sys.exitCode, 137);
  });

  test("exit: statuses 0, 130 and 143 are normal; the last worker gone ends the master with 0", async () => {
    const { sys, sup, state, flush } = running();
    const [a, b] = [...sys.processes.keys()];
    sup.childExited({ pid: a!, exited: true, code: 0 });
    assert.equal(sys.exitCode, undefined);
    assert.equal(state.phase, "running");
    sup.childExited({ pid: b!, exited: false, signal: 15 });
    await flush();
    assert.equal(sys.exitCode, 0);
  });

  test("restart: same id and generation after 1s, doubling back-off, give up after 5 failures in 60s", async () => {
    const { sys, sup, state, flush } = running({ onFailure: "restart", workers: 1 });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [pid] = [...state.processes.keys()];
      sys.processes.get(pid!)!.alive = false;
      sup.childExited({ pid: pid!, exited: true, code: 1 });
      const before = sys.now();
      let waited = 0;
      while (state.processes.size === 0 && waited < 60_000) {
        sys.advance(250);
        waited += 250;
      }
      delays.push(sys.now() - before);
      const [np] = [...state.processes.values()];
      assert.equal(np!.id, 1);
      assert.equal(np!.generation, 0);
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000]);
    const [pid] = [...state.processes.keys()];
    sup.childExited({ pid: pid!, exited: true, code: 1 });
    await flush();
    assert.equal(sys.exitCode, 1);
  });

  test("restart: back-off resets after 60s of uptime", () => {
    const { sys, sup, state } = running({ onFailure: "restart", workers: 1 });
    let [pid] = [...state.processes.keys()];
    sup.childExited({ pid: pid!, exited: true, code: 1 });
    sys.advance(1000);
    [pid] = [...state.processes.keys()];
    sys.advance(61_000);
    sup.childExited({ pid: pid!, exited: true, code: 1 });
    sys.advance(999);
    assert.equal(state.processes.size, 0);
    sys.advance(1);
    assert.equal(state.processes.size, 1);
  });

  test("ignore: the master keeps running with the other workers", () => {
    const { sys, sup, state, lines } = running({ onFailure: "ignore" });
    const [a] = [...sys.processes.keys()];
    sup.childExited({ pid: a!, exited: false, signal: 9 });
    assert.equal(state.phase, "running");
    assert.equal(state.processes.size, 1);
    assert.ok(lines.some((l) => l.includes("killed by signal 9 (SIGKILL) (on-failure = ignore)")));
  });
});

describe("stop", () => {
  for (const [sig, code] of [["SIGTERM", 0], ["SIGINT", 130], ["SIGUSR1", 0]] as const) {
    test(`${sig} sends stop-signal to every worker and exits ${code} once they are gone`, async () => {
      const { sys, sup, flush } = running({ stopSignal: 10 });
      sup.signal(sig);
      for (const p of sys.processes.values()) assert.deepEqual(p.signals, [10]);
      await flush();
      assert.equal(sys.exitCode, code);
    });
  }

  test("hard-stop-after kills a worker that ignores its stop signal", async () => {
    const { sys, sup, flush } = running({ hardStopAfter: 2000 });
    sys.ignoring.add(15);
    sup.signal("SIGTERM");
    sys.advance(1999);
    await flush();
    assert.equal(sys.exitCode, undefined);
    sys.ignoring.clear();
    sys.advance(1);
    await flush();
    assert.equal(sys.exitCode, 0);
    for (const p of sys.processes.values()) assert.deepEqual(p.signals, [15, 9]);
  });

  test("SIGQUIT is ignored", () => {
    const { sup, state } = running();
    sup.signal("SIGQUIT");
    assert.equal(state.phase, "running");
  });
});

describe("reload", () => {
  const planB = (id: number, generation: number) => ({ label: `worker ${id}`, path: "/bin/b", argv: ["b", String(id), String(generation)], env: {}, fds: [] });

  test("a good reload starts generation 1, then sends stop-signal to the old workers", async () => {
    const { sys, sup, state, flush } = running({ stopSignal: 10 });
    const old = [...state.processes.keys()];
    sys.ignoring.add(10);
    let result: unknown;
    sup.reload(config({ ready: { kind: "spawn" }, workers: 3, stopSignal: 10 }), planB, false, (r) => (result = r));
    assert.deepEqual(result, { ok: true });
    assert.equal(state.reloads, 1);
    const roles = [...state.processes.values()].map((p) => `${p.generation}:${p.role}`);
    assert.deepEqual(roles, ["0:old", "0:old", "1:current", "1:current", "1:current"]);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, [10]);
    const fresh = [...sys.processes.values()].filter((p) => p.spec.path === "/bin/b");
    assert.equal(fresh.length, 3);
    assert.deepEqual(fresh.map((p) => p.spec.argv[2]), ["1", "1", "1"]);
    await flush();
  });

  test("a hard reload sends SIGTERM instead of stop-signal", () => {
    const { sys, sup, state } = running({ stopSignal: 10 });
    const old = [...state.processes.keys()];
    sys.ignoring.add(15);
    sup.reload(config({ ready: { kind: "spawn" } }), planB, true, () => {});
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, [15]);
  });

  test("a failed reload keeps the current generation untouched and kills the new workers", async () => {
    const { sys, sup, state, flush } = running();
    const old = [...state.processes.keys()];
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(config({ readyTimeout: 1000 }), planB, false, (r) => (result = r));
    assert.equal(state.phase, "reloading");
    sys.advance(1000);
    await flush();
    assert.equal(result?.ok, false);
    assert.match(result!.reason!, /not ready within 1s/);
    assert.equal(state.failedReloads, 1);
    assert.equal(state.reloads, 0);
    assert.equal(state.phase, "running");
    for (const pid of old) {
      assert.equal(state.processes.get(pid)!.role, "current");
      assert.deepEqual(sys.processes.get(pid)!.signals, []);
    }
    for (const p of sys.processes.values()) if (p.spec.path === "/bin/b") assert.equal(p.alive, false);
    // the next good reload works and resets the failure count
    sup.reload(config({ ready: { kind: "spawn" } }), planB, false, () => {});
    assert.equal(state.reloads, 1);
    assert.equal(state.failedReloads, 0);
  });

  test("workers started before the exec (spawnEarly) are gated by the reload that adopts them", () => {
    const { sys, sup, state } = running();
    const cfg = config({ readyTimeout: 1000 });
    const generation = sup.spawnEarly(cfg, planB);
    assert.equal(generation, 1);
    const early = [...sys.processes.values()].filter((p) => p.spec.path === "/bin/b");
    assert.equal(early.length, 2);
    assert.deepEqual([...state.processes.values()].map((p) => `${p.generation}:${p.role}`), ["0:current", "0:current", "1:loading", "1:loading"]);
    sys.advance(400); // the exec, and the new image's start-up
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(cfg, planB, false, (r) => (result = r), undefined, true);
    assert.equal([...sys.processes.values()].filter((p) => p.spec.path === "/bin/b").length, 2, "no worker started twice");
    for (const p of early) p.accepting = true;
    sys.advance(50);
    assert.deepEqual(result, { ok: true });
    assert.deepEqual([...state.processes.values()].map((p) => `${p.generation}:${p.role}`), ["0:old", "0:old", "1:current", "1:current"]);
  });

  test("ready-timeout counts from the early spawn, not from the adoption", async () => {
    const { sys, sup, flush } = running();
    const cfg = config({ readyTimeout: 1000 });
    sup.spawnEarly(cfg, planB);
    sys.advance(700);
    let result: { ok: boolean; reason?: string } | undefined;
    sup.reload(cfg, planB, false, (r) => (result = r), undefined, true);
    sys.advance(299);
    assert.equal(result as unknown, undefined, "still loading");
    sys.advance(1);
    await flush();
    assert.equal(result?.ok, false);
    assert.match(result!.reason!, /not ready within 1s/);
    for (const p of sys.processes.values()) if (p.spec.path === "/bin/b") assert.equal(p.alive, false);
  });

  test("an early worker that exits before the adoption fails the reload; the others are killed", async () => {
    const { sys, sup, state, flush } = running();
    const cfg = config();
    sup.spawnEarly(cfg, planB);
    const [first, second] = [...sys.processes.values()].filter((p) => p.spec.path === "/bin/b");
    first!.alive = false;
    sup.childExited({ pid: first!.pid, exited: true, code: 3 }); // reaped by the new image before it adopts
    let result: { ok: boolean; reason?: string; exitCode?: number } | undefined;
    sup.reload(cfg, planB, false, (r) => (result = r), undefined, true);
    await flush();
    assert.equal(result?.ok, false);
    assert.match(result!.reason!, /worker 1 \(\d+\) exited with code 3 before it was ready/);
    assert.equal(second!.alive, false);
    assert.equal(state.failedReloads, 1);
    assert.deepEqual([...state.processes.values()].filter((p) => p.role === "current").length, 2);
  });

  test("early workers not adopted (the new image loaded another configuration) are killed", async () => {
    const { sys, sup, state, flush } = running();
    const generation = sup.spawnEarly(config(), planB)!;
    sup.abandonEarly(generation);
    await flush();
    for (const p of sys.processes.values()) if (p.spec.path === "/bin/b") assert.equal(p.alive, false);
    assert.equal([...state.processes.values()].filter((p) => p.role === "loading").length, 0);
    // and the reload the new image runs instead starts its own generation 1
    sup.reload(config({ ready: { kind: "spawn" }, workers: 3 }), planB, false, () => {});
    assert.equal(state.reloads, 1);
    assert.equal([...state.processes.values()].filter((p) => p.role === "current").length, 3);
  });

  test("a reload during another is refused", () => {
    const { sup } = running();
    sup.reload(config(), planB, false, () => {});
    let second: { ok: boolean; reason?: string } | undefined;
    sup.reload(config(), planB, false, (r) => (second = r));
    assert.deepEqual(second, { ok: false, reason: "Another reload is still in progress.", exitCode: 1 });
  });

  test("old workers past max-reloads get SIGTERM; hard-stop-after kills old ones that linger", async () => {
    const { sys, sup, state, flush } = running({ maxReloads: 1, stopSignal: 10, hardStopAfter: 5000 });
    const first = [...state.processes.keys()];
    sys.ignoring.add(10);
    sys.ignoring.add(15);
    const cfg = config({ ready: { kind: "spawn" }, maxReloads: 1, stopSignal: 10, hardStopAfter: 5000 });
    sup.reload(cfg, planB, false, () => {});
    for (const pid of first) assert.deepEqual(sys.processes.get(pid)!.signals, [10]); // survived 1 reload
    sup.reload(cfg, planB, false, () => {});
    for (const pid of first) assert.deepEqual(sys.processes.get(pid)!.signals, [10, 15]); // 2 > max-reloads
    sup.reload(cfg, planB, false, () => {});
    for (const pid of first) assert.deepEqual(sys.processes.get(pid)!.signals, [10, 15]); // SIGTERM only once
    sys.ignoring.clear();
    sys.advance(5000);
    await flush();
    for (const pid of first) assert.equal(state.processes.has(pid), false);
    assert.equal(state.reloads, 3);
  });
});

describe("programs", () => {
  const program = (name: string, over: Partial<import("../../src/config/types.ts").ProgramConfig> = {}) => ({
    name,
    command: ["/bin/agent"],
    env: {},
    startOnReload: true,
    onFailure: "restart" as const,
    ...over,
  });
  function withPrograms(programs: ReturnType<typeof program>[], global: Partial<GlobalConfig> = {}) {
    const sys = new FakeSystem();
    const lines: string[] = [];
    const log: Logger = {
      notice: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      alert: (m) => lines.push(m),
      debug: () => {},
      loadLines: () => lines,
      beginLoad: () => {},
      restoreLoad: () => {},
      batch: (fn) => fn(),
    };
    const cfg = { ...config({ ready: { kind: "spawn" }, ...global }), program: programs };
    const state: MasterState = { pid: 1, startedAt: 0, reloads: 0, failedReloads: 0, version: "t", phase: "starting", processes: new Map() };
    const sup = new Supervisor(
      cfg,
      state,
      sys,
      log,
      (id, g) => ({ label: "w", path: "/bin/w", argv: ["w", String(id), String(g)], env: {}, fds: [] }),
      {},
      (p) => ({ label: p.name, path: p.command[0]!, argv: [...p.command, p.name], env: {}, fds: [] }),
    );
    sys.onDeath = (ws) => sup.childExited(ws);
    sup.start();
    const programs_ = () => [...state.processes.values()].filter((p) => p.kind === "program");
    return { sys, sup, state, lines, cfg, programs: programs_ };
  }

  test("programs start with the master, before the workers, and are stopped with it", async () => {
    const { sys, sup, programs } = withPrograms([program("agent")]);
    const all = [...sys.processes.values()];
    assert.equal(all[0]!.spec.argv.at(-1), "agent");
    assert.equal(programs().length, 1);
    sup.signal("SIGTERM");
    assert.deepEqual(sys.processes.get(programs()[0]?.pid ?? all[0]!.pid)!.signals, [15]);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(sys.exitCode, 0);
  });

  test("on reload, start-on-reload = true replaces the program; false leaves it untouched", () => {
    const { sys, sup, cfg, programs } = withPrograms([program("fresh"), program("steady", { startOnReload: false })]);
    const [fresh, steady] = programs();
    sys.ignoring.add(15);
    sup.reload(cfg, (id, g) => ({ label: "w", path: "/bin/w", argv: ["w", String(id), String(g)], env: {}, fds: [] }), false, () => {});
    assert.deepEqual(sys.processes.get(fresh!.pid)!.signals, [15]);
    assert.deepEqual(sys.processes.get(steady!.pid)!.signals, []);
    const after = programs().filter((p) => p.role === "current").map((p) => p.name).sort();
    assert.deepEqual(after, ["fresh", "steady"]);
    assert.equal(programs().find((p) => p.name === "steady" && p.role === "current")!.pid, steady!.pid);
  });

  test("each program's on-failure: restart after back-off, ignore, exit", async () => {
    const r = withPrograms([program("a", { onFailure: "restart" })]);
    const a = r.programs()[0]!;
    r.sup.childExited({ pid: a.pid, exited: true, code: 1 });
    assert.equal(r.programs().length, 0);
    r.sys.advance(1000);
    assert.equal(r.programs().length, 1);

    const i = withPrograms([program("b", { onFailure: "ignore" })]);
    i.sup.childExited({ pid: i.programs()[0]!.pid, exited: true, code: 1 });
    i.sys.advance(5000);
    assert.equal(i.programs().length, 0);
    assert.equal(i.state.phase, "running");

    const e = withPrograms([program("c", { onFailure: "exit" })]);
    e.sup.childExited({ pid: e.programs()[0]!.pid, exited: true, code: 4 });
    await new Promise((res) => setTimeout(res, 0));
    assert.equal(e.sys.exitCode, 4);
  });
});
