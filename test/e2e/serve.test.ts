/**
 * Serving: N workers behind one port, what each worker receives (environment, descriptor
 * table), and the ways to configure it (TOML, YAML, JSON, inline, STEWARD_* variables).
 */
import assert from "node:assert/strict";
import { readFileSync, readlinkSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, collectPids, e2e, fixture, FIXTURES, MODES, serving, toml, type WorkerReport } from "./_harness.ts";

for (const mode of MODES) {
  describe(`serve [${mode}]`, () => {
    test("three workers answer through one port, each with its own PID and environment", e2e(mode, async (bed) => {
      const steward = bed.startWith(serving(fixture("http-worker.cjs"), { workers: 3 }));
      const http = await steward.listener("http");
      assert.match(http.url, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/, `the bound line shows the real port${steward.log()}`);
      const success = await steward.ready();
      assert.match(success.line.text, new RegExp(`\\(${steward.pid}\\)`), `log lines carry the master's PID ${steward.pid}`);

      const workers = await steward.waitForWorkers(3);
      assert.deepEqual(workers.map((w) => w.id).sort(), [1, 2, 3], `worker ids${steward.log()}`);
      assert.equal(new Set(workers.map((w) => w.pid)).size, 3, `three distinct worker PIDs${steward.log()}`);
      for (const worker of workers) {
        assert.equal(worker.generation ?? 0, 0);
        await steward.waitForLine(new RegExp(`Worker ${worker.id} \\(${worker.pid}\\) is ready`), 1_000);
      }

      const byPid = await collectPids(http.url, 3);
      assert.deepEqual([...byPid.keys()].sort(), workers.map((w) => w.pid).sort(), "the PIDs that answer are the started workers");
      for (const worker of workers) {
        const { env } = byPid.get(worker.pid)!;
        assert.equal(env.LISTEN_PID, String(worker.pid), "LISTEN_PID is the worker's own PID");
        assert.equal(env.LISTEN_FDS, "1");
        assert.equal(env.LISTEN_FDNAMES, "http");
        assert.equal(env.STEWARD_WORKER_ID, String(worker.id));
        assert.equal(env.STEWARD_GENERATION, "0");
        assert.equal(env.STEWARD_MASTER_PID, String(steward.pid));
        assert.ok(env.NOTIFY_SOCKET, `NOTIFY_SOCKET is set (env: ${JSON.stringify(env)})`);
      }
    }));

    test("a worker's descriptor table at exec is exactly 0, 1, 2 and its listeners in order", e2e(mode, async (bed) => {
      const tableFile = bed.path("fd-table.txt");
      const steward = bed.startWith(toml({
        global: { workers: 1, "ready-timeout": "10s" },
        listen: [
          { name: "http", bind: "tcp://127.0.0.1:0" },
          { name: "admin", bind: `unix://${bed.path("admin.sock")}` },
        ],
        worker: { command: fixture("fd-table.sh"), env: { FD_TABLE_FILE: tableFile } },
      }));
      const http = await steward.listener("http");
      const admin = await steward.listener("admin");
      await steward.ready();
      const [worker] = await steward.waitForWorkers(1);

      // "FD TARGET" lines; the shell's own handle on the script it runs is not inherited
      const script = realpathSync(join(FIXTURES, "fd-table.sh"));
      const table = readFileSync(tableFile, "utf8").trim().split("\n").map((line) => {
        const space = line.indexOf(" ");
        return { fd: Number(line.slice(0, space)), target: line.slice(space + 1) };
      }).filter((entry) => entry.target !== script).sort((a, b) => a.fd - b.fd);
      const shown = table.map((e) => `${e.fd} -> ${e.target}`).join(", ");
      assert.deepEqual(table.map((e) => e.fd), [0, 1, 2, 3, 4], `descriptors at exec: ${shown}`);

      // fd 3 and 4 are the master's 'http' and 'admin' sockets, in configuration order
      const masterSocket = (fd: number) => readlinkSync(`/proc/${steward.pid}/fd/${fd}`);
      assert.equal(table[3]!.target, masterSocket(http.fd), `fd 3 is listener 'http' (${shown})`);
      assert.equal(table[4]!.target, masterSocket(admin.fd), `fd 4 is listener 'admin' (${shown})`);
      assert.match(table[3]!.target, /^socket:\[\d+\]$/);

      // the shell exec'd node in place: the PID that answers is the one steward started
      const report = await ask(http.url);
      assert.equal(report.pid, worker!.pid);
      assert.equal(report.env.LISTEN_PID, String(worker!.pid));
      assert.equal(report.env.LISTEN_FDS, "2");
      assert.equal(report.env.LISTEN_FDNAMES, "http:admin");
      assert.equal(report.listener, "http");
      assert.equal((await ask(admin.url)).listener, "admin");
    }));

    const formats: Array<{ format: string; file: string; text: (command: string[]) => string }> = [
      {
        format: "TOML",
        file: "steward.toml",
        text: (command) => toml({
          global: { workers: 2, "ready-timeout": "10s" },
          listen: [{ name: "web", bind: "tcp://127.0.0.1:0" }],
          worker: { command, env: { E2E_FORMAT: "TOML" } },
        }),
      },
      {
        format: "YAML",
        file: "steward.yaml",
        text: (command) => [
          "global:",
          "  workers: 2",
          "  ready-timeout: 10s",
          "listen:",
          "  - name: web",
          "    bind: tcp://127.0.0.1:0",
          "worker:",
          `  command: ${JSON.stringify(command)}`,
          "  env:",
          "    E2E_FORMAT: YAML",
          "",
        ].join("\n"),
      },
      {
        format: "JSON",
        file: "steward.json",
        text: (command) => JSON.stringify({
          global: { workers: 2, "ready-timeout": "10s" },
          listen: [{ name: "web", bind: "tcp://127.0.0.1:0" }],
          worker: { command, env: { E2E_FORMAT: "JSON" } },
        }, null, 2),
      },
    ];
    for (const { format, file, text } of formats) {
      test(`configuration in ${format}`, e2e(mode, async (bed) => {
        const steward = bed.startWith(text(fixture("http-worker.cjs")), file);
        const web = await steward.listener("web");
        await steward.ready();
        const byPid = await collectPids(web.url, 2);
        assert.equal(steward.started().length, 2, `workers = 2 from the file${steward.log()}`);
        for (const report of byPid.values()) {
          assert.equal(report.env.E2E_FORMAT, format, "worker.env from the file");
          assert.equal(report.env.LISTEN_FDNAMES, "web", "listener name from the file");
        }
      }));
    }

    test("inline: -l http=tcp://127.0.0.1:0 -n 2 -- node http-worker.cjs", e2e(mode, async (bed) => {
      const steward = bed.start(["-l", "http=tcp://127.0.0.1:0", "-n", "2", "--", ...fixture("http-worker.cjs")]);
      const http = await steward.listener("http");
      await steward.ready();
      const byPid = await collectPids(http.url, 2);
      assertWorkers(byPid, 2, "http");
      assert.equal(steward.started().length, 2, steward.log());
    }));

    test("STEWARD_WORKERS=3 sets the worker count", e2e(mode, async (bed) => {
      const steward = bed.start(["-l", "http=tcp://127.0.0.1:0", "--", ...fixture("http-worker.cjs")], {
        env: { STEWARD_WORKERS: "3" },
      });
      const http = await steward.listener("http");
      await steward.ready();
      assert.equal(steward.started().length, 3, `three workers started${steward.log()}`);
      assertWorkers(await collectPids(http.url, 3), 3, "http");
    }));
  });
}

function assertWorkers(byPid: Map<number, WorkerReport>, count: number, names: string): void {
  assert.equal(byPid.size, count);
  const ids = [...byPid.values()].map((r) => Number(r.env.STEWARD_WORKER_ID)).sort();
  assert.deepEqual(ids, Array.from({ length: count }, (_, i) => i + 1), "STEWARD_WORKER_ID 1..N");
  for (const report of byPid.values()) assert.equal(report.env.LISTEN_FDNAMES, names);
}
