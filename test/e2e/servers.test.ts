/**
 * Real servers, unchanged (issue 10): gunicorn (sync and gthread, pre-fork), uvicorn
 * (`--fd {fd:http}`), HAProxy as a worker (`-db` and master-worker `-W`, `bind fd@`),
 * nginx (through its NGINX variable), Perl's Server::Starter (SERVER_STARTER_PORT), Node,
 * Deno, a Rust server on its inherited descriptor, and the
 * real `systemd-notify`. Each starts behind steward with its usual readiness, answers
 * HTTP, survives 3 reloads with zero failed requests from a steady client loop, and stops
 * with exit 0 and nothing left running. Debian packages: gunicorn, python3-uvicorn,
 * haproxy, nginx-light, libserver-starter-perl, systemd; rustc on PATH.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { childrenOf, cliRequest, descendantsOf, PYTHON } from "./_extra.ts";
import {
  e2e,
  FIXTURES,
  fixture,
  fdTable,
  freePort,
  isAlive,
  killQuietly,
  MODES,
  request,
  ROOT,
  sleep,
  type Steward,
  type TestBed,
  toml,
  waitGone,
  waitUntil,
  which,
} from "./_harness.ts";

interface Server {
  name: string;
  /** the configuration; `port` is a free port when the server's own file must name it, else 0 */
  config(bed: TestBed, port: number): string;
  fixedPort?: boolean;
  /**
   * Failures that are the server's own drain behaviour, not steward's (each with the
   * upstream issue); at most MAX_TOLERATED per test, every other failure fails the test.
   */
  tolerate?: RegExp;
  /** what its answer body holds (given the listener's port) */
  body: RegExp | ((port: number) => RegExp);
}

const WSGI = `def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from gunicorn\\n"]
`;
const ASGI = `async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello from uvicorn\\n"})
`;
const HAPROXY_CFG = `global
    log stderr format short local0 warning
defaults
    mode http
    timeout client 10s
    timeout connect 5s
    timeout server 10s
frontend web
    bind "fd@\${HTTP_FD}"
    http-request return status 200 content-type text/plain string "hello from haproxy"
`;
const nginxConf = (dir: string, port: number) => `daemon off;
worker_processes 2;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    server {
        listen 127.0.0.1:${port};
        location / { return 200 "hello from nginx\\n"; }
    }
}
`;

const DENO = join(ROOT, "node_modules", ".bin", "deno");

const MAX_TOLERATED = 3;

/** One [[listen]] named http, on `port` (0: any). */
const listen = (port: number) => [{ name: "http", bind: `tcp://127.0.0.1:${port}` }];

/** rustc output, built once for the whole file, removed at the end */
let rustDir: string | undefined;
function rustServer(): string {
  rustDir ??= mkdtempSync(join(tmpdir(), "stw-rust-"));
  const out = join(rustDir, "fd-server");
  if (!existsSync(out)) execFileSync(which("rustc"), ["-o", out, join(FIXTURES, "fd-server.rs")], { stdio: "inherit" });
  return out;
}
after(() => {
  if (rustDir) rmSync(rustDir, { recursive: true, force: true });
});

/**
 * gunicorn 20.1's arbiter may fork a worker just as SIGTERM arrives; that worker misses
 * the signal and the arbiter waits `--graceful-timeout` (30 s by default) before it
 * SIGKILLs it and exits 0. The tests bound that wait at 5 s.
 */
const gunicorn = (worker: string[]) => (bed: TestBed, port: number) => {
  bed.write("wsgi.py", WSGI);
  return toml({
    listen: listen(port),
    worker: { command: ["/usr/bin/gunicorn", "--chdir", bed.dir, "--workers", "2", "--graceful-timeout", "5", ...worker, "wsgi:app"] },
  });
};

const haproxy = (flags: string[]) => (bed: TestBed, port: number) => {
  const cfg = bed.write("haproxy.cfg", HAPROXY_CFG);
  return toml({
    // SIGUSR1 is HAProxy's soft stop: finish what is in flight, then exit 0
    global: { "stop-signal": "SIGUSR1" },
    listen: listen(port),
    worker: { command: ["/usr/sbin/haproxy", ...flags, "-f", cfg], env: { HTTP_FD: "{fd:http}" } },
  });
};

