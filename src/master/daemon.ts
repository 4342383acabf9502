/**
 * `-D` (REFERENCE §8): the launcher starts the master in the background — a new session,
 * stdio on /dev/null — and waits for the first load. The master copies its log lines to
 * a pipe (fd 3, named by STEWARD_LAUNCHER_FD) until the first generation is ready, then
 * writes READY and closes it. The launcher exits 0 on READY; otherwise it prints the
 * start-up log and exits with the master's exit status.
 */
import type { Posix } from "../sys/posix.ts";

export const LAUNCHER_FD_VAR = "STEWARD_LAUNCHER_FD";
export const READY_MARK = "\u0000READY";

export async function launchDaemon(self: { path: string; prefix: string[] }, args: readonly string[], env: Record<string, string | undefined>, stderr: (line: string) => void): Promise<number> {
  // loaded only by a launcher: the master itself never needs node:child_process
  const { spawn } = await import("node:child_process");
  return new Promise((resolve) => {
    const child = spawn(self.path, [...self.prefix, ...args], {
      detached: true,
      stdio: ["ignore", "ignore", "ignore", "pipe"],
      env: { ...env, [LAUNCHER_FD_VAR]: "3" },
    });
    const lines: string[] = [];
    let buffered = "";
    let ready = false;
    const pipe = child.stdio[3] as NodeJS.ReadableStream | null;
    pipe?.on("data", (d: Buffer | string) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === READY_MARK) {
          ready = true;
          child.unref();
          (pipe as unknown as { destroy?: () => void }).destroy?.();
          resolve(0);
          return;
        }
        lines.push(line);
      }
    });
    // "close", not "exit": the master may have exited before the launcher has read the last
    // of its log from the pipe; "close" comes once the pipe is drained too.
    child.on("close", (code, signal) => {
      if (ready) return;
      for (const line of lines) stderr(line);
      resolve(code ?? (signal ? 128 + (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 }) as Record<string, number>)[signal]! : 1));
    });
    child.on("error", (e) => {
      stderr(`steward: cannot start the master in the background: ${e.message}`);
      resolve(1);
    });
  });
}

/**
 * In the master: the pipe to the -D launcher, taken from the environment so that no child
 * inherits it. Log lines are copied to it until the first generation is ready.
 */
export class LauncherPipe {
  private fd: number | undefined;

  constructor(private readonly px: Posix, env: Record<string, string | undefined>) {
    const raw = env[LAUNCHER_FD_VAR];
    if (raw === undefined) return;
    delete env[LAUNCHER_FD_VAR];
    const fd = Number(raw);
    try {
      px.setCloexec(fd, true);
    } catch {
      return;
    }
    px.fn.setsid(); // detached already made a new session where the runtime could; EPERM otherwise
    this.fd = fd;
  }

  /** A log line, through libc: node:fs under Deno maps descriptor numbers above 2 to its own resources. */
  write(line: string): void {
    if (this.fd !== undefined) this.px.writeAll(this.fd, `${line}\n`);
  }

  /** Tells the launcher the first generation is ready, and lets it go. */
  release(): void {
    if (this.fd === undefined) return;
    this.px.writeAll(this.fd, `${READY_MARK}\n`);
    this.px.close(this.fd);
    this.fd = undefined;
  }
}
