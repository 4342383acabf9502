/**
 * The reload's state machine (src/master/reloader.ts) driven step by step over fake ports:
 * the OS of _fake-os.ts (preflight child, state file, execve), the real Supervisor over
 * _fake-system.ts for the loads, and records of everything else. Each failure leaves the
 * old generation current, counted once; each stop is obeyed; what the exec prepared is
 * undone when it fails.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Config, GlobalConfig } from "../../src/config/types.ts";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import { decodeHandover, HANDOVER_FORMAT, HANDOVER_VAR, type Handover } from "../../src/master/handover.ts";
import { proofLine } from "../../src/master/handshake.ts";
import type { RunOptions } from "../../src/master/options.ts";
import { ANOTHER_RELOAD, LOADED_FIRST, MASTER_STOPPING, onProbation, REEXEC_QUIET_MS, Reloader, type LoadOutcome, type ReloadLog, type ReloadPorts, type Requester } from "../../src/master/reloader.ts";
import type { MasterState } from "../../src/state.ts";
import { Supervisor, type WorkerPlanner } from "../../src/master/supervisor.ts";
import { adoptsEarly } from "../../src/master/takeover.ts";
import type { Session } from "../../src/mcli/server.ts";
import type { WaitStatus } from "../../src/sys/posix.ts";
import { SIGKILL, SIGTERM } from "../../src/sys/constants.ts";
import { FakeOs } from "./_fake-os.ts";
import { FakeSystem } from "./_fake-system.ts";

const RUN_DIR = "/run/steward-4242";

function options(global: Partial<GlobalConfig> = {}): RunOptions {
  const config: Config = {
    global: { ...DEFAULT_GLOBAL, workers: 2, ...global },
    listen: [{ name: "web", bind: "tcp://127.0.0.1:8000", address: { kind: "tcp", host: "127.0.0.1", port: 8000, family: 4 }, backlog: 511 }],
    worker: { command: ["/bin/true"], env: {} },
    program: [],
    masterCli: [],
  };
  return { config, logLevel: 3, systemd: false, daemon: false, args: ["run", "-f", "steward.toml"] };
}

/** A CLI session asking for a reload, and what it was answered. */
function requester(): Requester & { replies: string[] } {
  const replies: string[] = [];
  return { session: {} as Session, reply: (text) => replies.push(text), replies };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

function world(global: Partial<GlobalConfig> = {}) {
  const sys = new FakeSystem();
  const os = new FakeOs(sys);
  const lines: string[] = [];
  const calls: string[] = [];
  const log: ReloadLog & { warn(m: string): void; debug(m: string): void; restoreLoad(): void } = {
    notice: (m) => lines.push(`NOTICE ${m}`),
    warn: (m) => lines.push(`WARNING ${m}`),
    alert: (m) => lines.push(`ALERT ${m}`),
    debug: () => {},
    beginLoad: () => calls.push("beginLoad"),
    loadLines: () => lines,
    restoreLoad: () => {},
    batch: (fn) => fn(),
  };
  const state: MasterState = { pid: os.pid, startedAt: sys.now(), reloads: 0, failedReloads: 0, version: "test", phase: "starting", processes: new Map() };
  const plan: WorkerPlanner = (id, generation) => ({ label: `worker ${id}`, path: "/bin/true", argv: ["w", String(id), String(generation)], env: {}, fds: [] });
  const w = {
    sys,
    os,
    lines,
    calls,
    state,
    current: options(global),
    /** a stop signal waits at the hold (exec-signals.ts) */
    stopWaiting: false,
    /** the next load's plan fails with this reason */
    planError: undefined as string | undefined,
    /** the next load ends so, at once, instead of going to the supervisor */
    outcome: undefined as LoadOutcome | undefined,
    waiters: new Map<number, (ws: WaitStatus) => void>(),
    reloader: undefined as unknown as Reloader,
    /** the CLI sessions the last handOver was given */
    handedSessions: {} as { requesting?: Session; answered?: Session },
    sup: undefined as unknown as Supervisor,
  };
  w.sup = new Supervisor(w.current.config, state, sys, log as never, plan, { stopping: () => w.reloader.stopping() });
  sys.onDeath = (ws) => w.sup.childExited(ws);
  const ports: ReloadPorts = {
    os,
    self: { path: "/usr/bin/steward", prefix: [] },
    compiled: true,
    selfIdentity: { ...os.identity },
    state: () => state,
    current: () => w.current,
    runDir: () => RUN_DIR,
    log,
    reloading: () => calls.push("reloading"),
    reloadFailed: (reason) => calls.push(`reloadFailed ${reason}`),
    rolledBack: (reason) => calls.push(`rolledBack ${reason}`),
    began: () => calls.push("began"),
    ended: (ok) => calls.push(`ended ${ok}`),
    waitFor: (pid) => new Promise((resolve) => w.waiters.set(pid, resolve)),
    hold: async () => void calls.push("hold"),
    stopWaiting: () => w.stopWaiting,
    release: () => calls.push("release"),
    startEarly: (o) => {
      calls.push("startEarly");
      const generation = w.sup.spawnEarly(o.config, plan);
      return generation === undefined ? undefined : { generation, options: o };
    },
    abandonEarly: (generation) => {
      calls.push(`abandonEarly ${generation}`);
      w.sup.abandonEarly(generation);
    },
    handOver: (parts, requesting, answered) => {
      calls.push("handOver");
      w.handedSessions = { requesting, answered };
      const { processes, phase: _p, ...master } = state;
      return {
        format: HANDOVER_FORMAT,
        writtenBy: "test",
        master,
        processes: [...processes.values()],
        listeners: [],
        notify: { fd: -1, path: "" },
        runDir: RUN_DIR,
        options: w.current,
        cli: { listeners: [] },
        loadLines: [...lines],
        ...parts,
      };
    },
    crossesExec: (session) => (session as { open?: boolean }).open !== false,
    handOverFailed: () => calls.push("handOverFailed"),
    keepAcrossExec: (on) => calls.push(`keepAcrossExec ${on}`),
    load: (o, hard, adopt, done) => {
      calls.push(`load hard=${hard} adopt=${adopt}`);
      if (w.planError) return done({ ok: false, reason: w.planError, recorded: false });
      if (w.outcome) return done(w.outcome);
      w.sup.reload(o.config, plan, hard, (r) => {
        if (r.ok) w.current = o;
        done(r.ok ? { ok: true } : { ok: false, reason: r.reason, recorded: true });
      }, undefined, adopt);
    },
  };
  w.reloader = new Reloader(ports);

  /** The workers of `generation` (alive or not) and their roles. */
  const generation = (g: number) => [...state.processes.values()].filter((p) => p.generation === g);
  /** Makes every live worker accept, and lets the supervisor see it. */
  const accept = () => {
    for (const p of sys.alive()) p.accepting = true;
    sys.advance(100);
  };
  /** The preflight child ends: exit `code`, having printed the handshake (with `opts` when given) or not. */
  const preflightEnds = async (how: { code?: number; signal?: number; proof?: boolean; opts?: RunOptions } = {}) => {
    const { pid, req } = os.spawned.at(-1)!;
    const i = req.argv.indexOf("__preflight");
    const proof = how.proof === false ? "" : await proofLine(Number(req.argv[i + 1]), req.argv[i + 2]!, how.opts ?? null);
    os.files.set(req.outputPath!, `checking...\n${proof}\n`);
    const waiter = w.waiters.get(pid)!;
    w.waiters.delete(pid);
    waiter(how.signal !== undefined ? { pid, exited: false, signal: how.signal } : { pid, exited: true, code: how.code ?? 0 });
    await settle();
  };
  /** The handover the last execve pointed to. */
  const handedOver = (): Handover => {
    const decoded = decodeHandover(os.readPrivate(os.execs.at(-1)!.env[HANDOVER_VAR]!));
    assert.ok(decoded.ok);
    return decoded.handover;
  };
  /**
   * The new image after a successful execve: a Reloader of its own takes over the reload
   * with the options it read (`opts`), or the `problems` of reading them.
   */
  const newImage = (opts: RunOptions | undefined, problems?: string[], who?: Requester) => {
    const handover = handedOver();
    w.reloader = new Reloader(ports);
    w.reloader.resumeIn(handover, opts, problems, who, adoptsEarly(handover, opts));
  };
  /** The new image after an execve that followed a reload the old image completed. */
  const newImageAfter = (who?: Requester) => {
    const handover = handedOver();
    assert.equal(handover.reloaded, true);
    w.reloader = new Reloader(ports);
    w.reloader.resumeAfter(handover, who);
  };
  /** The first generation, started and ready. */
  w.sup.start();
  accept();
  assert.equal(state.phase, "running");
  calls.length = 0;
  /** Worker `pid` exits with `code`, and the supervisor sees it. */
  const exits = async (pid: number, code: number) => {
    sys.processes.get(pid)!.alive = false;
    w.sup.childExited({ pid, exited: true, code });
    sys.advance(0);
    await settle();
  };
  /** An unchanged binary and configuration (no file) reloaded by SIGUSR2: loaded here, ready. */
  const reloadedFirst = async () => {
    w.current = { ...w.current, configSource: {} };
    w.reloader.request("SIGUSR2");
    await settle();
    accept();
    await settle();
  };
  /** Reloads stay quiet long enough for the re-exec they owe. */
  const quiet = async () => {
    sys.advance(REEXEC_QUIET_MS);
    await settle();
  };
  return { ...w, w, ports, generation, accept, preflightEnds, handedOver, newImage, newImageAfter, quiet, exits, reloadedFirst };
}

/** The old generation (0) is current and untouched; nothing else runs; the failure counted once. */
function oldGenerationCurrent(t: ReturnType<typeof world>, failures = 1): void {
  const old = t.generation(0);
  assert.deepEqual(old.map((p) => p.role), ["current", "current"]);
  for (const p of old) assert.deepEqual(t.sys.processes.get(p.pid)!.signals, [], "the old workers were not signalled");
  assert.deepEqual(t.sys.alive().map((p) => p.pid).sort(), old.map((p) => p.pid).sort(), "only the old generation runs");
  assert.equal(t.state.reloads, 0);
  assert.equal(t.state.failedReloads, failures);
  assert.equal(t.w.reloader.step, "idle");
}

describe("reloader (master/reloader.ts)", () => {
  test("a reload goes through every step: preflight, early start, hold, state, execve, then the new image loads", async () => {
    const t = world();
    const who = requester();
    t.w.reloader.request("reload from the master CLI", false, who);
    assert.equal(t.w.reloader.step, "preflight");
    const pre = t.os.spawned[0]!.req;
    assert.deepEqual(pre.argv.slice(0, 3), ["/usr/bin/steward", "__preflight", String(HANDOVER_FORMAT)]);
    assert.deepEqual(pre.argv.slice(4), ["run", "--check", "-f", "steward.toml"]);
    assert.equal(pre.ownSession, true);
    assert.equal(pre.env[HANDOVER_VAR], undefined);
    await t.preflightEnds({ opts: t.w.current });
    // the same binary answered with its options: generation 1 started before the exec
    assert.deepEqual(t.calls, ["began", "beginLoad", "reloading", "startEarly", "hold", "handOver", "keepAcrossExec true"]);
    assert.deepEqual(t.generation(1).map((p) => p.role), ["loading", "loading"]);
    const exec = t.os.execs[0]!;
    assert.deepEqual(exec.argv, ["/usr/bin/steward", "run", "-f", "steward.toml"]);
    assert.equal(exec.env[HANDOVER_VAR], `${RUN_DIR}/handover.json`);
    const handover = t.handedOver();
    assert.equal(handover.early?.generation, 1);
    assert.equal(handover.reloadPending, false);
    assert.deepEqual(who.replies, [], "the answer comes from the new image");
    // the new image, same configuration: it gates the workers started early
    const next = requester();
    t.newImage(t.w.current, undefined, next);
    assert.equal(t.w.reloader.step, "load");
    assert.equal(t.calls.at(-1), "load hard=false adopt=true");
    t.accept();
    assert.equal(t.state.reloads, 1);
    assert.deepEqual(t.generation(1).map((p) => p.role), ["current", "current"]);
    assert.deepEqual(t.generation(0).map((p) => p.role), ["old", "old"]);
    assert.equal(t.w.reloader.step, "idle");
    assert.equal(t.calls.at(-1), "ended true");
    assert.match(next.replies[0]!, /^Success=1\n--\n/);
  });

  test("signals during a reload are merged into one more reload, carried across the exec", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    t.w.reloader.request("SIGUSR2");
    t.w.reloader.request("SIGHUP");
    assert.equal(t.lines.filter((l) => l.includes("received during a reload")).length, 1);
    assert.equal(t.os.spawned.length, 1, "one preflight");
    await t.preflightEnds();
    assert.equal(t.handedOver().reloadPending, true);
    t.newImage(t.w.current);
    t.accept();
    assert.equal(t.state.reloads, 1);
    // the merged reload begins as soon as this one is over
    assert.equal(t.w.reloader.step, "preflight");
    assert.equal(t.os.spawned.length, 2);
    assert.ok(t.lines.includes("NOTICE Reloading (merged reload request)"));
  });

  test("a merged reload follows a failed one too", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds({ code: 1, proof: false });
    assert.equal(t.state.failedReloads, 1);
    assert.equal(t.w.reloader.step, "preflight");
    assert.equal(t.os.spawned.length, 2);
  });

  test("a CLI reload during another is refused; the first goes on", async () => {
    const t = world();
    const first = requester();
    const second = requester();
    t.w.reloader.request("reload from the master CLI", false, first);
    t.w.reloader.request("reload from the master CLI", false, second);
    assert.deepEqual(second.replies, [ANOTHER_RELOAD]);
    await t.preflightEnds({ code: 3, proof: false });
    assert.match(first.replies[0]!, /^Success=0\n/);
    assert.equal(t.os.spawned.length, 1, "the refused one was not merged");
  });

  test("during a probation a CLI reload is refused with why; a signal waits for its outcome", () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    const probation = { generation: 1, until: t.sys.now() + 60_000, failures: 0, allowed: 1 };
    t.state.probation = probation;
    const who = requester();
    t.w.reloader.request("reload from the master CLI", false, who);
    assert.deepEqual(who.replies, [`Success=0\n--\n${onProbation(probation)}`]);
    t.w.reloader.request("SIGUSR2");
    assert.ok(t.lines.includes("NOTICE SIGUSR2 received during a reload (a probation): one more reload will follow its outcome"));
    assert.equal(t.os.spawned.length, 1);
  });

  test("a load rolled back after its probation is reported as a rollback, counted by the supervisor only", async () => {
    const t = world();
    const who = requester();
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds();
    t.w.outcome = { ok: false, reason: "worker 1 exited during the probation", recorded: true, rolledBack: true };
    t.newImage(t.w.current, undefined, who);
    assert.deepEqual(t.calls.slice(-2), ["rolledBack worker 1 exited during the probation", "ended false"]);
    assert.equal(t.state.failedReloads, 0, "the supervisor counts it");
    assert.match(who.replies[0]!, /^Success=0\n/);
  });

  test("a load that ends because the master stops sends no READY=1 after STOPPING=1", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds();
    t.state.phase = "stopping";
    t.w.outcome = { ok: false, reason: "the master is stopping", recorded: true };
    t.newImage(t.w.current);
    assert.deepEqual(t.calls.filter((c) => c.startsWith("reloadFailed") || c.startsWith("rolledBack")), []);
    assert.equal(t.calls.at(-1), "ended false");
  });

  test("preflight fails (exit status): counted once, reported, the old generation stays current", async () => {
    const t = world();
    const who = requester();
    t.w.reloader.request("SIGHUP", false, who);
    await t.preflightEnds({ code: 2, proof: false });
    oldGenerationCurrent(t);
    assert.match(t.state.lastFailure!, /^preflight of \/usr\/bin\/steward exited with code 2: checking/);
    assert.ok(t.lines.some((l) => l.startsWith("ALERT Reload failed: preflight of")));
    assert.ok(t.lines.includes("ALERT preflight: checking..."), "its output is quoted");
    assert.deepEqual(t.calls.filter((c) => c.startsWith("reloadFailed")).length, 1);
    assert.equal(t.calls.at(-1), "ended false");
    assert.deepEqual(t.os.execs, []);
    assert.ok(!t.calls.includes("hold"));
    assert.match(who.replies[0]!, /^Success=0\n/);
  });

  test("preflight fails (no handshake, binary missing, cannot start): the old generation stays current", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds({ proof: false });
    oldGenerationCurrent(t);
    assert.match(t.state.lastFailure!, /without answering the handshake/);
    t.os.problem = "/usr/bin/steward does not exist";
    t.w.reloader.request("SIGHUP");
    await settle();
    oldGenerationCurrent(t, 2);
    assert.equal(t.state.lastFailure, "new binary: /usr/bin/steward does not exist");
    t.os.problem = undefined;
    t.os.failSpawn = "ENOMEM";
    t.w.reloader.request("SIGHUP");
    await settle();
    oldGenerationCurrent(t, 3);
    assert.equal(t.state.lastFailure, "new binary could not be started: ENOMEM");
  });

  test("preflight times out: its process group is killed, the old generation stays current", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    const pid = t.os.spawned[0]!.pid;
    t.sys.advance(10_000);
    assert.ok(t.os.kills.includes(`kill ${-pid} ${SIGKILL}`));
    await t.preflightEnds({ signal: SIGKILL, proof: false });
    oldGenerationCurrent(t);
    assert.match(t.state.lastFailure!, /did not finish within 10s/);
  });

  test("the state cannot be written: the early generation is killed, signals and sessions come back, nothing execs", async () => {
    const t = world();
    const who = requester();
    t.os.failWrite = "ENOSPC";
    t.w.reloader.request("SIGHUP", false, who);
    await t.preflightEnds({ opts: t.w.current });
    assert.deepEqual(t.calls.slice(t.calls.indexOf("startEarly")), ["startEarly", "hold", "handOver", "release", "handOverFailed", "abandonEarly 1", "reloadFailed cannot write the state for the new image: ENOSPC", "ended false"]);
    for (const p of t.generation(1)) assert.equal(p.role, "failed");
    t.sys.advance(0);
    await settle();
    oldGenerationCurrent(t);
    assert.equal(t.state.lastFailure, "cannot write the state for the new image: ENOSPC");
    assert.deepEqual(t.os.execs, []);
    assert.match(who.replies[0]!, /^Success=0\n/);
  });

  test("execve fails: everything prepared for it is undone, the old generation stays current", async () => {
    const t = world();
    const who = requester();
    t.os.failExec = "ENOEXEC";
    t.w.reloader.request("SIGHUP", false, who);
    await t.preflightEnds({ opts: t.w.current });
    assert.deepEqual(t.calls.slice(t.calls.indexOf("handOver")), [
      "handOver",
      "keepAcrossExec true",
      "keepAcrossExec false",
      "release",
      "handOverFailed",
      "abandonEarly 1",
      "reloadFailed exec of /usr/bin/steward failed: ENOEXEC",
      "ended false",
    ]);
    await settle();
    oldGenerationCurrent(t);
    assert.equal(t.state.lastFailure, "exec of /usr/bin/steward failed: ENOEXEC");
    assert.match(who.replies[0]!, /^Success=0\n/);
    // and the next reload works
    t.os.failExec = undefined;
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds({ opts: t.w.current });
    assert.equal(t.os.execs.length, 1);
  });

  test("in the new image, a worker of the new generation exits: the supervisor's failure, counted once", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds();
    t.newImage(t.w.current);
    const [first] = t.generation(1);
    await t.exits(first!.pid, 1);
    oldGenerationCurrent(t);
    assert.equal(t.calls.filter((c) => c.startsWith("reloadFailed")).length, 1);
    assert.equal(t.lines.filter((l) => l.startsWith("ALERT Reload failed")).length, 1, "logged once");
  });

  test("in the new image, the new generation is not ready in time: the old one stays current", async () => {
    const t = world({ readyTimeout: 1000 });
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds();
    t.newImage(t.w.current);
    t.sys.advance(1500);
    await settle();
    oldGenerationCurrent(t);
    assert.equal(t.calls.filter((c) => c.startsWith("reloadFailed")).length, 1);
  });

  test("in the new image, the configuration did not load, or cannot be planned: counted once each", async () => {
    const t = world();
    const who = requester();
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds();
    t.newImage(undefined, ["steward.toml:3: workers: -1 is not a positive integer", "another"], who);
    oldGenerationCurrent(t);
    assert.equal(t.state.lastFailure, "configuration: steward.toml:3: workers: -1 is not a positive integer (and 1 more)");
    assert.match(who.replies[0]!, /^Success=0\n/);
    t.w.planError = "worker.command: /bin/nope does not exist";
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds();
    t.newImage(t.w.current);
    oldGenerationCurrent(t, 2);
    assert.equal(t.state.lastFailure, t.w.planError);
  });

  test("the new image loaded other options than the early generation's: those workers go, its own start", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds({ opts: t.w.current });
    const early = t.generation(1).map((p) => p.pid);
    assert.equal(early.length, 2);
    const changed = options({ workers: 3 });
    assert.equal(adoptsEarly(t.handedOver(), changed), false);
    t.w.sup.abandonEarly(1); // as MasterHost.resume does
    t.newImage(changed);
    t.accept();
    assert.equal(t.state.reloads, 1);
    assert.equal(t.generation(1).filter((p) => p.role === "current").length, 3);
  });

  test("same executable and configuration file as checked: no preflight; the reload is loaded here and answered, the re-exec follows once reloads are quiet", async () => {
    const file = "/etc/steward.toml";
    for (const source of [{}, { file, identity: { dev: 1, ino: 40, size: 300, mtimeMs: 7, ctimeMs: 8 } }]) {
      const t = world();
      if (source.identity) t.os.identities.set(file, { ...source.identity });
      t.w.current = { ...t.w.current, configSource: source };
      const who = requester();
      t.w.reloader.request("reload from the master CLI", false, who);
      await settle();
      assert.deepEqual(t.os.spawned.filter((s) => s.req.argv.includes("__preflight")), [], "no preflight");
      assert.ok(t.lines.includes(`NOTICE ${LOADED_FIRST}`));
      // the load runs here, from the running options; nothing is held or handed over
      assert.deepEqual(t.calls, ["began", "beginLoad", "reloading", "load hard=false adopt=false"]);
      assert.equal(t.w.reloader.step, "load");
      assert.deepEqual(t.generation(1).map((p) => p.role), ["loading", "loading"]);
      t.accept();
      await settle();
      assert.equal(t.state.reloads, 1);
      assert.deepEqual(t.generation(1).map((p) => p.role), ["current", "current"]);
      for (const p of t.generation(0)) assert.ok(t.sys.processes.get(p.pid)!.signals.length > 0, "the old workers were told to stop");
      assert.match(who.replies[0]!, /^Success=1\n--\n/);
      assert.equal(t.w.reloader.step, "idle");
      assert.deepEqual(t.os.execs, [], "no exec yet");
      await t.quiet();
      assert.deepEqual(t.calls.slice(4), ["ended true", "hold", "handOver", "keepAcrossExec true"]);
      assert.equal(t.os.execs.length, 1);
      const handover = t.handedOver();
      assert.equal(handover.reloaded, true);
      assert.equal(handover.early, undefined);
      assert.equal(handover.reloadPending, false);
      // the session that asked goes on in the next image
      assert.deepEqual(t.w.handedSessions, { requesting: undefined, answered: who.session });
      t.newImageAfter();
      assert.equal(t.w.reloader.step, "idle");
      assert.equal(who.replies.length, 1);
    }
  });

  test("the re-exec owed: the session that asked for the last reload crosses it only if it can as it is", async () => {
    const t = world();
    t.w.current = { ...t.w.current, configSource: {} };
    const who = requester();
    (who.session as { open?: boolean }).open = false; // closed, busy or with output pending
    t.w.reloader.request("reload from the master CLI", false, who);
    await settle();
    t.accept();
    await settle();
    await t.quiet();
    assert.equal(t.os.execs.length, 1);
    assert.deepEqual(t.w.handedSessions, { requesting: undefined, answered: undefined });
  });

  test("reloads loaded before the re-exec: a burst is served by this image, which re-executes once, after it", async () => {
    const t = world();
    t.w.current = { ...t.w.current, configSource: {} };
    for (let i = 1; i <= 3; i++) {
      t.w.reloader.request("SIGUSR2");
      await settle();
      t.accept();
      await settle();
      // accept() let 100 ms pass since the reload ended
      t.sys.advance(REEXEC_QUIET_MS - 150);
      await settle();
      assert.equal(t.state.reloads, i);
    }
    assert.deepEqual(t.os.execs, []);
    await t.quiet();
    assert.equal(t.os.execs.length, 1);
  });

  test("a reload loaded before the re-exec: a failed load fails as always; the re-exec owed by an earlier one still follows", async () => {
    const t = world();
    t.w.current = { ...t.w.current, configSource: {} };
    const who = requester();
    t.w.reloader.request("SIGUSR2", false, who);
    await settle();
    const [p] = t.generation(1);
    await t.exits(p!.pid, 3);
    oldGenerationCurrent(t);
    assert.match(who.replies[0]!, /^Success=0\n/);
    await t.quiet();
    assert.equal(t.os.execs.length, 0, "nothing owed");
    // one good, then one failed: the re-exec the good one owes comes after both
    t.w.reloader.request("SIGUSR2");
    await settle();
    t.accept();
    await settle();
    t.w.reloader.request("SIGUSR2");
    await settle();
    const [q] = t.generation(2);
    await t.exits(q!.pid, 3);
    assert.deepEqual(t.os.execs, []);
    await t.quiet();
    assert.equal(t.os.execs.length, 1);
  });

  test("the re-exec owed: a signal or a CLI reload during its hold is the next image's reload; a CLI reload in its exec is refused", async () => {
    const t = world();
    await t.reloadedFirst();
    const cli = requester();
    const late = requester();
    t.ports.hold = async () => {
      t.calls.push("hold");
      t.w.reloader.request("SIGHUP");
      t.w.reloader.request("reload from the master CLI", false, cli);
    };
    const handOver = t.ports.handOver;
    t.ports.handOver = (parts, session) => {
      // a CLI reload read while the sessions that end are drained
      t.w.reloader.request("reload from the master CLI", false, late);
      return handOver(parts, session);
    };
    await t.quiet();
    assert.ok(t.lines.includes("NOTICE SIGHUP received while the master re-executes: the next image reloads"), t.lines.join("\n"));
    assert.deepEqual(late.replies, [ANOTHER_RELOAD]);
    assert.deepEqual(cli.replies, []);
    assert.equal(t.handedOver().reloadPending, true);
    t.newImageAfter(cli);
    assert.equal(t.w.reloader.step, "load");
    t.accept();
    await settle();
    assert.equal(t.state.reloads, 2);
    assert.match(cli.replies[0]!, /^Success=1\n/);
  });

  test("the re-exec owed: not when the executable changed since (the next reload checks it), nor when a stop waits at the hold", async () => {
    const t = world();
    await t.reloadedFirst();
    t.os.identity = { ...t.os.identity, ino: 99 };
    await t.quiet();
    assert.deepEqual(t.os.execs, []);
    assert.ok(t.lines.includes("NOTICE /usr/bin/steward changed since reload 1: the master re-executes into it at the next reload, after its preflight"));

    const u = world();
    u.w.current = { ...u.w.current, configSource: {} };
    u.w.reloader.request("SIGUSR2");
    await settle();
    u.accept();
    await settle();
    u.w.stopWaiting = true;
    await u.quiet();
    assert.deepEqual(u.os.execs, []);
    assert.equal(u.calls.at(-1), "release");
    assert.equal(u.w.reloader.step, "idle");
    assert.deepEqual(u.generation(1).map((p) => p.role), ["current", "current"]);
  });

  test("the re-exec owed: an execve that fails leaves this image supervising, no failed reload, no retry", async () => {
    const t = world();
    t.w.current = { ...t.w.current, configSource: {} };
    t.os.failExec = "ENOEXEC";
    t.w.reloader.request("SIGUSR2");
    await settle();
    t.accept();
    await settle();
    await t.quiet();
    assert.deepEqual(t.calls.slice(-4), ["keepAcrossExec true", "keepAcrossExec false", "release", "handOverFailed"]);
    assert.ok(t.lines.some((l) => /^WARNING The master did not re-execute after reload 1 \(exec of \/usr\/bin\/steward failed/.test(l)), t.lines.join("\n"));
    assert.equal(t.state.failedReloads, 0);
    assert.equal(t.w.reloader.step, "idle");
    const calls = t.calls.length;
    await t.quiet();
    assert.equal(t.calls.length, calls, "no retry");
  });

  test("with a probation, an unchanged binary and configuration still re-execute first (the probation never crosses an exec)", async () => {
    const t = world({ probation: 10_000 });
    t.w.current = { ...t.w.current, configSource: {} };
    t.w.reloader.request("SIGUSR2");
    await settle();
    assert.ok(t.lines.includes("NOTICE Same executable and configuration file as the running generation's: no preflight"));
    assert.deepEqual(t.calls, ["began", "beginLoad", "reloading", "startEarly", "hold", "handOver", "keepAcrossExec true"]);
    assert.equal(t.handedOver().reloaded, undefined);
  });

  test("the preflight runs when the binary or the configuration file changed, or its identity is unknown", async () => {
    const file = "/etc/steward.toml";
    const identity = { dev: 1, ino: 40, size: 300, mtimeMs: 7, ctimeMs: 8 };
    const cases: [string, (t: ReturnType<typeof world>) => void][] = [
      ["file changed", (t) => t.os.identities.set(file, { ...identity, mtimeMs: 9 })],
      ["file replaced", (t) => t.os.identities.set(file, { ...identity, ino: 41 })],
      ["not a regular file when read", (t) => (t.w.current = { ...t.w.current, configSource: { file } })],
      ["options from a steward without configSource", (t) => (t.w.current = { ...t.w.current, configSource: undefined })],
      ["binary replaced", (t) => (t.os.identity = { ...t.os.identity, ino: 77 })],
    ];
    for (const [what, change] of cases) {
      const t = world();
      t.os.identities.set(file, { ...identity });
      t.w.current = { ...t.w.current, configSource: { file, identity } };
      change(t);
      t.w.reloader.request("SIGUSR2");
      await settle();
      assert.equal(t.os.spawned.filter((s) => s.req.argv.includes("__preflight")).length, 1, what);
      assert.equal(t.w.reloader.step, "preflight", what);
      assert.deepEqual(t.generation(1), [], `${what}: nothing starts before the preflight answers`);
    }
  });

  test("a stop before a reload: refused, nothing starts", () => {
    const t = world();
    t.w.sup.stop(0, SIGTERM);
    const who = requester();
    t.w.reloader.request("reload from the master CLI", false, who);
    t.w.reloader.request("SIGHUP");
    assert.deepEqual(who.replies, [MASTER_STOPPING]);
    assert.deepEqual(t.os.spawned, []);
    assert.equal(t.w.reloader.step, "idle");
  });

  test("a stop during the preflight: its process group is killed, nothing execs", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    const pid = t.os.spawned[0]!.pid;
    t.w.sup.stop(0, SIGTERM);
    assert.ok(t.os.kills.includes(`killGroup ${pid}`));
    await t.preflightEnds({ signal: SIGKILL, proof: false });
    assert.equal(t.w.reloader.step, "idle");
    assert.deepEqual(t.os.execs, []);
    assert.ok(!t.calls.includes("hold"));
  });

  test("a stop signal waiting at the hold wins: the signals flow again, nothing execs, the stop ends the early workers", async () => {
    const t = world();
    t.w.stopWaiting = true;
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds({ opts: t.w.current });
    assert.deepEqual(t.calls.slice(t.calls.indexOf("startEarly")), ["startEarly", "hold", "release"]);
    assert.deepEqual(t.os.execs, []);
    assert.equal(t.w.reloader.step, "idle");
    t.w.sup.stop(0, SIGTERM); // the stop signal that was waiting, delivered once released
    const early = t.generation(1);
    assert.equal(early.length, 2);
    for (const p of early) assert.deepEqual(t.sys.processes.get(p.pid)!.signals, [SIGTERM]);
  });

  test("a stop that arrived before the hold: the reload gives way", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    // the stop comes in while the preflight's answer is being read
    const ends = t.preflightEnds({ opts: t.w.current });
    t.w.sup.stop(0, SIGTERM);
    await ends;
    assert.deepEqual(t.calls.slice(t.calls.indexOf("hold")), ["hold", "release"]);
    assert.deepEqual(t.os.execs, []);
    assert.equal(t.w.reloader.step, "idle");
  });

  test("a stop during the new image's load: the load is dropped, every worker told to stop, the master exits; no reply of success", async () => {
    const t = world();
    t.w.reloader.request("SIGHUP");
    await t.preflightEnds();
    const who = requester();
    t.newImage(t.w.current, undefined, who);
    assert.equal(t.generation(1).length, 2);
    t.w.sup.stop(0, SIGTERM);
    await settle();
    for (const p of [...t.generation(0), ...t.generation(1)]) assert.deepEqual(t.sys.processes.get(p.pid)!.signals, [SIGTERM]);
    assert.equal(t.sys.exitCode, 0);
    assert.equal(t.state.reloads, 0);
    assert.equal(t.state.failedReloads, 0);
    assert.ok(!who.replies.some((r) => r.startsWith("Success=1")));
    assert.deepEqual(t.calls.filter((c) => c.startsWith("reloadFailed")), []);
  });
});