const SERVERS: Server[] = [
  { name: "gunicorn (sync, --workers 2)", config: gunicorn([]), body: /hello from gunicorn/ },
  { name: "gunicorn (gthread, --workers 2 --threads 4)", config: gunicorn(["-k", "gthread", "--threads", "4"]), body: /hello from gunicorn/ },
  {
    name: "uvicorn --fd {fd:http}",
    config: (bed, port) => {
      bed.write("asgi.py", ASGI);
      return toml({
        listen: listen(port),
        worker: { command: ["/usr/bin/python3", "-m", "uvicorn", "--no-access-log", "--fd", "{fd:http}", "--app-dir", bed.dir, "asgi:app"] },
      });
    },
    body: /hello from uvicorn/,
    // uvicorn's shutdown closes a connection it accepted but has not read a request from
    // yet (encode/uvicorn#669): an empty reply, or a reset when the request had arrived
    // (closing a socket with unread data sends RST), from a worker that took the connection.
    tolerate: /not an HTTP answer: ""$|read ECONNRESET$/,
  },
  { name: "haproxy -db (bind fd@${HTTP_FD})", config: haproxy(["-db"]), body: /hello from haproxy/ },
  { name: "haproxy -W -db (master-worker)", config: haproxy(["-W", "-db"]), body: /hello from haproxy/ },
  {
    name: "nginx (socket-env nginx)",
    fixedPort: true,
    config: (bed, port) => {
      const conf = bed.write("nginx.conf", nginxConf(bed.dir, port));
      return toml({
        // SIGQUIT is nginx's graceful shutdown
        global: { "stop-signal": "SIGQUIT" },
        listen: listen(port),
        worker: { command: ["/usr/sbin/nginx", "-e", "stderr", "-p", bed.dir, "-c", conf], "socket-env": ["nginx"] },
      });
    },
    body: /hello from nginx/,
  },
  {
    name: "Node (node:http, listen({ fd: 3 }))",
    config: (_bed, port) => toml({ listen: listen(port), worker: { command: fixture("http-worker.cjs"), env: { DRAIN: "1" } } }),
    body: /"pid":\d+/,
  },
  {
    name: "Deno (node:http, listen({ fd: 3 }))",
    config: (_bed, port) =>
      toml({ listen: listen(port), worker: { command: [DENO, "run", "--allow-env", join(FIXTURES, "deno-http.ts")] } }),
    body: /hello from deno/,
  },
  {
    name: "Perl Server::Starter (socket-env server-starter)",
    fixedPort: true,
    config: (_bed, port) =>
      toml({
        listen: listen(port),
        worker: { command: ["/usr/bin/perl", join(FIXTURES, "server-starter.pl")], "socket-env": ["server-starter"] },
      }),
    // the key Server::Starter's own parser found: exactly the listener's host:port
    body: (port) => new RegExp(`^server-starter key=127\\.0\\.0\\.1:${port} fd=3$`, "m"),
  },
  {
    name: "Rust (std only, poll(2) on fd 3)",
    config: (_bed, port) => toml({ listen: listen(port), worker: { command: [rustServer()] } }),
    body: /"server":"rust"/,
  },
];

/**
 * Lines the master itself logged: HAProxy logs in the same layout (and `Loading success.`
 * too), so they are told apart by the PID in parentheses.
 */
const own = (steward: Steward, text: string) => new RegExp(`\\(${steward.pid}\\) : ${text}`);

/** SIGUSR2, then the master's own outcome line for that reload. */
async function reloadOnce(steward: Steward, expected: number): Promise<void> {
  const from = steward.lines.length;
  steward.signal("SIGUSR2");
  const { match } = await steward.waitForLine(own(steward, "(Loading success\\.|Reload failed: .*)"), 30_000, from);
  assert.equal(match[1], "Loading success.", steward.log());
  // before the outcome, or just after it when the master loaded the reload first (REFERENCE §5.3 step 2)
  await steward.waitForLine(own(steward, `Master re-executed \\(version [^)]+\\)(; reload ${expected} in progress| after reload ${expected})`), 5_000, from);
}

