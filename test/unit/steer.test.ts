/**
 * Steering a reuse-port address to the new generation (listeners/steer.ts): where the new
 * generation's sockets sit in the group (from the /proc/net/tcp order), the classic-BPF
 * program that picks only them, finding a process's listening descriptor, and the
 * supervisor holding the old workers' stop signal for the settle the port asks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import process from "node:process";
import { steeringProgram, steeringRange } from "../../src/listeners/steer.ts";
import { listeningSockets, listensOn } from "../../src/listeners/reserve.ts";
import { heldSockets } from "../../src/workers/reuseport.ts";
import { config, planB, runningOnFake } from "./_supervised.ts";

describe("steeringRange", () => {
  const old = new Set(["10", "11"]);
  const fresh = new Set(["20", "21", "22"]);

  test("IPv4 lists the newest first: the new sockets follow the old ones in the group; the slots kept new while the old leave", () => {
    // slots 2..4 are new; after k < 2 departures (the last taking the gap) slots 2..3 still are
    assert.deepEqual(steeringRange(4, ["22", "21", "20", "11", "10"], old, fresh), { lo: 2, count: 2 });
  });

  test("as many new as old: one slot; fewer new than old: still one", () => {
    assert.deepEqual(steeringRange(4, ["21", "20", "11", "10"], old, new Set(["20", "21"])), { lo: 2, count: 1 });
    assert.deepEqual(steeringRange(4, ["20", "11", "10"], old, new Set(["20"])), { lo: 2, count: 1 });
  });

  test("IPv6 lists reuse-port sockets oldest first", () => {
    assert.deepEqual(steeringRange(6, ["10", "11", "20", "21", "22"], old, fresh), { lo: 2, count: 2 });
    assert.equal(steeringRange(6, ["22", "21", "20", "11", "10"], old, fresh), "an old worker joined after the new ones");
  });

  test("a descriptor twice (a worker and its child) counts once", () => {
    assert.deepEqual(steeringRange(4, ["20", "20", "10"], old, fresh), { lo: 1, count: 1 });
  });

  test("an old worker that joined after a new one (restarted during the load) is not steered", () => {
    assert.equal(steeringRange(4, ["11", "21", "20", "10"], old, fresh), "an old worker joined after the new ones");
  });

  test("a socket held by no worker, or a side with none, is not steered", () => {
    assert.equal(steeringRange(4, ["21", "99", "10"], old, fresh), "socket 99 on the address is held by no worker");
    assert.equal(steeringRange(4, ["21", "20"], old, fresh), "no old worker listens");
    assert.equal(steeringRange(4, ["11", "10"], old, fresh), "no new worker listens");
  });
});

describe("steeringProgram", () => {
  test("ld random; mod count; add lo; ret a, as struct sock_filter", () => {
    const p = steeringProgram(2, 3);
    const v = new DataView(p.buffer);
    const code = [0, 1, 2, 3].map((i) => [v.getUint16(i * 8, true), v.getUint8(i * 8 + 2), v.getUint8(i * 8 + 3), v.getUint32(i * 8 + 4, true)]);
    assert.deepEqual(code, [
      [0x20, 0, 0, 0xfffff038], // SKF_AD_OFF (-0x1000) + SKF_AD_RANDOM (56)
      [0x94, 0, 0, 3],
      [0x04, 0, 0, 2],
      [0x16, 0, 0, 0],
    ]);
  });
});

describe("the retirement waits for releaseListeners' settle (supervisor on the fake system)", () => {
  const reloadWithRelease = (settle: number) => {
    const run = runningOnFake({ stopSignal: 10 });
    run.sys.ignoring.add(10);
    const calls: { old: number[]; current: number[] }[] = [];
    Object.assign(run.sys, { releaseListeners: (old: number[], current: number[]) => (calls.push({ old, current }), settle) });
    const old = [...run.state.processes.keys()];
    run.sup.reload(config({ ready: { kind: "spawn" }, workers: 2, stopSignal: 10 }), planB, false, () => {});
    const fresh = [...run.state.processes.values()].filter((p) => p.generation === 1).map((p) => p.pid);
    return { ...run, calls, old, fresh };
  };

  test("released with the old and new pids; the stop signal goes only after the settle", () => {
    const { sys, calls, old, fresh } = reloadWithRelease(100);
    assert.deepEqual(calls, [{ old, current: fresh }]);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, []);
    sys.advance(99);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, []);
    sys.advance(1);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, [10]);
  });

  test("nothing released (0): the stop signal goes at once, as without the port", () => {
    const { sys, old } = reloadWithRelease(0);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, [10]);
  });

  test("a re-exec during the settle: the new image's resume() sends it when the settle ends, once", () => {
    const { sys, sup, old } = reloadWithRelease(100);
    sys.advance(40);
    sys.dropTimers(); // the exec: the old image's timers are gone
    sup.resume();
    sys.advance(59);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, []);
    sys.advance(1);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, [10]);
    sys.advance(200);
    for (const pid of old) assert.deepEqual(sys.processes.get(pid)!.signals, [10]);
  });

  test("an old worker gone during the settle is not signalled", async () => {
    const { sys, old, flush } = reloadWithRelease(100);
    sys.exitProcess(old[0]!, 0);
    await flush();
    sys.advance(100);
    assert.deepEqual(sys.processes.get(old[0]!)!.signals, []);
    assert.deepEqual(sys.processes.get(old[1]!)!.signals, [10]);
  });
});

describe("heldSockets finds a process's listening descriptor from /proc", () => {
  test("this process's own listening socket: its fd and inode", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      const sockets = listeningSockets().filter((s) => listensOn(s, { family: 4, host: "127.0.0.1", port }));
      assert.equal(sockets.length, 1);
      const held = heldSockets([process.pid], sockets);
      assert.equal(held.length, 1, JSON.stringify(held));
      assert.equal(held[0]!.pid, process.pid);
      assert.equal(held[0]!.inode, sockets[0]!.inode);
      assert.equal(readlinkSync(`/proc/self/fd/${held[0]!.fd}`), `socket:[${sockets[0]!.inode}]`);
      assert.deepEqual(heldSockets([process.pid], []), []);
    } finally {
      server.close();
    }
  });
});

describe("no steering for a generation started beside old workers", () => {
  test("a reload started while the previous one's old workers are still there is retired as without the port", () => {
    const run = runningOnFake({ stopSignal: 10 });
    run.sys.ignoring.add(10);
    const calls: number[][] = [];
    Object.assign(run.sys, { releaseListeners: (old: number[]) => (calls.push(old), 100) });
    run.sup.reload(config({ ready: { kind: "spawn" }, workers: 2, stopSignal: 10 }), planB, false, () => {});
    assert.equal(calls.length, 1);
    // generation 0 is still stopping (its workers ignore signal 10) when generation 2 starts
    const gen1 = [...run.state.processes.values()].filter((p) => p.generation === 1).map((p) => p.pid);
    run.sup.reload(config({ ready: { kind: "spawn" }, workers: 2, stopSignal: 10 }), planB, false, () => {});
    assert.equal(calls.length, 1, "not released");
    for (const pid of gen1) assert.deepEqual(run.sys.processes.get(pid)!.signals, [10], "stopped at once");
  });
});
