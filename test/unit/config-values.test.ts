// Single values: durations, signals, addresses, -l / -S options, problem formatting.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  formatDuration, formatProblem, formatValue, idsFromText, MAX_DURATION_MS, parseDuration, parseIPv6, formatIPv6,
  parseListenOption, parseListenUrl, parseMasterCliAddress, parseMasterCliOption, parseSignal, signalName,
} from "../../src/config/index.ts";

const ids = idsFromText("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/srv:/bin/sh\n", "root:x:0:\napp:x:1001:\nstaff:x:50:\n");

describe("parseDuration", () => {
  const good: [unknown, number][] = [
    ["500ms", 500], ["30s", 30_000], ["5m", 300_000], ["1h", 3_600_000], ["1m30s", 90_000],
    ["1.5s", 1_500], ["0", 0], ["0s", 0], [" 2s ", 2_000], ["1h2m3s4ms", 3_723_004], [250, 250], [0, 0],
  ];
  for (const [input, ms] of good) {
    test(`${JSON.stringify(input)} → ${ms}`, () => assert.equal(parseDuration(input), ms));
  }
  const bad: [unknown, string][] = [
    ["10", "missing unit (ms, s, m, h)"],
    ["1m30", "missing unit (ms, s, m, h)"],
    ["5x", "unknown unit 'x' (use ms, s, m, h)"],
    ["", `empty duration (e.g. "500ms", "30s", "1m30s")`],
    ["-5s", "must not be negative"],
    ["abc", `not a duration (e.g. "500ms", "30s", "1m30s")`],
    ["1 s", `must not contain spaces (e.g. "500ms", "30s", "1m30s")`],
    ["1.s", `not a duration (e.g. "500ms", "30s", "1m30s")`],
    [-1, "must not be negative"],
    [1.5, `must be a whole number of milliseconds (or a string, e.g. "500ms", "30s", "1m30s")`],
    [true, `must be a duration string (e.g. "500ms", "30s", "1m30s")`],
    ["600h", "too long (at most 596h31m23s647ms)"],
  ];
  for (const [input, error] of bad) {
    test(`${JSON.stringify(input)} is rejected`, () => assert.equal(parseDuration(input), error));
  }
  test("formatDuration reads back", () => {
    assert.equal(formatDuration(90_500), "1m30s500ms");
    assert.equal(formatDuration(0), "0");
    assert.equal(formatDuration(3_600_000), "1h");
    for (const ms of [1, 999, 61_001, MAX_DURATION_MS]) assert.equal(parseDuration(formatDuration(ms)), ms);
  });
});

describe("parseSignal", () => {
  const good: [unknown, number][] = [
    ["SIGTERM", 15], ["term", 15], ["USR1", 10], ["sigusr2", 12], ["SIGHUP", 1], ["SIGINT", 2], ["QUIT", 3],
    ["KILL", 9], ["SIGCHLD", 17], ["SIGCLD", 17], ["CONT", 18], ["STOP", 19], ["TTIN", 21], ["TTOU", 22],
    ["WINCH", 28], ["SIGIO", 29], ["SIGPWR", 30], ["SIGSYS", 31], [15, 15], ["9", 9], [64, 64],
    ["SIGRTMIN", 34], ["RTMIN+2", 36], ["SIGRTMAX-1", 63],
  ];
  for (const [input, number] of good) {
    test(`${JSON.stringify(input)} → ${number}`, () => assert.equal(parseSignal(input), number));
  }
  test("bad signals", () => {
    assert.equal(parseSignal("SIGTREM"), "unknown signal 'SIGTREM' (did you mean SIGTERM?)");
    assert.equal(parseSignal("FOO"), "unknown signal 'FOO'");
    assert.equal(parseSignal(0), "signal numbers go from 1 to 64");
    assert.equal(parseSignal(65), "signal numbers go from 1 to 64");
    assert.equal(parseSignal("RTMIN-1"), "unknown signal 'RTMIN-1'");
    assert.equal(parseSignal(null), `must be a signal name or number (e.g. "SIGTERM", 15)`);
  });
  test("signalName", () => {
    assert.equal(signalName(15), "SIGTERM");
    assert.equal(signalName(10), "SIGUSR1");
    assert.equal(signalName(17), "SIGCHLD");
    assert.equal(signalName(34), "SIGRTMIN");
    assert.equal(signalName(40), "SIGRTMIN+6");
    assert.equal(signalName(32), "SIG32");
  });
});

