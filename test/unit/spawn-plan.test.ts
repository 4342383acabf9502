// The children's plans as pure functions (src/workers/spawn-plan.ts): from the
// configuration, the listeners bound, the master's environment, working directory and
// sockets, with nothing bound, created or read here.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Config, GlobalConfig, ListenerConfig } from "../../src/config/types.ts";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import type { BoundListener } from "../../src/listeners/registry.ts";
import { cliSocketPath, identityProblem, PlanError, programPlan, resolveWorker, workerPlan, type PlanContext } from "../../src/workers/spawn-plan.ts";

function listener(name: string, port: number, share?: "reuseport"): ListenerConfig {
  return {
    name,
    bind: `tcp://127.0.0.1:${port}`,
    address: { kind: "tcp", host: "127.0.0.1", port, family: 4 },
    backlog: 511,
    ...(share ? { share } : {}),
  };
}

function config(global: Partial<GlobalConfig> = {}, listen = [listener("web", 8080)]): Config {
  return {
    global: { ...DEFAULT_GLOBAL, workers: 2, ...global },
    listen,
    worker: { command: ["/bin/sh", "-c", "serve --fd {fd:web}"], env: { APP: "1" } },
    program: [{ name: "cron", command: ["/bin/true"], env: { EVERY: "60" }, startOnReload: false, onFailure: "restart" }],
    masterCli: [],
  };
}

function bound(c: Config): BoundListener[] {
  return c.listen.map((l, i) => ({ key: l.bind, name: l.name, fd: 10 + i, config: l, url: l.bind, inode: String(100 + i), ownsFile: false }));
}

const ctx: PlanContext = {
  env: { PATH: "/usr/bin:/bin", HOME: "/home/a", STEWARD_HANDOVER: "/run/x", NOTIFY_SOCKET: "/run/systemd/notify", LISTEN_FDS: "9" },
  cwd: "/srv",
  masterPid: 77,
  sockets: { notifyPath: "/run/steward-77/notify.sock", cliDir: "/run/steward-77" },
};

describe("spawn plans (workers/spawn-plan.ts)", () => {
  test("a worker gets its listeners at 3.. and what steward gives every worker, over the master's environment", () => {
    const c = config();
    const plan = workerPlan(c, resolveWorker(c, ctx), bound(c), ctx);
    const spec = plan(2, 5);
    assert.equal(spec.label, "worker 2");
    assert.equal(spec.path, "/bin/sh");
    assert.deepEqual(spec.argv, ["/bin/sh", "-c", "serve --fd 3"]);
    assert.deepEqual(spec.fds, [10]);
    assert.equal(spec.env.APP, "1");
    assert.equal(spec.env.HOME, "/home/a");
    assert.equal(spec.env.STEWARD_HANDOVER, undefined, "the master's own variables stay with it");
    assert.equal(spec.env.LISTEN_FDS, "1");
    assert.equal(spec.env.LISTEN_FDNAMES, "web");
    assert.equal(spec.env.NOTIFY_SOCKET, "/run/steward-77/notify.sock");
    assert.equal(spec.env.STEWARD_WORKER_ID, "2");
    assert.equal(spec.env.STEWARD_GENERATION, "5");
    assert.equal(spec.env.STEWARD_MASTER_PID, "77");
    assert.equal(spec.env.STEWARD_CLI_SOCKET, "/run/steward-77/worker-g5-2.sock");
    assert.equal(spec.uid, undefined);
  });

  test("a reuse-port listener is not passed down: the worker gets its address", () => {
    const c = config({}, [listener("web", 8080), listener("fast", 9090, "reuseport")]);
    const spec = workerPlan(c, resolveWorker(c, ctx), bound(c), ctx)(1, 0);
    assert.deepEqual(spec.fds, [10]);
    assert.equal(spec.env.LISTEN_FDS, "1");
    assert.equal(spec.env.STEWARD_REUSEPORT_NAMES, "fast");
    assert.equal(spec.env.PORT, "9090");
  });

  test("a program: the master's environment, its own, the notify and CLI sockets; no listener", () => {
    const c = config({ uid: 1000, gid: 1000 });
    const plan = programPlan(c, ctx);
    const spec = plan(c.program[0]!);
    assert.equal(spec.label, "program 'cron'");
    assert.deepEqual(spec.fds, []);
    assert.equal(spec.env.EVERY, "60");
    assert.equal(spec.env.LISTEN_FDS, undefined);
    assert.equal(spec.env.NOTIFY_SOCKET, "/run/steward-77/notify.sock");
    assert.equal(spec.env.STEWARD_CLI_SOCKET, "/run/steward-77/program-cron.sock");
    assert.equal(spec.uid, 1000);
    assert.equal(spec.gid, 1000);
  });

  test("a command that cannot run is a PlanError naming the key", () => {
    const c = config();
    c.worker.command = ["no-such-command-here"];
    assert.throws(() => resolveWorker(c, ctx), (e: Error) => e instanceof PlanError && /^worker\.command: /.test(e.message));
    c.program[0]!.command = ["/no/such/file"];
    assert.throws(() => programPlan(c, ctx), (e: Error) => e instanceof PlanError && /^program 'cron': command: /.test(e.message));
  });

  test("identity: only root may switch; the same uid needs nothing", () => {
    assert.equal(identityProblem(config(), 1000), undefined);
    assert.equal(identityProblem(config({ uid: 33, user: "www" }), 0), undefined);
    assert.equal(identityProblem(config({ uid: 1000, user: "me" }), 1000), undefined);
    assert.equal(
      identityProblem(config({ uid: 33, user: "www", gid: 33, group: "www" }), 1000),
      "global: cannot run workers as user 'www' and group 'www': the master runs as uid 1000 and only root can switch identity",
    );
  });

  test("CLI socket paths", () => {
    assert.equal(cliSocketPath("/run/d", { kind: "worker", generation: 3, id: 1 }), "/run/d/worker-g3-1.sock");
    assert.equal(cliSocketPath("/run/d", { kind: "program", name: "cron" }), "/run/d/program-cron.sock");
  });
});
