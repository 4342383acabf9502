/**
 * share = "reuseport", pure parts: the `share` key, /proc/net/tcp addresses, what workers
 * are told (sharePlan), and turning tcp_migrate_req on (against a fake sysctl file).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatProblem, idsFromText, loadConfig } from "../../src/config/index.ts";
import { listeningSockets, listensOn, parseProcAddress, readListeningPrefix } from "../../src/listeners/reserve.ts";
import { enableMigrateReq, MIGRATE_REQ_PATH } from "../../src/listeners/migrate.ts";
import type { BoundListener } from "../../src/listeners/registry.ts";
import { sharePlan } from "../../src/workers/reuseport.ts";
import { listeners } from "../../src/worker-lib/listeners.ts";

const ids = idsFromText("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n");
const dir = mkdtempSync(join(tmpdir(), "steward-reuseport-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function load(text: string) {
  writeFileSync(join(dir, "s.toml"), text);
  return loadConfig({ file: "s.toml", overrides: {}, cwd: dir, ids });
}

describe("the share key", () => {
  test("reuseport on tcp; inherit is the default and leaves no trace", async () => {
    const r = await load(`[[listen]]\nname = "a"\nbind = "tcp://127.0.0.1:8080"\nshare = "reuseport"\n[[listen]]\nname = "b"\nbind = "tcp://127.0.0.1:8081"\nshare = "inherit"\n[worker]\ncommand = ["x"]\n`);
    assert.ok(r.ok, r.ok ? "" : r.problems.map(formatProblem).join("\n"));
    assert.equal(r.config.listen[0]!.share, "reuseport");
    assert.equal(r.config.listen[1]!.share, undefined);
  });
  test("a unix socket or an unknown value is one line each", async () => {
    const r = await load(`[[listen]]\nbind = "unix:///tmp/x.sock"\nshare = "reuseport"\n[[listen]]\nbind = "tcp://127.0.0.1:1"\nshare = "reuse"\n[worker]\ncommand = ["x"]\n`);
    assert.ok(!r.ok);
    const lines = r.problems.map(formatProblem);
    assert.ok(lines.some((l) => /listen\[0\]\.share: "reuseport" applies only to tcp listeners/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /listen\[1\]\.share: must be inherit or reuseport/.test(l)), lines.join("\n"));
  });
});

describe("/proc/net/tcp", () => {
  test("addresses are 32-bit words in host order", () => {
    assert.deepEqual(parseProcAddress("0100007F:1F90"), { bytes: Uint8Array.from([127, 0, 0, 1]), port: 8080 });
    const v6 = parseProcAddress("00000000000000000000000001000000:0050");
    assert.deepEqual([...v6.bytes], [...Array(15).fill(0), 1]);
    assert.equal(v6.port, 80);
  });
  test("only listening sockets, matched by exact address", () => {
    const tcp = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0",
      "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1",
      "   2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0",
    ].join("\n");
    const sockets = listeningSockets((p) => (p.endsWith("6") ? "header\n" : tcp));
    assert.deepEqual(sockets.map((s) => s.inode), ["111", "333"]);
    assert.ok(listensOn(sockets[0]!, { family: 4, host: "127.0.0.1", port: 8080 }));
    assert.ok(!listensOn(sockets[1]!, { family: 4, host: "127.0.0.1", port: 8081 }), "0.0.0.0 is not 127.0.0.1");
    assert.ok(listensOn(sockets[1]!, { family: 4, host: "0.0.0.0", port: 8081 }));
  });
});

describe("reading /proc/net/tcp", () => {
  test("stops at the first socket not listening (the kernel lists listeners first), across read chunks", () => {
    const line = (n: number, st: string, inode: number) => `${String(n).padStart(4)}: 0100007F:1F90 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0 100 0 0 10 0`;
    const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
    // enough listeners to cross a 64 KiB read, then 20000 TIME_WAIT lines never read
    const listening = Array.from({ length: 700 }, (_, i) => line(i, "0A", 1000 + i));
    const rest = Array.from({ length: 20000 }, (_, i) => line(700 + i, "06", 0));
    const path = join(dir, "tcp");
    writeFileSync(path, [header, ...listening, ...rest].join("\n") + "\n");
    const text = readListeningPrefix(path);
    assert.ok(text.length < 200 * 1024, `read ${text.length} bytes`);
    assert.deepEqual(listeningSockets((p) => (p.endsWith("6") ? "header\n" : readListeningPrefix(path))).map((s) => s.inode), listening.map((_, i) => String(1000 + i)));
  });
});

describe("what workers are told", () => {
  const bound = (name: string, url: string, share?: "reuseport"): BoundListener => ({
    key: name, name, fd: 7, url, inode: "1", ownsFile: false,
    config: { name, bind: url, address: { kind: "tcp", host: "x", port: 1, family: 4 }, backlog: 511, ...(share ? { share } : {}) },
  });
  test("inherited listeners keep their fds; reuse-port ones become variables", () => {
    const plan = sharePlan([bound("admin", "tcp://127.0.0.1:9000"), bound("http-api", "tcp://[::1]:8080", "reuseport"), bound("b", "tcp://0.0.0.0:81", "reuseport")]);
    assert.deepEqual(plan.inherited.map((l) => l.name), ["admin"]);
    assert.deepEqual(plan.env, {
      STEWARD_REUSEPORT_NAMES: "http-api:b",
      PORT: "8080",
      HOST: "::1",
      STEWARD_LISTEN_HTTP_API_HOST: "::1",
      STEWARD_LISTEN_HTTP_API_PORT: "8080",
      STEWARD_LISTEN_B_HOST: "0.0.0.0",
      STEWARD_LISTEN_B_PORT: "81",
    });
    // and steward/worker reads them back
    assert.deepEqual(listeners({ LISTEN_FDS: "1", LISTEN_FDNAMES: "admin", ...plan.env }), {
      admin: { name: "admin", share: "inherit", fd: 3 },
      "http-api": { name: "http-api", share: "reuseport", host: "::1", port: 8080 },
      b: { name: "b", share: "reuseport", host: "0.0.0.0", port: 81 },
    });
  });
  test("no reuse-port listener: no variable", () => {
    assert.deepEqual(sharePlan([bound("a", "tcp://127.0.0.1:1")]).env, {});
  });
});

describe("tcp_migrate_req", () => {
  const file = (value: string | undefined, writable: boolean) => {
    const writes: string[] = [];
    return {
      writes,
      read: (p: string) => {
        assert.equal(p, MIGRATE_REQ_PATH);
        if (value === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
        return `${value}\n`;
      },
      write: (_p: string, text: string) => {
        if (!writable) throw Object.assign(new Error("read-only"), { code: "EROFS" });
        writes.push(text);
        value = text.trim();
      },
    };
  };
  test("already on: left alone", () => {
    const f = file("1", true);
    assert.deepEqual(enableMigrateReq(f), { on: true, text: "tcp_migrate_req on" });
    assert.deepEqual(f.writes, []);
  });
  test("off and permitted: turned on", () => {
    const f = file("0", true);
    assert.equal(enableMigrateReq(f).on, true);
    assert.deepEqual(f.writes, ["1\n"]);
  });
  test("off and not permitted, or absent: off, with the reason", () => {
    assert.match(enableMigrateReq(file("0", false)).text, /^tcp_migrate_req off \(cannot enable it: EROFS\)/);
    assert.match(enableMigrateReq(file(undefined, false)).text, /^tcp_migrate_req off \(not in this kernel/);
  });
});
