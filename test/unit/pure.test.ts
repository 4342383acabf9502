import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeSockAddr, encodeSockAddr, ipv6Bytes } from "../../src/sys/sockaddr.ts";
import { blockedAcceptFd, epollWatchesInode } from "../../src/workers/readiness.ts";
import { EXEC_PLAN_VAR, inheritedEnv, shimSpawnRequest, workerEnv } from "../../src/workers/plan.ts";
import { helperSpawnRequest } from "../../src/workers/native-shim.ts";
import { parseNotifyMessage } from "../../src/notify/receiver.ts";
import { exitStatusOf, isNormalExit } from "../../src/master/policy.ts";
import { formatLine, parseLogLevel } from "../../src/log.ts";
import { listenerKey } from "../../src/listeners/registry.ts";

describe("sockaddr", () => {
  test("IPv6 text to bytes, with :: and an IPv4 tail", () => {
    assert.deepEqual([...ipv6Bytes("::1")], [...new Array(15).fill(0), 1]);
    assert.deepEqual([...ipv6Bytes("fe80::1:2")].slice(0, 2), [0xfe, 0x80]);
    assert.deepEqual([...ipv6Bytes("fe80::1:2")].slice(12), [0, 1, 0, 2]);
    assert.deepEqual([...ipv6Bytes("::ffff:10.1.2.3")].slice(10), [0xff, 0xff, 10, 1, 2, 3]);
    assert.deepEqual([...ipv6Bytes("1:2:3:4:5:6:7:8")], [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    assert.throws(() => ipv6Bytes("1.2.3.4"));
  });
  test("sockaddr_in round trip in network byte order", () => {
    const b = encodeSockAddr({ family: 4, host: "127.0.0.1", port: 8080 });
    assert.equal(b.length, 16);
    assert.deepEqual([...b.subarray(2, 8)], [0x1f, 0x90, 127, 0, 0, 1]);
    assert.deepEqual(decodeSockAddr(b, 16), { family: 4, host: "127.0.0.1", port: 8080 });
  });
  test("sockaddr_un carries the path and rejects one that is too long", () => {
    const b = encodeSockAddr({ family: "unix", path: "/run/x.sock" });
    assert.deepEqual(decodeSockAddr(b, b.length), { family: "unix", path: "/run/x.sock" });
    assert.throws(() => encodeSockAddr({ family: "unix", path: "/" + "a".repeat(120) }), /too long/);
  });
  test("sockaddr_in6 of ::1", () => {
    const b = encodeSockAddr({ family: 6, host: "::1", port: 443 });
    assert.equal(b.length, 28);
    assert.deepEqual(decodeSockAddr(b, 28), { family: 6, host: "::1", port: 443 });
  });
});

describe("accepting readiness parsing", () => {
  const fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\ntfd:       24 events:       19 data:               18  pos:0 ino:3039 sdev:8\n";
  test("an epoll set watching the listener inode (hex in fdinfo)", () => {
    assert.equal(epollWatchesInode(fdinfo, new Set(["12345"])), true); // 0x3039 = 12345
    assert.equal(epollWatchesInode(fdinfo, new Set(["3039"])), false);
  });
  test("a thread blocked in accept4 on fd 3", () => {
    assert.equal(blockedAcceptFd("288 0x3 0x7ffd 0x0 0x80800 0x0 0x0 0x7ffd 0x7f00", "x64"), 3);
    assert.equal(blockedAcceptFd("43 0x4 0x0 0x0", "x64"), 4);
    assert.equal(blockedAcceptFd("232 0x4 0x0 0x0", "x64"), undefined); // epoll_wait
    assert.equal(blockedAcceptFd("running", "x64"), undefined);
    assert.equal(blockedAcceptFd("242 0x3 0 0", "arm64"), 3);
  });
});

describe("spawn plans", () => {
  test("the master's own variables do not reach children", () => {
    const env = inheritedEnv({ PATH: "/bin", STEWARD_WORKERS: "4", LISTEN_FDS: "9", NOTIFY_SOCKET: "/x", HOME: "/root", U: undefined });
    assert.deepEqual(env, { PATH: "/bin", HOME: "/root" });
  });
  test("worker env: configured env, then steward's variables, which win", () => {
    const env = workerEnv({
      masterEnv: { PATH: "/bin", STEWARD_EXEC_PLAN: "x" },
      configEnv: { NODE_ENV: "production", LISTEN_FDS: "7" },
      listenerNames: ["http", "admin"],
      workerId: 2,
      generation: 5,
      masterPid: 42,
      notifySocket: "/run/s/notify.sock",
      cliSocket: "/run/s/w.sock",
    });
    assert.deepEqual(env, {
      PATH: "/bin",
      NODE_ENV: "production",
      LISTEN_FDS: "2",
      LISTEN_FDNAMES: "http:admin",
      NOTIFY_SOCKET: "/run/s/notify.sock",
      STEWARD_WORKER_ID: "2",
      STEWARD_GENERATION: "5",
      STEWARD_MASTER_PID: "42",
      STEWARD_CLI_SOCKET: "/run/s/w.sock",
    });
  });
  test("every child starts through the shim with its plan and the listeners at 3..", () => {
    const req = shimSpawnRequest(
      { path: "/usr/bin/steward", prefix: [] },
      { label: "worker 1", path: "/usr/bin/node", argv: ["node", "s.js"], env: { A: "1" }, fds: [7, 9], cwd: "/srv" },
      42,
      9,
    );
    assert.deepEqual(req.argv, ["/usr/bin/steward", "__exec"]);
    assert.deepEqual(req.passFds, [7, 9]);
    assert.equal(req.cwd, "/srv");
    assert.equal(req.ownSession, true);
    assert.deepEqual(JSON.parse(req.env[EXEC_PLAN_VAR]!), {
      path: "/usr/bin/node",
      argv: ["node", "s.js"],
      parent: 42,
      deathSignal: 9,
      listenFds: 2,
      label: "worker 1",
    });
  });
  test("through the native helper: its memfd passed after the listeners and executed from there, the plan in argv", () => {
    const req = helperSpawnRequest(
      11,
      { label: "worker 1", path: "/usr/bin/node", argv: ["node", "s.js"], env: { A: "1" }, fds: [7, 9], cwd: "/srv", uid: 65534, gid: 65533 },
      42,
      9,
    );
    assert.equal(req.path, "/proc/self/fd/5");
    assert.deepEqual(req.passFds, [7, 9, 11]);
    assert.deepEqual(req.argv, ["steward-exec", "42", "9", "2", "65534", "65533", "worker 1", "/usr/bin/node", "node", "s.js"]);
    assert.deepEqual(req.env, { A: "1" });
    assert.equal(req.cwd, "/srv");
    assert.equal(req.ownSession, true);
    const unchanged = helperSpawnRequest(3, { label: "program 'a'", path: "/bin/a", argv: ["a"], env: {}, fds: [] }, 1, 15);
    assert.deepEqual(unchanged.argv.slice(0, 8), ["steward-exec", "1", "15", "0", "", "", "program 'a'", "/bin/a"]);
    assert.equal(unchanged.path, "/proc/self/fd/3");
  });
});

describe("small pure helpers", () => {
  test("sd_notify messages", () => {
    assert.deepEqual(parseNotifyMessage("READY=1\nSTATUS=a=b\n\nbad"), { READY: "1", STATUS: "a=b" });
  });
  test("exit statuses", () => {
    assert.equal(exitStatusOf({ pid: 1, exited: false, signal: 9 }), 137);
    assert.equal(exitStatusOf({ pid: 1, exited: true, code: 3 }), 3);
    assert.equal(isNormalExit({ pid: 1, exited: false, signal: 15 }), true);
    assert.equal(isNormalExit({ pid: 1, exited: true, code: 130 }), true);
    assert.equal(isNormalExit({ pid: 1, exited: true, code: 1 }), false);
  });
  test("log lines look like HAProxy's", () => {
    assert.equal(formatLine("info", 4120, "Loading success."), "[NOTICE]   (4120) : Loading success.");
    assert.equal(formatLine("warn", 1, "x"), "[WARNING]  (1) : x");
    assert.equal(formatLine("error", 1, "x"), "[ALERT]    (1) : x");
    assert.equal(parseLogLevel("debug"), 4);
    assert.equal(parseLogLevel("2"), 2);
    assert.equal(parseLogLevel("loud"), undefined);
  });
  test("listeners are keyed by address", () => {
    assert.equal(listenerKey({ kind: "tcp", host: "::1", port: 80, family: 6 }), "tcp:::1:80");
    assert.equal(listenerKey({ kind: "unix", path: "/run/a.sock" }), "unix:/run/a.sock");
  });
});

describe("IPv6 text", () => {
  test("RFC 5952 compression", async () => {
    const { formatIPv6Groups } = await import("../../src/sys/sockaddr.ts");
    assert.equal(formatIPv6Groups([0, 0, 0, 0, 0, 0, 0, 0]), "::");
    assert.equal(formatIPv6Groups([0, 0, 0, 0, 0, 0, 0, 1]), "::1");
    assert.equal(formatIPv6Groups([0xfe80, 0, 0, 0, 1, 0, 0, 2]), "fe80::1:0:0:2");
    assert.equal(formatIPv6Groups([1, 0, 2, 3, 4, 5, 6, 7]), "1:0:2:3:4:5:6:7");
  });
});
