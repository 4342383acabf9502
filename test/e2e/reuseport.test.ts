/**
 * share = "reuseport" (REFERENCE §3, §5.2): Bun.serve and Deno.serve workers bind PORT/HOST
 * themselves with SO_REUSEPORT (test/fixtures/reuseport-server.mjs), and so does
 * steward/worker's serve() under Deno (test/fixtures/fetch-worker.mjs); the master reserves
 * the address. 2 workers serve, survive 5 reloads with zero failed requests from steady
 * client loops (a new connection per request) when tcp_migrate_req is on (Deno.serve called
 * directly too: the master steers new connections away from the old workers before their
 * stop signal, listeners/steer.ts, so its shutdown() finds nothing unread), and stop
 * cleanly; a worker listening on another port fails readiness with one line naming it;
 * nobody else (a second steward, another program, another user) can take the address.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { describe, test } from "node:test";
import { e2e, expectReloaded, FIXTURES, MODES, NODE, reachPid, request, ROOT, sleep, toml, waitReaped } from "./_harness.ts";
import { PYTHON, statusField } from "./_extra.ts";
import { replies, socat } from "./_mcli.ts";

const SERVER = join(FIXTURES, "reuseport-server.mjs");
/** a worker that binds nothing and stays */
const IDLE = [NODE, "-e", "setInterval(() => {}, 1 << 30)"];
/** concurrent client loops in the reload test */
const CLIENTS = 4;
const FETCH_WORKER = join(FIXTURES, "fetch-worker.mjs");
// Deno.serve's and Deno.listen's reusePort are behind --unstable-net (Deno 2.9)
const DENO = [join(ROOT, "node_modules", ".bin", "deno"), "run", "-A", "--unstable-net"];
const RUNTIMES: Record<string, string[]> = {
  bun: [join(ROOT, "node_modules", ".bin", "bun"), SERVER],
  deno: [...DENO, SERVER],
};
/**
 * The servers the reload test runs: each runtime's own server as a user calls it, and
 * steward/worker's serve() under Deno (its own accept loop, src/worker-lib/deno-serve.ts).
 * Each promises zero failed requests where tcp_migrate_req is on. `spaced`: each reload
 * waits until the previous one's old workers are gone: Deno.serve is loss-free through the
 * master's steering (listeners/steer.ts), which a reload started while old workers are still
 * stopping does not get (the test of back-to-back reloads is the other servers').
 */
const SERVERS: Array<{ name: string; runtime: string; command: string[]; spaced: boolean }> = [
  { name: "Bun.serve", runtime: "bun", command: RUNTIMES.bun!, spaced: false },
  { name: "Deno.serve", runtime: "deno", command: RUNTIMES.deno!, spaced: true },
  { name: "steward/worker serve() on Deno", runtime: "deno", command: [...DENO, FETCH_WORKER], spaced: false },
];

function reuseportConfig(command: string[], workers: number, env: Record<string, string> = {}, global: Record<string, string | number> = {}, admin?: string): string {
  return toml({
    global: { workers, "ready-timeout": "20s", ...global },
    listen: [{ name: "http", bind: "tcp://127.0.0.1:0", share: "reuseport" }],
    worker: { command, env },
  }) + (admin ? `\n[[master-cli]]\nbind = "${admin}"\n` : "");
}

/** Tries to bind (and listen on) 127.0.0.1:port from a python child; returns "ok" or the errno name. */
function tryBind(port: number, options: { reuseAddr: boolean; reusePort: boolean; uid?: number }): string {
  const code = [
    "import socket, os, sys, errno",
    options.uid !== undefined ? `os.setgid(${options.uid}); os.setuid(${options.uid})` : "",
    "s = socket.socket()",
    options.reuseAddr ? "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)" : "",
    options.reusePort ? "s.setsockopt(socket.SOL_SOCKET, 15, 1)" : "",
    "try:",
    `    s.bind(('127.0.0.1', ${port})); s.listen(); print('ok')`,
    "except OSError as e:",
    "    print(errno.errorcode[e.errno])",
  ].filter(Boolean).join("\n");
  const r = spawnSync(PYTHON, ["-c", code], { encoding: "utf8", timeout: 10_000 });
  return (r.stdout || r.stderr).trim();
}

