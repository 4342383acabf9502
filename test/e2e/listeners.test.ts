/**
 * Listener kinds (REFERENCE §5.1): unix sockets (mode, a stale socket file replaced), IPv6
 * loopback, and several listeners handed over in configuration order.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { describe, test } from "node:test";
import { ask, e2e, fixture, MODES, request, toml, which } from "./_harness.ts";

for (const mode of MODES) {
  describe(`listeners [${mode}]`, () => {
    test("unix listener: socket file created with the configured mode, served", e2e(mode, async (bed) => {
      const path = bed.path("app.sock");
      const steward = bed.startWith(toml({
        global: { "ready-timeout": "10s" },
        listen: [{ name: "sock", bind: `unix://${path}`, mode: "660" }],
        worker: { command: fixture("http-worker.cjs") },
      }));
      const sock = await steward.listener("sock");
      assert.equal(sock.url, `unix://${path}`);
      await steward.ready();
      const stat = statSync(path);
      assert.ok(stat.isSocket(), `${path} is a socket`);
      assert.equal((stat.mode & 0o777).toString(8), "660", `mode of ${path}`);
      const report = await ask(sock.url);
      assert.equal(report.listener, "sock");
      assert.equal(report.env.LISTEN_FDNAMES, "sock");
    }));

    test("unix listener: a stale socket file is replaced", e2e(mode, async (bed) => {
      const path = bed.path("stale.sock");
      // a socket file nobody listens on any more, as a crashed server leaves it
      execFileSync(which("python3"), ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]);
      assert.ok(statSync(path).isSocket());
      await assert.rejects(request(`unix://${path}`), /ECONNREFUSED/, "nobody listens on the stale socket");

      const steward = bed.startWith(toml({
        global: { "ready-timeout": "10s" },
        listen: [{ name: "sock", bind: `unix://${path}` }],
        worker: { command: fixture("http-worker.cjs") },
      }));
      await steward.ready();
      assert.ok(statSync(path).isSocket());
      // (inode numbers are reused at once, so only an answer proves the file was replaced)
      assert.equal((await ask(`unix://${path}`)).listener, "sock");
    }));

    test("IPv6 loopback tcp://[::1]:0", e2e(mode, async (bed) => {
      const steward = bed.startWith(toml({
        global: { "ready-timeout": "10s" },
        listen: [{ name: "v6", bind: "tcp://[::1]:0" }],
        worker: { command: fixture("http-worker.cjs") },
      }));
      const v6 = await steward.listener("v6");
      assert.match(v6.url, /^tcp:\/\/\[::1\]:[1-9]\d*$/);
      await steward.ready();
      assert.equal((await ask(v6.url)).listener, "v6");
    }));

    test("three listeners (tcp, unix, IPv6) reach the worker as fd 3, 4, 5 in configuration order", e2e(mode, async (bed) => {
      const steward = bed.startWith(toml({
        global: { workers: 2, "ready-timeout": "10s" },
        listen: [
          { name: "web", bind: "tcp://127.0.0.1:0" },
          { name: "local", bind: `unix://${bed.path("local.sock")}` },
          { name: "six", bind: "tcp://[::1]:0" },
        ],
        worker: { command: fixture("http-worker.cjs") },
      }));
      const listeners = [await steward.listener("web"), await steward.listener("local"), await steward.listener("six")];
      await steward.ready();
      for (const listener of listeners) {
        const report = await ask(listener.url);
        assert.equal(report.listener, listener.name, `a request to ${listener.url} arrives on the fd named '${listener.name}'`);
        assert.equal(report.env.LISTEN_FDS, "3");
        assert.equal(report.env.LISTEN_FDNAMES, "web:local:six");
      }
    }));
  });
}
