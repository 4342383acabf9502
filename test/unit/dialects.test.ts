// Socket-passing dialects (`[worker] socket-env`) and `{fd:NAME}` placeholders.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatProblem, idsFromText, loadConfig, type ConfigOverrides, type ConfigResult } from "../../src/config/index.ts";
import { argvWithListeners, envWithListeners, expandFds, socketEnv } from "../../src/workers/dialects.ts";
import { unknownFdNames } from "../../src/config/placeholders.ts";

const listeners = [
  { name: "http", url: "tcp://127.0.0.1:8080", fd: 3 },
  { name: "admin", url: "tcp://[::1]:9090", fd: 4 },
  { name: "local", url: "unix:///run/app.sock", fd: 5 },
];

describe("socket-env dialects", () => {
  test("einhorn: EINHORN_FD_COUNT, EINHORN_FD_<n> from 0, and the master as EINHORN_MASTER_PID (the workers' parent)", () => {
    assert.deepEqual(socketEnv(["einhorn"], listeners, 42), {
      EINHORN_FD_COUNT: "3", EINHORN_FD_0: "3", EINHORN_FD_1: "4", EINHORN_FD_2: "5", EINHORN_MASTER_PID: "42",
    });
  });
  test("Server::Starter: host:port=fd joined by ';', a unix socket by its path", () => {
    assert.deepEqual(socketEnv(["server-starter"], listeners, 42), {
      SERVER_STARTER_PORT: "127.0.0.1:8080=3;[::1]:9090=4;/run/app.sock=5",
    });
  });
  test("nginx: every descriptor followed by ';'", () => {
    assert.deepEqual(socketEnv(["nginx"], listeners, 42), { NGINX: "3;4;5;" });
  });
  test("none asked, none set", () => {
    assert.deepEqual(socketEnv([], listeners, 42), {});
  });
});

describe("{fd:NAME}", () => {
  test("expands to 3 + the listener's position, inside a word too; unknown names are reported", () => {
    assert.equal(expandFds("{fd:http}", ["http", "admin"]), "3");
    assert.equal(expandFds("fd@{fd:admin},x{fd:http}", ["http", "admin"]), "fd@4,x3");
    assert.deepEqual(unknownFdNames("{fd:http} {fd:htp}", ["http"]), ["htp"]);
  });
  test("a worker's argv and env values get their placeholders expanded, its env the dialects' variables", () => {
    assert.deepEqual(argvWithListeners(["uvicorn", "--fd", "{fd:http}"], listeners.slice(0, 2)), ["uvicorn", "--fd", "3"]);
    assert.deepEqual(envWithListeners({ env: { HTTP_FD: "{fd:http}" }, socketEnv: ["nginx"] }, listeners.slice(0, 2), 7), { HTTP_FD: "3", NGINX: "3;4;" });
  });
});

describe("configuration", () => {
  const ids = idsFromText("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n");
  const dir = mkdtempSync(join(tmpdir(), "steward-dialects-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // awaited: loadConfig may be synchronous or return a promise
  const load = async (text: string, overrides: ConfigOverrides = {}): Promise<ConfigResult> => {
    writeFileSync(join(dir, "s.toml"), text);
    return await loadConfig({ file: "s.toml", overrides, cwd: dir, ids });
  };
  const problems = (r: ConfigResult) => (r.ok ? [] : r.problems.map(formatProblem));
  const listen = `[[listen]]\nname = "http"\nbind = "tcp://127.0.0.1:0"\n`;

  test("socket-env and a known placeholder load", async () => {
    const r = await load(`${listen}[worker]\ncommand = ["uvicorn", "--fd", "{fd:http}"]\nsocket-env = ["einhorn", "nginx"]\n`);
    assert.equal(r.ok, true, problems(r).join("\n"));
    if (r.ok) assert.deepEqual(r.config.worker.socketEnv, ["einhorn", "nginx"]);
  });
  test("an unknown dialect and an unknown listener name: one line each, naming the value", async () => {
    const p = problems(await load(`${listen}[worker]\ncommand = ["uvicorn", "--fd", "{fd:htp}"]\nsocket-env = ["nginx", "inetd"]\nenv = { X = "{fd:nope}" }\n`));
    assert.equal(p.length, 3, p.join("\n"));
    assert.ok(p.some((l) => /worker\.command\[2\].*\{fd:htp\} names no listener \(listeners: http\)/.test(l)), p.join("\n"));
    assert.ok(p.some((l) => /worker\.socket-env\[1\].*must be einhorn, server-starter or nginx.*inetd/.test(l)), p.join("\n"));
    assert.ok(p.some((l) => /worker\.env\.X.*\{fd:nope\}/.test(l)), p.join("\n"));
  });
  test("a placeholder in a command given after -- is reported against the command line", async () => {
    const p = problems(await load(listen, { command: ["srv", "{fd:web}"] }));
    assert.equal(p.length, 1, p.join("\n"));
    assert.match(p[0]!, /\{fd:web\} names no listener/);
    assert.doesNotMatch(p[0]!, /s\.toml/);
  });
});
