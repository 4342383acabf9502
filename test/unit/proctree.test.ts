import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseStatPpid, ProcTree, scanParents, type ProcSource } from "../../src/workers/proctree.ts";
import { blockedWait, fdSetHas, isAccepting, pollfdsHave, processAccepting } from "../../src/workers/readiness.ts";

/** A /proc snapshot: files by path, symlinks by path, memory by PID and address. */
function snapshot(opts: {
  files?: Record<string, string>;
  links?: Record<string, string>;
  mem?: Record<string, Uint8Array>;
  childrenFiles?: boolean;
}): ProcSource {
  const files = opts.files ?? {};
  const links = opts.links ?? {};
  const all = [...Object.keys(files), ...Object.keys(links)];
  return {
    readdir(path) {
      const prefix = `${path}/`;
      return [...new Set(all.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length).split("/")[0]!))];
    },
    readlink: (path) => links[path],
    read: (path) => files[path] ?? "",
    readMem(pid, addr, len) {
      const m = opts.mem?.[`${pid}@${addr}`];
      return m && m.length >= len ? m.slice(0, len) : undefined;
    },
    hasChildrenFiles: () => opts.childrenFiles ?? false,
  };
}

const stat = (pid: number, comm: string, ppid: number) => `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560`;
const LISTENER = new Set(["5001"]);

/** A gunicorn-like tree: 100 (arbiter, select on its pipe only) → 101, 102 (sync workers). */
function preFork(workerWait: string, mem: Record<string, Uint8Array>, extraLinks: Record<string, string> = {}): ProcSource {
  const files: Record<string, string> = {
    "/proc/100/stat": stat(100, "gunicorn: master", 1),
    "/proc/101/stat": stat(101, "gunicorn: worker [app] (x)", 100),
    "/proc/102/stat": stat(102, "gunicorn: worker", 100),
    "/proc/7/stat": stat(7, "unrelated", 1),
    "/proc/100/task/100/syscall": "270 0x5 0x1000 0x0 0x0 0x2000 0x0 0x7ff 0x7ff",
    "/proc/101/task/101/syscall": workerWait,
    "/proc/102/task/102/syscall": "running",
  };
  const links: Record<string, string> = {
    "/proc/100/fd/3": "socket:[5001]",
    "/proc/100/fd/4": "pipe:[77]",
    "/proc/101/fd/3": "socket:[5001]",
    "/proc/101/fd/7": "pipe:[78]",
    "/proc/102/fd/3": "socket:[5001]",
    ...extraLinks,
  };
  return snapshot({ files, links, mem });
}

describe("process tree", () => {
  test("stat's PPID after a comm with spaces and parentheses", () => {
    assert.equal(parseStatPpid(stat(101, "gunicorn: worker [app] (x)", 100)), 100);
    assert.equal(parseStatPpid("garbage"), undefined);
  });
  test("descendants from a /proc scan, breadth first, the unrelated left out", () => {
    const src = snapshot({
      files: {
        "/proc/10/stat": stat(10, "a", 1),
        "/proc/11/stat": stat(11, "b", 10),
        "/proc/12/stat": stat(12, "c", 11),
        "/proc/13/stat": stat(13, "d", 10),
        "/proc/14/stat": stat(14, "e", 1),
      },
    });
    assert.deepEqual(scanParents(src).get(10), [11, 13]);
    assert.deepEqual(new ProcTree(src).descendantsOf(10), [11, 13, 12]);
    assert.deepEqual(new ProcTree(src).descendantsOf(14), []);
  });
  test("descendants from task/*/children when the kernel has them", () => {
    const src = snapshot({
      childrenFiles: true,
      files: { "/proc/10/task/10/children": "11 ", "/proc/10/task/15/children": "13 ", "/proc/11/task/11/children": "12 " },
    });
    assert.deepEqual(new ProcTree(src).descendantsOf(10), [11, 13, 12]);
  });
});

