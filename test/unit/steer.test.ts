/**
 * Steering a reuse-port address to the new generation (listeners/steer.ts), pure parts:
 * where the new generation's sockets sit in the group, from the /proc/net/tcp order, and
 * the classic-BPF program that picks only them.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { steeringProgram, steeringRange } from "../../src/listeners/steer.ts";

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