for (const mode of MODES) {
  describe(`reuse-port listeners [${mode}]`, () => {
    for (const { name, runtime, command, spaced } of SERVERS) {
      test(`${name}: 2 workers serve, survive 5 ${spaced ? "spaced " : ""}reloads with zero failed requests, stop cleanly`, e2e(mode, async (bed) => {
        const admin = bed.path("admin.sock");
        const steward = bed.startWith(reuseportConfig(command, 2, {}, {}, admin));
        const http = await steward.listener("http");
        await steward.ready();
        const migrate = await steward.waitForLine(/Reuse-port listeners: tcp_migrate_req (on|off)/);
        const [shown] = replies((await socat(admin, "show listeners\n")).stdout);
        assert.equal(shown!.trim(), `- http ${http.url} tcp reuseport tcp_migrate_req=${migrate.match[1]}`);
        // workers holding a socket on the address are not flagged [not listening]
        const [procJson] = replies((await socat(admin, "show proc json\n")).stdout);
        assert.deepEqual((JSON.parse(procJson!) as { workers: Array<{ listening?: boolean }> }).workers.map((w) => w.listening), [true, true], procJson ?? "");
        const port = Number(/:(\d+)$/.exec(http.url)![1]);
        const first = JSON.parse((await request(http.url)).body) as { runtime: string; env: Record<string, string> };
        assert.match(first.runtime, new RegExp(`^${runtime} `));
        assert.equal(first.env.PORT, String(port));
        assert.equal(first.env.HOST, "127.0.0.1");
        assert.equal(first.env.STEWARD_LISTEN_HTTP_PORT, String(port));
        assert.equal(first.env.LISTEN_FDS, "0", "a reuse-port listener is not passed as a descriptor");

        const failures: string[] = [];
        const generations = new Set<string>();
        let answered = 0;
        let stop = false;
        // CLIENTS steady loops, each a new connection per request: a connection of one
        // of them is in the handshake or just accepted whenever a worker is stopped
        const client = async (loop: number) => {
          const deadline = Date.now() + 120_000;
          for (let n = 0; !stop && Date.now() < deadline; n++) {
            try {
              const reply = await request(http.url, "/", 5_000);
              if (reply.status !== 200) throw new Error(`status ${reply.status}`);
              generations.add((JSON.parse(reply.body) as { env: Record<string, string> }).env.STEWARD_GENERATION!);
              answered++;
            } catch (error) {
              failures.push(`loop ${loop} request ${n}: ${(error as Error).message}`);
            }
          }
        };
        const clients = Array.from({ length: CLIENTS }, (_, loop) => client(loop));
        try {
          await sleep(200);
          for (let reload = 1; reload <= 5; reload++) {
            await expectReloaded(steward);
            if (spaced) await waitReaped(steward.pid, steward.started().filter((w) => w.generation !== reload).map((w) => w.pid), 20_000);
          }
          await waitReaped(steward.pid, steward.started().filter((w) => w.generation !== 5).map((w) => w.pid), 20_000);
          await sleep(200);
        } finally {
          stop = true;
          await Promise.all(clients);
        }
        // Without tcp_migrate_req a closing listener resets what is queued on it: no promise then.
        if (migrate.match[1] === "on") {
          assert.deepEqual(failures, [], `${failures.length} of ${answered + failures.length} requests failed${steward.log()}`);
        }
        assert.ok(answered >= 20, `the client loops made only ${answered} requests`);
        assert.ok(generations.has("0") && generations.has("5"), `answers from generations ${[...generations].join(", ")}`);

        process.kill(steward.pid, "SIGTERM");
        const exit = await steward.waitForExit(20_000);
        assert.equal(exit.code, 0, steward.log());
        assert.equal(steward.matching(/Current worker \d+ \(\d+\) exited with code 0/).length, 2, steward.log());
      }));
    }

    test('user = "nobody": the reservation is the workers\' (the kernel admits only their uid), they join it, serve and reload', e2e(mode, async (bed) => {
      if (process.getuid?.() !== 0) return; // only root runs workers as another user
      chmodSync(bed.dir, 0o711);
      const steward = bed.startWith(reuseportConfig(RUNTIMES.bun!, 1, {}, { user: "nobody" }));
      const http = await steward.listener("http");
      await steward.ready(30_000);
      const [worker] = await steward.waitForWorkers(1);
      assert.equal(statusField(worker!.pid, "Uid")?.split(/\s+/)[1], "65534", "the worker runs as nobody");
      assert.equal((JSON.parse((await request(http.url)).body) as { pid: number }).pid, worker!.pid);
      const outcome = await expectReloaded(steward);
      assert.equal((await reachPid(http.url, outcome.started[0]!.pid)).pid, outcome.started[0]!.pid);
      // and root, the master's own user, is not admitted to the workers' group
      assert.equal(tryBind(Number(/:(\d+)$/.exec(http.url)![1]), { reuseAddr: true, reusePort: true }), "EADDRINUSE");
    }));

    test("a worker listening on another port fails readiness with one line naming it", e2e(mode, async (bed) => {
      const steward = bed.startWith(reuseportConfig(RUNTIMES.bun!, 1, { WRONG_PORT: "1" }, { "ready-timeout": "3s" }));
      const http = await steward.listener("http");
      const port = /:(\d+)$/.exec(http.url)![1];
      const found = await steward.waitForLine(/Loading failure: worker 1 \(\d+\) not ready within 3s: (.*)$/, 30_000);
      assert.match(found.match[1]!, new RegExp(`^listening on 127\\.0\\.0\\.1:\\d+, not on 127\\.0\\.0\\.1:${port} \\(share = "reuseport"\\)$`));
      assert.notEqual((await steward.waitForExit(20_000)).code, 0);
    }));

    test("nobody else takes the reserved address: a second steward, a program without SO_REUSEPORT, another user", e2e(mode, async (bed) => {
      // workers that bind nothing: only the master's reservation holds the address
      const steward = bed.startWith(reuseportConfig(IDLE, 1, {}, { ready: "spawn" }));
      const http = await steward.listener("http");
      await steward.ready();
      const port = Number(/:(\d+)$/.exec(http.url)![1]);
      assert.equal(tryBind(port, { reuseAddr: true, reusePort: false }), "EADDRINUSE", "same user, no SO_REUSEPORT");
      if (process.getuid?.() === 0) {
        assert.equal(tryBind(port, { reuseAddr: true, reusePort: true, uid: 65534 }), "EADDRINUSE", "another user, with SO_REUSEADDR and SO_REUSEPORT");
        assert.equal(tryBind(port, { reuseAddr: true, reusePort: false, uid: 65534 }), "EADDRINUSE", "another user, SO_REUSEADDR");
      }
      // the reservation takes no connection: nothing listens yet
      await assert.rejects(request(http.url, "/", 2_000), /ECONNREFUSED/);
      const second = bed.startWith(toml({
        global: { workers: 1, ready: "spawn" },
        listen: [{ name: "http", bind: `tcp://127.0.0.1:${port}`, share: "reuseport" }],
        worker: { command: IDLE },
      }), "second.toml");
      const exit = await second.waitForExit(20_000);
      assert.notEqual(exit.code, 0);
      await second.waitForLine(new RegExp(`cannot bind listener 'http' \\(tcp://127\\.0\\.0\\.1:${port}\\): .*Address already in use`));
      // and a worker of the same user with SO_REUSEPORT does join (that is the mode)
      assert.equal(tryBind(port, { reuseAddr: true, reusePort: true }), "ok");
    }));
  });
}