describe("accepting readiness through the tree", () => {
  test("syscall lines: accept, select/pselect6, poll/ppoll, others", () => {
    assert.deepEqual(blockedWait("288 0x3 0x7ffd 0x0 0x80800 0x0 0x0 0x7ffd 0x7f00", "x64"), { kind: "accept", fd: 3 });
    assert.deepEqual(blockedWait("270 0x8 0x7fff247510c0 0x0 0x0 0x7fff24751000 0x0 0x0 0x0", "x64"), {
      kind: "select",
      nfds: 8,
      readfds: 0x7fff247510c0,
    });
    assert.deepEqual(blockedWait("7 0x1000 0x2 0x3e8 0 0 0 0 0", "x64"), { kind: "poll", fds: 0x1000, nfds: 2 });
    assert.deepEqual(blockedWait("73 0x1000 0x2 0x0 0 0 0 0 0", "arm64"), { kind: "poll", fds: 0x1000, nfds: 2 });
    assert.equal(blockedWait("232 0x4 0x0 0x0", "x64"), undefined); // epoll_wait: the epoll set tells
    assert.equal(blockedWait("running", "x64"), undefined);
  });
  test("fd_set and pollfd layouts", () => {
    assert.equal(fdSetHas(new Uint8Array([0b1000, 0, 0, 0, 0, 0, 0, 0]), 8, new Set([3])), true);
    assert.equal(fdSetHas(new Uint8Array([0b1000, 0, 0, 0, 0, 0, 0, 0]), 3, new Set([3])), false); // beyond nfds
    assert.equal(fdSetHas(new Uint8Array([0b10000, 0, 0, 0, 0, 0, 0, 0]), 8, new Set([3])), false);
    const pfd = new Uint8Array(16);
    const v = new DataView(pfd.buffer);
    v.setInt32(0, 7, true), v.setInt16(4, 1, true), v.setInt32(8, 3, true), v.setInt16(12, 4, true); // fd 3 POLLOUT only
    assert.equal(pollfdsHave(pfd, new Set([3])), false);
    v.setInt16(12, 1, true);
    assert.equal(pollfdsHave(pfd, new Set([3])), true);
  });
  test("a pre-fork master waiting on its pipe is not accepting; its child in select on the listener is", () => {
    const masterSet = new Uint8Array(8).fill(0);
    masterSet[0] = 0b10000; // fd 4, the pipe
    const workerSet = new Uint8Array(8);
    workerSet[0] = 0b1000; // fd 3, the listener
    workerSet[0]! |= 0b10000000; // fd 7
    const mem = { "100@4096": masterSet, "101@8192": workerSet };
    const src = preFork("270 0x8 0x2000 0x0 0x0 0x0 0x0 0x0 0x0", mem);
    assert.equal(processAccepting(src, 100, LISTENER, "x64"), false);
    assert.equal(processAccepting(src, 101, LISTENER, "x64"), true);
    assert.equal(isAccepting(100, LISTENER, "x64", new ProcTree(src), src), true);
  });
  test("children that select on some other socket, or whose memory cannot be read, are not accepting", () => {
    const otherSet = new Uint8Array(8);
    otherSet[0] = 0b10000000; // fd 7 only
    const src = preFork("270 0x8 0x2000 0x0 0x0 0x0 0x0 0x0 0x0", { "101@8192": otherSet });
    assert.equal(isAccepting(100, LISTENER, "x64", new ProcTree(src), src), false);
    const unreadable = preFork("270 0x8 0x2000 0x0 0x0 0x0 0x0 0x0 0x0", {});
    assert.equal(isAccepting(100, LISTENER, "x64", new ProcTree(src), unreadable), false);
  });
  test("a child blocked in accept on a dup of the listener, or with it in an epoll set", () => {
    const dup = preFork("288 0x9 0x0 0x0 0x80800 0 0 0 0", {}, { "/proc/101/fd/9": "socket:[5001]" });
    assert.equal(isAccepting(100, LISTENER, "x64", new ProcTree(dup), dup), true);
    const elsewhere = preFork("288 0x9 0x0 0x0 0x80800 0 0 0 0", {}, { "/proc/101/fd/9": "socket:[6000]" });
    assert.equal(isAccepting(100, LISTENER, "x64", new ProcTree(elsewhere), elsewhere), false);
    const epoll = snapshot({
      files: {
        "/proc/100/stat": stat(100, "m", 1),
        "/proc/101/stat": stat(101, "w", 100),
        "/proc/101/fdinfo/5": "pos:\t0\ntfd:        3 events:       19 data: 3  pos:0 ino:1389 sdev:8\n", // 0x1389 = 5001
      },
      links: { "/proc/101/fd/3": "socket:[5001]", "/proc/101/fd/5": "anon_inode:[eventpoll]" },
    });
    assert.equal(isAccepting(100, LISTENER, "x64", new ProcTree(epoll), epoll), true);
    assert.equal(isAccepting(100, new Set(["5002"]), "x64", new ProcTree(epoll), epoll), false);
  });
  test("a Node-like worker is answered at its first proof; an epoll set listed before the listener still counts, one without it held does not", () => {
    const holding = "pos:\t0\ntfd:        3 events:       19 data: 3  pos:0 ino:1389 sdev:8\n"; // 0x1389 = 5001
    const links: Record<string, string> = { "/proc/200/fd/3": "socket:[5001]", "/proc/200/fd/4": "anon_inode:[eventpoll]" };
    for (let fd = 5; fd < 20; fd++) links[`/proc/200/fd/${fd}`] = `pipe:[${fd}]`;
    const node = snapshot({ files: { "/proc/200/fdinfo/4": holding, "/proc/200/task/200/syscall": "232 0x4" }, links });
    const read: string[] = [];
    const counting: ProcSource = {
      ...node,
      readlink: (path) => (read.push(path), node.readlink(path)),
      read: (path) => (read.push(path), node.read(path)),
    };
    assert.equal(processAccepting(counting, 200, LISTENER, "x64"), true);
    assert.deepEqual(read, ["/proc/200/fd/3", "/proc/200/fd/4", "/proc/200/fdinfo/4"]);
    // the epoll set at a lower descriptor than the listener's
    const before = snapshot({ files: { "/proc/201/fdinfo/3": holding }, links: { "/proc/201/fd/3": "anon_inode:[eventpoll]", "/proc/201/fd/9": "socket:[5001]" } });
    assert.equal(processAccepting(before, 201, LISTENER, "x64"), true);
    // the set holds the listener, but the process holds none of its descriptors
    const closed = snapshot({ files: { "/proc/202/fdinfo/3": holding }, links: { "/proc/202/fd/3": "anon_inode:[eventpoll]", "/proc/202/fd/9": "socket:[6000]" } });
    assert.equal(processAccepting(closed, 202, LISTENER, "x64"), false);
  });
});
