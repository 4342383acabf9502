/**
 * The run directory against another local user (issue 9, finding 2; REFERENCE §8.4) and
 * children running as `user =` (finding 3). The suite runs as root; the other users are
 * uid 65534 and 65533 through `setpriv`.
 *
 * Each master is started through a FIFO gate (`sh -c 'read < FIFO; exec ...'`), so its PID
 * is known before it runs: the attacker (test/fixtures/dir-racer.py) plants the name the
 * old steward used (BASE/steward-PID, world-writable, handover.json and preflight.out
 * symlinked to a victim file), then races with inotify against whatever the master creates
 * in BASE. BASE is a sticky, world-writable directory in the test's own dir, standing in
 * for /tmp, so nothing is left in /tmp.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, test } from "node:test";
import { e2e, fixture, FIXTURES, killQuietly, MODES, type Steward, stewardCommand, type TestBed, toml, waitUntil } from "./_harness.ts";
import { expectReloaded } from "./_reload.ts";
import { replies, socat } from "./_mcli.ts";

const SETPRIV = (uid: number) => ["setpriv", "--reuid", String(uid), "--regid", String(uid), "--clear-groups"];
/** The system's python: the one on the test runner's PATH may be in root's home. */
const PYTHON = "/usr/bin/python3";
/** Python that connects to the unix socket argv[1] of type argv[2] and sends a datagram or a line. */
const REACH = "import socket, sys\ns = socket.socket(socket.AF_UNIX, getattr(socket, sys.argv[2]))\ns.connect(sys.argv[1])\ns.send(b'READY=1\\n')";
const VICTIM_TEXT = "the victim's own content\n";

interface Scene {
  base: string;
  victim: string;
  fifo: string;
}