/** Every process below the master now (workers and what they forked). */
function tree(steward: Steward, into: Set<number>): void {
  for (const pid of descendantsOf(steward.pid)) into.add(pid);
}

/** Sequential GETs on fresh connections until `stop()`; failures are collected, never thrown. */
function clientLoop(url: string, body: RegExp) {
  const failures: string[] = [];
  let answered = 0;
  let stopped = false;
  const started = Date.now();
  const done = (async () => {
    for (let n = 0; !stopped && Date.now() - started < 120_000; n++) {
      const at = Date.now();
      try {
        const reply = await request(url, "/", 5_000);
        if (reply.status !== 200 || !body.test(reply.body)) throw new Error(`status ${reply.status}: ${reply.body.slice(0, 200)}`);
        answered++;
      } catch (error) {
        failures.push(`request ${n} at +${at - started}ms: ${(error as Error).message}`);
      }
    }
  })();
  return {
    failures,
    answered: () => answered,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

for (const mode of MODES) {
  describe(`real servers [${mode}]`, () => {
    for (const server of SERVERS) {
      test(`${server.name}: ready, serves, 3 reloads with zero failed requests, stops with 0 and nothing left`, e2e(mode, async (bed) => {
        const port = server.fixedPort ? await freePort() : 0;
        const seen = new Set<number>();
        bed.onCleanup(() => seen.forEach((pid) => killQuietly(pid)));
        const steward = bed.startWith(server.config(bed, port));
        await steward.waitForLine(own(steward, "Worker 1 \\(\\d+\\) is ready"), 20_000);
        await steward.waitForLine(own(steward, "Loading success\\."), 20_000);
        const http = await steward.listener("http");
        const body = typeof server.body === "function" ? server.body(Number(/:(\d+)$/.exec(http.url)![1])) : server.body;
        const first = await request(http.url);
        assert.equal(first.status, 200, steward.log());
        assert.match(first.body, body);
        tree(steward, seen);

        const client = clientLoop(http.url, body);
        try {
          await sleep(200);
          for (let reload = 1; reload <= 3; reload++) {
            await reloadOnce(steward, reload);
            tree(steward, seen);
          }
          await sleep(200);
        } finally {
          await client.stop();
        }
        const tolerated = client.failures.filter((f) => server.tolerate?.test(f));
        const failed = client.failures.filter((f) => !server.tolerate?.test(f));
        const total = client.answered() + client.failures.length;
        assert.deepEqual(failed, [], `${failed.length} of ${total} requests failed${steward.log()}`);
        assert.ok(tolerated.length <= MAX_TOLERATED, `${tolerated.length} of ${total} requests failed as ${server.tolerate}${steward.log()}`);
        assert.ok(client.answered() >= 10, `the client loop made only ${client.answered()} requests`);
        assert.ok(seen.size >= 2, `expected the servers' processes below the master, saw ${[...seen].join(", ")}`);

        tree(steward, seen);
        steward.signal("SIGTERM");
        await steward.expectExit(0, 30_000);
        await waitGone([...seen], 5_000);
      }));
    }

    test("systemd-notify --ready (the real one): exits 0 at once, 20 calls leave the master's descriptor count unchanged", e2e(mode, async (bed) => {
      const go = bed.path("go");
      const steward = bed.startWith(
        toml({ global: { ready: "notify", "ready-timeout": "10s" }, worker: { command: fixture("notify-calls.sh"), env: { GO: go } } }),
      );
      await steward.ready(20_000);
      const fds = () => readdirSync(`/proc/${steward.pid}/fd`).length;
      // BARRIER=1 carries the write end of a pipe: those are the descriptors a leak would keep
      const pipes = () => [...fdTable(steward.pid).values()].filter((t) => t.startsWith("pipe:")).length;
      const before = fds();
      const pipesBefore = pipes();
      writeFileSync(go, "");
      await steward.waitForLine(/notify-calls: 20 calls done/, 60_000);
      const calls = steward.matching(/notify-calls: call (\d+) exited 0 after (\d+)ms/);
      assert.equal(calls.length, 20, steward.log());
      for (const { match } of calls) assert.ok(Number(match[2]) < 1_000, `call ${match[1]} took ${match[2]}ms${steward.log()}`);
      // the descriptors arrive and are closed in the same SIGIO turn (the runtime may close
      // some of its own meanwhile, so: not more than before)
      await waitUntil(() => fds() <= before && pipes() <= pipesBefore, 2_000, () =>
        `master descriptors: ${before} before the calls, ${fds()} after (pipes: ${pipesBefore}, ${pipes()})`);
      steward.signal("SIGTERM");
      await steward.expectExit(0, 10_000);
    }));

    test("EXTEND_TIMEOUT_USEC= (systemd-notify) gives a worker more than ready-timeout", e2e(mode, async (bed) => {
      const steward = bed.startWith(toml({ global: { ready: "notify", "ready-timeout": "1s" }, worker: { command: fixture("notify-extend.sh") } }));
      await steward.waitForLine(/Worker 1 \(\d+\) extended its ready-timeout by 4s/, 15_000);
      await steward.ready(15_000);
      steward.signal("SIGTERM");
      await steward.expectExit(0, 10_000);
    }));

    test("MAINPID= names a process that speaks for the worker after it left the worker's tree", e2e(mode, async (bed) => {
      const steward = bed.startWith(toml({ global: { ready: "notify", "ready-timeout": "5s" }, worker: { command: fixture("notify-mainpid.sh") } }));
      const { match } = await steward.waitForLine(/notify-mainpid: MAINPID=(\d+)/, 15_000);
      const [worker] = steward.started();
      assert.ok(!descendantsOf(worker!.pid).includes(Number(match[1])), `${match[1]} is still below the worker`);
      await steward.ready(15_000);
      steward.signal("SIGTERM");
      await steward.expectExit(0, 10_000);
    }));

    test("show proc json lists a pre-fork worker's children (gunicorn --workers 2)", e2e(mode, async (bed) => {
      const cli = bed.path("admin.sock");
      const steward = bed.startWith(gunicorn([])(bed, 0), "steward.toml", { args: ["-S", cli] });
      await steward.waitForLine(own(steward, "Loading success\\."), 20_000);
      const [worker] = steward.started();
      // gunicorn forks its workers after it is up: wait until both are there
      await waitUntil(() => childrenOf(worker!.pid).length === 2, 10_000, () => `two gunicorn workers below ${worker!.pid}`);
      const proc = JSON.parse(await cliRequest(cli, "show proc json")) as { workers: Array<{ pid: number; children: number[] }> };
      assert.equal(proc.workers.length, 1);
      assert.equal(proc.workers[0]!.pid, worker!.pid);
      assert.deepEqual([...proc.workers[0]!.children].sort(), childrenOf(worker!.pid).sort());
      steward.signal("SIGTERM");
      await steward.expectExit(0, 30_000);
    }));

    test("a pre-fork server whose children accept on sockets of their own is not ready (exit 1 after ready-timeout)", e2e(mode, async (bed) => {
      const steward = bed.startWith(
        toml({ global: { "ready-timeout": "2s" }, listen: listen(0), worker: { command: [PYTHON, join(FIXTURES, "prefork-elsewhere.py")] } }),
      );
      const parent = await steward.waitForLine(/prefork-elsewhere parent (\d+) children (\d+) (\d+)/, 15_000);
      const pids = parent.match.slice(1).map(Number);
      await steward.waitForLine(/prefork-elsewhere child \d+ listening/, 5_000);
      await steward.expectExit(1, 15_000);
      const failure = steward.matching(/Loading failure: (.*)/);
      assert.equal(failure.length, 1, steward.log());
      assert.match(failure[0]!.match[1]!, new RegExp(`worker 1 \\(${pids[0]}\\) not ready within 2s: not accepting`), steward.log());
      await waitGone(pids, 5_000);
      assert.ok(pids.every((pid) => !isAlive(pid)));
    }));
  });
}
