import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseProblem, candidateBases, makeRunDir, readPrivateFile, ROOT_BASE, runDirProblem, writePrivateFile, type DirFacts } from "../../src/host/rundir.ts";
import { canTraverse } from "../../src/host/userdirs.ts";
import { Pidfile } from "../../src/host/pidfile.ts";

const dir = (uid: number, mode: number, more: Partial<DirFacts> = {}): DirFacts => ({ uid, mode: 0o040000 | mode, isDirectory: true, isSymlink: false, ...more });

describe("run directory: where", () => {
  test("systemd's RUNTIME_DIRECTORY first, then /run/steward for root, then XDG_RUNTIME_DIR, TMPDIR, /tmp", () => {
    assert.deepEqual(candidateBases({ RUNTIME_DIRECTORY: "/run/app:/run/other", XDG_RUNTIME_DIR: "/run/user/0" }, 0), ["/run/app", ROOT_BASE, "/run/user/0", "/tmp"]);
    assert.deepEqual(candidateBases({ XDG_RUNTIME_DIR: "/run/user/1000", TMPDIR: "/var/tmp" }, 1000), ["/run/user/1000", "/var/tmp", "/tmp"]);
    assert.deepEqual(candidateBases({ RUNTIME_DIRECTORY: "", TMPDIR: "/tmp" }, 1000), ["/tmp"]);
  });
});

describe("run directory: checks", () => {
  test("a base: root's or ours; writable by others only with the sticky bit", () => {
    assert.equal(baseProblem("/tmp", dir(0, 0o1777), 1000), undefined);
    assert.equal(baseProblem("/run/user/1000", dir(1000, 0o700), 1000), undefined);
    assert.match(baseProblem("/tmp/x", dir(65534, 0o755), 1000)!, /belongs to uid 65534/);
    assert.match(baseProblem("/srv/shared", dir(0, 0o777), 1000)!, /writable by others \(mode 0777\) without the sticky bit/);
    assert.match(baseProblem("/srv/group", dir(0, 0o775), 1000)!, /writable by others/);
    assert.match(baseProblem("/etc/passwd", dir(0, 0o644, { isDirectory: false }), 1000)!, /not a directory/);
  });
  test("the run directory: ours, mode 0700, a directory, not a symlink", () => {
    assert.equal(runDirProblem("/tmp/s", dir(1000, 0o700), 1000), undefined);
    assert.match(runDirProblem("/tmp/s", dir(65534, 0o700), 1000)!, /belongs to uid 65534, not 1000/);
    assert.match(runDirProblem("/tmp/s", dir(1000, 0o777), 1000)!, /mode 0777, not 0700/);
    assert.match(runDirProblem("/tmp/s", dir(1000, 0o700, { isSymlink: true }), 1000)!, /is a symlink/);
    assert.match(runDirProblem("/tmp/s", dir(1000, 0o600, { isDirectory: false }), 1000)!, /not a directory/);
  });
  test("who may traverse a directory", () => {
    assert.equal(canTraverse({ uid: 0, gid: 0, mode: 0o711 }, 65534, 65534), true);
    assert.equal(canTraverse({ uid: 0, gid: 0, mode: 0o700 }, 65534, 65534), false);
    assert.equal(canTraverse({ uid: 0, gid: 65534, mode: 0o710 }, 65534, 65534), true);
    assert.equal(canTraverse({ uid: 65534, gid: 0, mode: 0o700 }, 65534, 65534), true);
    assert.equal(canTraverse({ uid: 65534, gid: 0, mode: 0o077 }, 65534, 65534), false);
  });
});

describe("run directory: files", () => {
  const tmp = mkdtempSync("/tmp/stw-unit-rundir-");
  test("makeRunDir: a new directory of ours, mode 0700, an unpredictable name, under the first usable base", () => {
    const uid = process.getuid!();
    const shared = join(tmp, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o777); // no sticky bit: passed over
    const a = makeRunDir(4242, uid, { RUNTIME_DIRECTORY: tmp });
    const b = makeRunDir(4242, uid, { RUNTIME_DIRECTORY: tmp });
    assert.match(a.dir, new RegExp(`^${tmp}/steward-4242-\\w{6}$`));
    assert.notEqual(a.dir, b.dir);
    const c = makeRunDir(4242, uid, { RUNTIME_DIRECTORY: shared });
    rmSync(c.dir, { recursive: true });
    assert.match(c.skipped[0]!, /shared: .*writable by others/);
    const st = lstatSync(a.dir);
    assert.equal(st.mode & 0o7777, 0o700);
    assert.equal(st.uid, uid);
  });
  test("writePrivateFile never writes through a symlink; readPrivateFile refuses one", () => {
    const victim = join(tmp, "victim");
    writeFileSync(victim, "untouched");
    const link = join(tmp, "handover.json");
    symlinkSync(victim, link);
    writePrivateFile(link, "state");
    assert.equal(readFileSync(victim, "utf8"), "untouched");
    assert.equal(readFileSync(link, "utf8"), "state");
    assert.equal(lstatSync(link).isSymbolicLink(), false);
    assert.equal(lstatSync(link).mode & 0o777, 0o600);
    const link2 = join(tmp, "preflight.out");
    symlinkSync(victim, link2);
    assert.throws(() => readPrivateFile(link2), /ELOOP|symbolic|too many/i);
  });
  test("pidfile: prepared (a one-line error for a missing directory), committed at a new path, the old one removed", () => {
    const pf = new Pidfile(4242);
    assert.throws(() => pf.prepare(join(tmp, "nodir", "app.pid")), /^Error: pidfile '.*nodir\/app\.pid': cannot write it: its directory .*nodir does not exist$/);
    const first = join(tmp, "a.pid");
    pf.commit(pf.prepare(first));
    assert.equal(readFileSync(first, "utf8"), "4242\n");
    const second = join(tmp, "b.pid");
    const prepared = pf.prepare(second);
    assert.equal(existsSync(second), false, "nothing at the new path before the load succeeds");
    pf.commit(prepared);
    assert.equal(existsSync(first), false);
    assert.equal(readFileSync(second, "utf8"), "4242\n");
    pf.discard(pf.prepare(first));
    assert.deepEqual(readdirSync(tmp).filter((f) => f.endsWith(".tmp")), [], "no temp file left");
    pf.remove();
    assert.equal(existsSync(second), false);
  });
  test("cleanup", () => rmSync(tmp, { recursive: true, force: true }));
});