/** The bed made reachable by the other users; the shared base and the victim file. */
function scene(bed: TestBed, victimOwner: number): Scene {
  chmodSync(bed.dir, 0o711);
  const base = bed.path("tmp");
  mkdirSync(base);
  chmodSync(base, 0o1777);
  const victim = bed.write("victim", VICTIM_TEXT);
  chownSync(victim, victimOwner, victimOwner);
  const fifo = bed.path("go");
  const made = spawnSync("mkfifo", [fifo]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  chmodSync(fifo, 0o666);
  return { base, victim, fifo };
}

/** `command` once something is written to `fifo`. */
const gated = (fifo: string, command: string[]) => ["sh", "-c", 'read _ < "$0"; exec "$@"', fifo, ...command];

interface Racer {
  child: ChildProcess;
  lines: string[];
}

async function startRacer(bed: TestBed, uid: number, s: Scene, pid: number): Promise<Racer> {
  const child = spawn(SETPRIV(uid)[0]!, [...SETPRIV(uid).slice(1), PYTHON, `${FIXTURES}/dir-racer.py`, s.base, s.victim, String(pid), "60"], {
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const racer: Racer = { child, lines: [] };
  let partial = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    const parts = (partial + d).split("\n");
    partial = parts.pop()!;
    racer.lines.push(...parts);
  });
  bed.onCleanup(() => killQuietly(-child.pid!));
  await waitUntil(() => racer.lines.includes("watching") || child.exitCode !== null, 10_000, "the racer to watch");
  assert.ok(racer.lines.includes("watching"), `racer: ${racer.lines.join("; ")}`);
  return racer;
}

/**
 * A variable of process `pid`'s environment. Waits for it: /proc/PID/environ reads empty
 * while the process is in execve (notify-exec.py becoming the worker).
 */
function envOf(pid: number, name: string): Promise<string> {
  const read = () => {
    try {
      return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
    } catch {
      return undefined;
    }
  };
  return waitUntil(read, 5_000, `${name} in the environment of ${pid}`);
}

/** The run directory, from the newest worker's STEWARD_CLI_SOCKET. */
async function runDirOf(steward: Steward): Promise<string> {
  return dirname(await envOf(steward.started().at(-1)!.pid, "STEWARD_CLI_SOCKET"));
}

/** Waits for the newest worker's CLI socket (bound after READY=1 by notify-exec.py). */
async function cliBound(steward: Steward): Promise<void> {
  const socket = await envOf(steward.started().at(-1)!.pid, "STEWARD_CLI_SOCKET");
  await waitUntil(() => existsSync(socket), 10_000, `${socket} to be bound${steward.log()}`);
}

function assertPrivate(dir: string, uid: number): void {
  const st = lstatSync(dir);
  assert.ok(st.isDirectory() && !st.isSymbolicLink(), `${dir} is a directory, not a symlink`);
  assert.equal(st.uid, uid, `${dir} belongs to uid ${uid}`);
  assert.equal((st.mode & 0o7777).toString(8), "700", `${dir} has mode 0700`);
}

function assertNothingCaptured(s: Scene, racer: Racer, steward: Steward): void {
  assert.equal(readFileSync(s.victim, "utf8"), VICTIM_TEXT, `the victim file was written through a symlink${steward.log()}`);
  assert.deepEqual(racer.lines.filter((l) => l.startsWith("captured")), [], `the other user captured something: ${racer.lines.join("; ")}`);
}

const config = (global: Record<string, string | number> = {}, command = fixture("http-worker.cjs")) =>
  toml({ global: { workers: 1, "ready-timeout": "15s", ...global }, listen: [{ name: "http", bind: "tcp://127.0.0.1:0" }], worker: { command } });

for (const mode of MODES) {
  describe(`run directory [${mode}]`, () => {
    test("root: a new 0700 directory under /run/steward; the old name planted, symlinks and an inotify race by uid 65534 change nothing across reloads", e2e(mode, async (bed) => {
      const s = scene(bed, 0);
      const file = bed.write("steward.toml", config());
      const steward = bed.start(["-f", file], {
        command: gated(s.fifo, stewardCommand(mode)),
        env: { RUNTIME_DIRECTORY: "", XDG_RUNTIME_DIR: "", TMPDIR: s.base },
      });
      const racer = await startRacer(bed, 65534, s, steward.pid);
      writeFileSync(s.fifo, "go\n");
      await steward.ready(30_000);
      const dir = await runDirOf(steward);
      assert.match(dir, new RegExp(`^/run/steward/steward-${steward.pid}-\\w{6}$`));
      assertPrivate(dir, 0);
      await expectReloaded(steward);
      await expectReloaded(steward);
      assert.equal(await runDirOf(steward), dir, "the same directory across re-execs");
      assertNothingCaptured(s, racer, steward);
      steward.signal("SIGTERM");
      await steward.expectExit(0, 15_000);
      assert.ok(!existsSync(dir), `${dir} removed at exit`);
    }));

    test("a non-root master (uid 65534) starts although uid 65533 planted its old name; the directory it makes is its own, 0700; a race by inotify and reloads change nothing", e2e(mode, async (bed) => {
      const s = scene(bed, 65534);
      const file = bed.write("steward.toml", config());
      const steward = bed.start(["-f", file], {
        command: gated(s.fifo, [...SETPRIV(65534), ...stewardCommand(mode)]),
        env: { RUNTIME_DIRECTORY: "", XDG_RUNTIME_DIR: "", TMPDIR: s.base },
      });
      const racer = await startRacer(bed, 65533, s, steward.pid);
      writeFileSync(s.fifo, "go\n");
      await steward.ready(30_000);
      const dir = await runDirOf(steward);
      assert.match(dir, new RegExp(`^${s.base}/steward-${steward.pid}-\\w{6}$`));
      assertPrivate(dir, 65534);
      // the racer saw the new directory and tried everything on it
      await waitUntil(() => racer.lines.includes(`refused: ${dir.slice(s.base.length + 1)}`), 10_000, () => `the racer to give up on ${dir}: ${racer.lines.join("; ")}`);
      await expectReloaded(steward);
      await expectReloaded(steward);
      assertNothingCaptured(s, racer, steward);
      assert.equal(lstatSync(`${s.base}/steward-${steward.pid}`).uid, 65533, "the planted directory is left alone");
      steward.signal("SIGTERM");
      await steward.expectExit(0, 15_000);
      assert.ok(!existsSync(dir), `${dir} removed at exit`);
    }));
  });

  describe(`user = [${mode}]`, () => {
    test('user = "nobody" with ready = "notify": loads, reloads; @1 reaches the worker CLI; its directory is nobody\'s, 0700', e2e(mode, async (bed) => {
      // nobody must be able to go through the bed to its directory (the run base is 0711)
      chmodSync(bed.dir, 0o711);
      const admin = bed.path("admin.sock");
      // READY=1 through the notify socket, then the worker that serves the CLI (same PID)
      const worker = [PYTHON, `${FIXTURES}/notify-exec.py`, ...fixture("cli-worker.cjs")];
      const file = bed.write("steward.toml", config({ user: "nobody", ready: "notify" }, worker));
      const steward = bed.start(["-f", file, "-S", admin]);
      await steward.ready(30_000);
      const [w] = await steward.waitForWorkers(1);
      await cliBound(steward);
      const info = replies((await socat(admin, "@1 show info\n")).stdout)[0]!;
      assert.match(info, new RegExp(`^pid: ${w!.pid}\\nworker: 1`), steward.log());
      const userDir = await runDirOf(steward);
      assertPrivate(userDir, 65534);
      const notify = await envOf(w!.pid, "NOTIFY_SOCKET");
      assert.equal(dirname(notify), userDir);
      assert.equal(lstatSync(notify).uid, 65534);
      assert.equal(lstatSync(notify).mode & 0o777, 0o600);
      // another user (65533) can reach neither socket
      const cli = await envOf(w!.pid, "STEWARD_CLI_SOCKET");
      for (const [path, kind] of [[notify, "SOCK_DGRAM"], [cli, "SOCK_STREAM"]] as const) {
        const tried = spawnSync(SETPRIV(65533)[0]!, [...SETPRIV(65533).slice(1), PYTHON, "-c", REACH, path, kind], { encoding: "utf8" });
        assert.match(tried.stderr, /PermissionError/, `uid 65533 must not reach ${path}: exit ${tried.status} ${tried.stderr}`);
      }
      // across re-execs: the user's notify socket is handed over, each new generation gets
      // ready through it (its READY=1 often arrives while the master re-executes)
      for (let g = 1; g <= 3; g++) {
        const r = await expectReloaded(steward);
        await cliBound(steward);
        const reply = replies((await socat(admin, "@1 show info\n")).stdout)[0]!;
        assert.match(reply, new RegExp(`^pid: ${r.started[0]!.pid}\\nworker: 1\\ngeneration: ${g}`), steward.log());
      }
      steward.signal("SIGTERM");
      await steward.expectExit(0, 15_000);
      assert.ok(!existsSync(dirname(userDir)), "the users' directory removed at exit");
    }));

    test("user = \"nobody\" when nobody cannot go through the run directory's base: one line, exit 1", e2e(mode, async (bed) => {
      // the bed stays 0700: nobody cannot go through it to the run base inside
      const file = bed.write("steward.toml", config({ user: "nobody", ready: "notify" }));
      const steward = bed.start(["-f", file]);
      await steward.expectExit(1);
      const alert = steward.matching(/Starting failed/);
      assert.equal(alert.length, 1, steward.log());
      assert.match(alert[0]!.line.text, /Starting failed: uid 65534 cannot reach its sockets: \/tmp\/stw-\w+ \(mode 700, owner 0:0\) does not let it in$/, steward.log());
      assert.equal(steward.started().length, 0, steward.log());
    }));
  });
}