describe("listen URLs", () => {
  const good: [string, string, unknown][] = [
    ["tcp://0.0.0.0:8080", "tcp://0.0.0.0:8080", { kind: "tcp", host: "0.0.0.0", port: 8080, family: 4 }],
    ["tcp://127.0.0.1:0", "tcp://127.0.0.1:0", { kind: "tcp", host: "127.0.0.1", port: 0, family: 4 }],
    ["tcp://localhost:80", "tcp://127.0.0.1:80", { kind: "tcp", host: "127.0.0.1", port: 80, family: 4 }],
    ["tcp://*:80", "tcp://0.0.0.0:80", { kind: "tcp", host: "0.0.0.0", port: 80, family: 4 }],
    ["tcp://:80", "tcp://0.0.0.0:80", { kind: "tcp", host: "0.0.0.0", port: 80, family: 4 }],
    ["TCP://10.0.0.1:65535", "tcp://10.0.0.1:65535", { kind: "tcp", host: "10.0.0.1", port: 65535, family: 4 }],
    ["tcp://[::1]:8080", "tcp://[::1]:8080", { kind: "tcp", host: "::1", port: 8080, family: 6 }],
    ["tcp://[::]:443", "tcp://[::]:443", { kind: "tcp", host: "::", port: 443, family: 6 }],
    ["tcp://[2001:DB8:0:0:0:0:0:1]:1", "tcp://[2001:db8::1]:1", { kind: "tcp", host: "2001:db8::1", port: 1, family: 6 }],
    ["tcp://[::ffff:10.1.2.3]:5", "tcp://[::ffff:10.1.2.3]:5", { kind: "tcp", host: "::ffff:10.1.2.3", port: 5, family: 6 }],
    ["unix:///run/app.sock", "unix:///run/app.sock", { kind: "unix", path: "/run/app.sock" }],
    ["unix:/run/app.sock", "unix:///run/app.sock", { kind: "unix", path: "/run/app.sock" }],
    ["unix:app.sock", "unix:///srv/app/app.sock", { kind: "unix", path: "/srv/app/app.sock" }],
    ["unix://run/../x.sock", "unix:///srv/app/x.sock", { kind: "unix", path: "/srv/app/x.sock" }],
  ];
  for (const [url, bind, address] of good) {
    test(url, () => assert.deepEqual(parseListenUrl(url, "/srv/app"), { bind, address }));
  }
  const bad: [string, string][] = [
    ["0.0.0.0:8080", "missing scheme (did you mean tcp://0.0.0.0:8080?)"],
    ["/run/a.sock", "missing scheme (did you mean unix:///run/a.sock?)"],
    ["udp://1.2.3.4:5", "unsupported scheme 'udp' (use tcp://HOST:PORT, tcp://[V6]:PORT or unix:///PATH)"],
    ["tcp://1.2.3.4", "missing port (write HOST:PORT)"],
    ["tcp://1.2.3.4:", "missing port"],
    ["tcp://1.2.3.4:65536", "port must be a number from 0 to 65535 (got '65536')"],
    ["tcp://1.2.3.4:http", "port must be a number from 0 to 65535 (got 'http')"],
    ["tcp://example.com:80", "host 'example.com' must be an IP address, localhost or * (names are not resolved)"],
    ["tcp://1.2.3.256:80", "host '1.2.3.256' must be an IP address, localhost or * (names are not resolved)"],
    ["tcp://010.0.0.1:80", "host '010.0.0.1' must be an IP address, localhost or * (names are not resolved)"],
    ["tcp://::1:80", "IPv6 addresses need brackets: [::1]:80"],
    ["tcp://[::1:80", "missing ']' after the IPv6 address"],
    ["tcp://[::1]", "missing port (write [V6]:PORT)"],
    ["tcp://[1::2::3]:80", "'1::2::3' is not an IPv6 address"],
    ["unix://", "empty unix socket path"],
    [`unix:///${"x".repeat(120)}`, `unix socket path too long (121 bytes, at most 107): /${"x".repeat(120)}`],
  ];
  for (const [url, error] of bad) {
    test(`${url.slice(0, 40)} is rejected`, () => assert.equal(parseListenUrl(url, "/srv/app"), error));
  }
  test("IPv6 canonical form (RFC 5952)", () => {
    const canonical = (text: string) => formatIPv6(parseIPv6(text) ?? []);
    assert.equal(canonical("2001:0db8:0000:0000:0001:0000:0000:0001"), "2001:db8::1:0:0:1");
    assert.equal(canonical("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    assert.equal(canonical("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
    assert.equal(canonical("1:0:3:4:5:6:7:8"), "1:0:3:4:5:6:7:8");
    assert.equal(parseIPv6("1:2:3:4:5:6:7"), undefined);
    assert.equal(parseIPv6("12345::"), undefined);
  });
});

describe("-l [NAME=]URL", () => {
  test("with a name", () => {
    assert.deepEqual(parseListenOption("http=tcp://0.0.0.0:8080", "/"), {
      ok: true,
      value: { name: "http", bind: "tcp://0.0.0.0:8080", address: { kind: "tcp", host: "0.0.0.0", port: 8080, family: 4 } },
    });
  });
  test("without a name; '=' inside a path is not a name", () => {
    assert.deepEqual(parseListenOption("unix:///tmp/a=b.sock", "/"), {
      ok: true, value: { bind: "unix:///tmp/a=b.sock", address: { kind: "unix", path: "/tmp/a=b.sock" } },
    });
  });
  test("relative unix path against the working directory", () => {
    assert.deepEqual(parseListenOption("admin=unix:run/a.sock", "/home/me"), {
      ok: true, value: { name: "admin", bind: "unix:///home/me/run/a.sock", address: { kind: "unix", path: "/home/me/run/a.sock" } },
    });
  });
  test("bad names and URLs", () => {
    assert.deepEqual(parseListenOption("=tcp://:80", "/"), { ok: false, error: "name: must not be empty" });
    assert.deepEqual(parseListenOption("a b=tcp://:80", "/"), { ok: false, error: "name: may contain only letters, digits, '_', '.' and '-'" });
    assert.deepEqual(parseListenOption("web=tcp://host:80", "/"), {
      ok: false, error: "host 'host' must be an IP address, localhost or * (names are not resolved)",
    });
  });
});

describe("-S ADDR[,KEY,VALUE]...", () => {
  test("unix path with keys", () => {
    assert.deepEqual(parseMasterCliOption("/run/m.sock,mode,660,uid,app,gid,staff,level,operator", "/", ids), {
      ok: true,
      value: { bind: "/run/m.sock", address: { kind: "unix", path: "/run/m.sock" }, mode: 0o660, uid: 1000, gid: 50, level: "operator" },
    });
  });
  test("defaults: mode 600, level admin; relative path resolved", () => {
    assert.deepEqual(parseMasterCliOption("m.sock", "/var/run", ids), {
      ok: true, value: { bind: "/var/run/m.sock", address: { kind: "unix", path: "/var/run/m.sock" }, mode: 0o600, level: "admin" },
    });
  });
  test("HOST:PORT and [V6]:PORT", () => {
    assert.deepEqual(parseMasterCliOption("127.0.0.1:9999", "/", ids), {
      ok: true, value: { bind: "127.0.0.1:9999", address: { kind: "tcp", host: "127.0.0.1", port: 9999, family: 4 }, mode: 0o600, level: "admin" },
    });
    const v6 = parseMasterCliOption("[::1]:9999,level,user", "/", ids);
    assert.equal(v6.ok && v6.value.bind, "[::1]:9999");
    assert.equal(v6.ok && v6.value.level, "user");
  });
  test("HAProxy's user/group spellings and numeric ids", () => {
    const parsed = parseMasterCliOption("/m.sock,user,0,group,app", "/", ids);
    assert.equal(parsed.ok && parsed.value.uid, 0);
    assert.equal(parsed.ok && parsed.value.gid, 1001);
  });
  test("every problem in one option", () => {
    assert.deepEqual(parseMasterCliOption("/m.sock,mode,999,level,root,moed,1,uid,nobody,gid", "/", ids), {
      ok: false,
      errors: [
        "unknown key 'moed' (did you mean 'mode'?)",
        "gid: missing value (write gid,VALUE)",
        "level 'root': must be admin, operator or user",
        `mode '999': must be an octal mode such as "600" or "0660"`,
        "uid 'nobody': unknown user 'nobody' (not in /etc/passwd)",
      ],
    });
  });
  test("mode on a TCP master CLI", () => {
    assert.deepEqual(parseMasterCliOption("127.0.0.1:1,mode,600", "/", ids), { ok: false, errors: ["mode '600': applies only to unix sockets"] });
  });
  test("address forms", () => {
    assert.deepEqual(parseMasterCliAddress("localhost:1", "/"), parseMasterCliAddress("tcp://127.0.0.1:1", "/"));
    assert.deepEqual(parseMasterCliAddress("localhost:1", "/"), { bind: "tcp://127.0.0.1:1", address: { kind: "tcp", host: "127.0.0.1", port: 1, family: 4 } });
    assert.deepEqual(parseMasterCliAddress("unix:///a.sock", "/x"), { bind: "unix:///a.sock", address: { kind: "unix", path: "/a.sock" } });
    assert.equal(parseMasterCliAddress("::1:80", "/"), "IPv6 addresses need brackets: [::1]:80");
    assert.equal(parseMasterCliAddress("", "/"), "empty address");
  });
});

describe("formatProblem", () => {
  test("with and without line and value", () => {
    assert.equal(formatProblem({ source: "app.toml", line: 3, key: "global.workers", problem: "must be an integer from 1 to 4096", got: 0 }),
      "app.toml:3: global.workers: must be an integer from 1 to 4096 (got 0)");
    assert.equal(formatProblem({ source: "app.toml", key: "worker.command", problem: "required" }), "app.toml: worker.command: required");
    assert.equal(formatProblem({ source: "command line", key: "--workers", problem: "bad", got: "x" }), `command line: --workers: bad (got "x")`);
    assert.equal(formatProblem({ source: "a.json", line: 1, key: "", problem: "syntax error: unexpected '}'" }), "a.json:1: syntax error: unexpected '}'");
    assert.equal(formatProblem({ source: "a.yaml", key: "k", problem: "p", got: null }), "a.yaml: k: p (got null)");
  });
  test("values are JSON-ish, truncated and on one line", () => {
    assert.equal(formatValue(["a", 1]), `["a",1]`);
    assert.equal(formatValue(new Date("2020-01-02T03:04:05Z")), "2020-01-02T03:04:05.000Z");
    const long = formatValue("x".repeat(100));
    assert.equal(long, `"${"x".repeat(56)}...`);
    assert.equal(long.length, 60);
    const line = formatProblem({ source: "f", key: "k", problem: "bad\nthing", got: "a\nb" });
    assert.equal(line, `f: k: bad thing (got "a\\nb")`);
  });
});
