/**
 * src/workers/holding.ts against real processes: this test process and a child it spawns,
 * each with a listening socket found by inode in /proc.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";
import net from "node:net";
import process from "node:process";
import { holdsListener } from "../../src/workers/holding.ts";

function socketInodes(pid: number | "self"): Set<string> {
  const found = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) found.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return found;
}

describe("holdsListener", () => {
  test("this process, while it holds a listening socket and after it closed it", async () => {
    const before = socketInodes("self");
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const mine = new Set([...socketInodes("self")].filter((i) => !before.has(i)));
    assert.ok(mine.size > 0);
    assert.equal(holdsListener(process.pid, mine), true);
    assert.equal(holdsListener(process.pid, new Set(["1"])), false);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.equal(holdsListener(process.pid, mine), false);
  });

  test("a descendant's socket counts; a process that is gone holds nothing", async () => {
    const child = spawn("node", ["-e", "require('net').createServer().listen(0, '127.0.0.1', () => console.log('up')); setTimeout(() => {}, 60000)"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once("data", () => resolve());
        child.once("error", reject);
      });
      const theirs = socketInodes(child.pid!);
      for (const inode of socketInodes("self")) theirs.delete(inode);
      assert.ok(theirs.size > 0);
      assert.equal(holdsListener(process.pid, theirs), true, "held by a child");
      assert.equal(holdsListener(child.pid!, theirs), true);
    } finally {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    assert.equal(holdsListener(child.pid!, new Set(["1"])), false);
  });
});
