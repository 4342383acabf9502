/**
 * A fake of the master's OS port (src/master/os.ts) for unit tests: the clock, timers and
 * child records of a FakeSystem (_fake-system.ts), files in a map, and an execve that
 * only records what it was asked (or fails, when told to). Nothing here is real.
 */
import type { FileIdentity, MasterOs, Timer } from "../../src/master/os.ts";
import type { WaitStatus } from "../../src/sys/posix.ts";
import type { SpawnRequest } from "../../src/sys/spawn.ts";
import type { FakeSystem } from "./_fake-system.ts";

export class FakeOs implements MasterOs {
  readonly pid = 4242;
  readonly arch = "x64";
  readonly env: Record<string, string | undefined> = { PATH: "/usr/bin:/bin", HOME: "/root" };
  /** what spawn() started (the preflight), in order, with the PIDs it returned */
  readonly spawned: { pid: number; req: SpawnRequest }[] = [];
  /** kill(2) and killGroup calls, in order */
  readonly kills: string[] = [];
  readonly files = new Map<string, string>();
  readonly execs: { path: string; argv: string[]; env: Record<string, string> }[] = [];
  readonly reaped: WaitStatus[] = [];
  /** the next writePrivate / execve / spawn fails with this message */
  failWrite: string | undefined;
  failExec: string | undefined;
  failSpawn: string | undefined;
  /** what executableProblem says of every path */
  problem: string | undefined;
  identity: FileIdentity = { dev: 1, ino: 2, size: 3, mtimeMs: 4, ctimeMs: 5 };
  /** what fileIdentity says of these paths (others: `identity`) */
  readonly identities = new Map<string, FileIdentity>();
  exitCode: number | undefined;
  private nextPid = 9000;

  constructor(private readonly sys: FakeSystem) {}

  cwd(): string {
    return "/srv";
  }
  now(): number {
    return this.sys.now();
  }
  /** the fake clock: every fake millisecond is spent on the CPU */
  cpuTime(): number {
    return this.sys.now();
  }
  after(ms: number, fn: () => void): Timer {
    return this.sys.after(ms, fn);
  }
  keepAlive(): void {}
  spawn(req: SpawnRequest): number {
    if (this.failSpawn) throw new Error(this.failSpawn);
    const pid = this.nextPid++;
    this.spawned.push({ pid, req });
    return pid;
  }
  kill(target: number, signal: number): boolean {
    this.kills.push(`kill ${target} ${signal}`);
    return this.sys.kill(target, signal);
  }
  killGroup(pid: number): void {
    this.kills.push(`killGroup ${pid}`);
  }
  reapOne(): WaitStatus | null {
    return this.reaped.shift() ?? null;
  }
  execve(path: string, argv: string[], env: Record<string, string>): void {
    if (this.failExec) throw new Error(this.failExec);
    this.execs.push({ path, argv, env });
  }
  writePrivate(path: string, text: string): void {
    if (this.failWrite) throw new Error(this.failWrite);
    this.files.set(path, text);
  }
  readPrivate(path: string): string {
    const text = this.files.get(path);
    if (text === undefined) throw new Error(`${path}: no such file`);
    return text;
  }
  remove(path: string): void {
    for (const p of [...this.files.keys()]) if (p === path || p.startsWith(`${path}/`)) this.files.delete(p);
  }
  readProc(path: string): string | undefined {
    return this.files.get(path);
  }
  fileIdentity(path: string): FileIdentity | undefined {
    return { ...(this.identities.get(path) ?? this.identity) };
  }
  executableProblem(_path: string): string | undefined {
    return this.problem;
  }
  tailLines(path: string, _maxBytes: number): string[] {
    return (this.files.get(path) ?? "").split("\n").filter((l) => l.trim() !== "");
  }
  exit(code: number): never {
    this.exitCode = code;
    throw new Error(`exit ${code}`);
  }
}
