/**
 * Reload by re-execution (SPEC §5.3, §5.4): one reload at a time; preflight; the state
 * written for the next image; listeners and the notify socket kept open across execve;
 * the same PID. The next image finishes the reload (MasterHost.resume → resumeIn).
 *
 * Signals during the exec: reload, quit and tty signals are set to SIG_IGN (a disposition
 * that survives execve, so none can kill the master before the new image has handlers;
 * a reload asked for then is merged into this one, whose new image reads the
 * configuration afresh). Stop signals are blocked instead, so that they wait, pending,
 * for the new image's handlers. Deno keeps the mask. Bun's start-up clears it, so in a
 * compiled master a stop signal is safe only once main.ts has hooked it (signal-router.ts),
 * a few milliseconds after execve; one landing before that still ends the master at once.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { VERSION } from "../version.ts";
import { encodeHandover, HANDOVER_FORMAT, HANDOVER_VAR, type Handover } from "./handover.ts";
import type { RunOptions } from "./options.ts";
import { fileIdentity, preflight, preflightSameBinary, sameFile, type PreflightPorts } from "./preflight.ts";
import type { MasterHost } from "./run.ts";
import type { MasterState } from "./state.ts";
import type { Session } from "../mcli/server.ts";

/** A master CLI session waiting for the outcome of the reload it asked for. */
export interface Requester {
  session: Session;
  reply: (text: string) => void;
}

export const ANOTHER_RELOAD = "Success=0\n--\nAnother reload is still in progress.";

const SIGHUP = 1;
const SIGINT = 2;
const SIGQUIT = 3;
const SIGUSR1 = 10;
const SIGUSR2 = 12;
const SIGTERM = 15;
const SIGTTIN = 21;
const SIGTTOU = 22;

export class Reloader {
  /** blocked across execve, unblocked by the new image once its handlers exist */
  static readonly HELD_SIGNALS = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGTTIN, SIGTTOU];
  /** ignored across execve: their default action would end or stop the master */
  static readonly IGNORED_DURING_EXEC = [SIGHUP, SIGQUIT, SIGUSR2, SIGTTIN, SIGTTOU];

  private busy = false;
  private pending = false;
  /** the preflight run of the new binary, while it runs */
  private preflightPid?: number;
  private requester?: Requester;

  constructor(private readonly host: MasterHost) {}

  get inProgress(): boolean {
    return this.busy;
  }

  /**
   * A reload asked for by a signal (merged into one more if one is running) or by a CLI
   * session (refused with "Another reload is still in progress." if one is running).
   */
  request(origin: string, hard = false, requester?: Requester): void {
    const { host } = this;
    if (host.state.phase === "stopping") {
      requester?.reply("Success=0\n--\nThe master is stopping.");
      return;
    }
    if (requester && (this.busy || host.state.phase !== "running")) {
      requester.reply(ANOTHER_RELOAD);
      return;
    }
    if (this.busy || host.state.phase !== "running") {
      if (!this.pending) host.log.notice(`${origin} received during a reload: one more reload will follow`);
      this.pending = true;
      return;
    }
    this.busy = true;
    host.metrics.reloadBegan();
    if (requester) this.requester = requester;
    host.log.beginLoad();
    host.log.notice(`Reloading (${origin})`);
    host.notifier.reloading();
    void this.prepareAndExec(hard);
  }

  private async prepareAndExec(hard: boolean): Promise<void> {
    const { host } = this;
    const ports: PreflightPorts = {
      spawn: (path, argv, outputPath) =>
        (this.preflightPid = host.px.spawn({ path, argv, env: childEnv(), passFds: [], ownProcessGroup: true, outputPath })),
      waitFor: (pid) =>
        host.waitFor(pid).then((ws) => {
          this.preflightPid = undefined;
          return ws;
        }),
      kill: (pid, sig) => void host.px.kill(pid, sig),
      after: (ms, fn) => {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      },
    };
    const self = host.runtime.self;
    const checked =
      host.runtime.compiled && host.inProcessCheck && sameFile(host.selfIdentity, fileIdentity(self.path))
        ? await preflightSameBinary(self, host.current.args, host.inProcessCheck)
        : await preflight(ports, self, host.current.args, HANDOVER_FORMAT, join(host.runDir, "preflight.out"));
    if (!checked.ok) {
      for (const line of checked.output) host.log.alert(`preflight: ${line}`);
      this.failed(checked.reason);
      return;
    }
    if (host.state.phase !== "running") {
      this.busy = false; // stopping meanwhile: nothing to reload into
      return;
    }
    // The same binary checked the configuration in this process: its workers can start now,
    // while the master re-executes, rather than after it (the new image gates them).
    const early = checked.options ? host.startEarly(checked.options) : undefined;
    this.exec(hard, early);
  }

  /** Writes the state and execs; returns only when execve failed. */
  private exec(hard: boolean, early?: Handover["early"]): void {
    const { host } = this;
    const { px } = host;
    const { processes, phase: _phase, ...master } = host.state;
    // CLI sessions end here (answered first), but for those that have sent nothing yet
    const fresh = host.cli.prepareExec(this.requester?.session);
    const handover: Handover = {
      format: HANDOVER_FORMAT,
      writtenBy: VERSION,
      master,
      processes: [...processes.values()],
      listeners: host.listeners.list().map(({ config: _c, ...l }) => l),
      notify: { fd: host.notify.fd, path: host.notify.path },
      runDir: host.runDir,
      options: host.current,
      cli: {
        listeners: host.cliListeners.list().map(({ config: _c, ...l }) => l),
        ...(this.requester ? { requester: host.cli.handOver(this.requester.session) } : {}),
        fresh,
      },
      loadLines: host.log.loadLines(),
      reloadPending: this.pending,
      hard,
      ...(early ? { early } : {}),
      metrics: host.metrics.prepareExec(),
    };
    // Undoing what this image did for the exec once it cannot happen.
    const abort = (reason: string) => {
      host.cli.execFailed(this.requester?.session);
      host.metrics.execFailed();
      if (early) host.supervisor.abandonEarly(early.generation);
      this.failed(reason);
    };
    const statePath = join(host.runDir, "handover.json");
    try {
      writeFileSync(statePath, encodeHandover(handover), { mode: 0o600 });
    } catch (e) {
      abort(`cannot write the state for the new image: ${(e as Error).message}`);
      return;
    }
    const self = host.runtime.self;
    const argv = [self.path, ...self.prefix, ...host.current.args];

    host.listeners.keepAcrossExec(true);
    host.notify.prepareExec();
    const previous = Reloader.IGNORED_DURING_EXEC.map((s) => [s, px.ignoreSignal(s)] as const);
    px.maskSignals(Reloader.HELD_SIGNALS, true);
    try {
      px.execve(self.path, argv, { ...childEnv(), [HANDOVER_VAR]: statePath });
    } catch (e) {
      px.maskSignals(Reloader.HELD_SIGNALS, false);
      for (const [s, handler] of previous) px.restoreSignal(s, handler);
      host.notify.execFailed();
      host.listeners.keepAcrossExec(false);
      abort(`exec of ${self.path} failed: ${(e as Error).message}`);
    }
  }

  /** The master is stopping: a preflight still running goes with it (its whole process group). */
  stopping(): void {
    const pid = this.preflightPid;
    if (pid === undefined) return;
    this.host.px.kill(-pid, 9);
    this.host.px.kill(pid, 9);
  }

  private failed(reason: string): void {
    const { host } = this;
    host.state.failedReloads++;
    host.state.lastFailure = reason;
    host.log.alert(`Reload failed: ${reason}`);
    host.notifier.reloadFailed(reason);
    this.finish(false);
  }

  private finish(ok: boolean): void {
    this.busy = false;
    this.host.metrics.reloadEnded(ok);
    this.host.settleSoon();
    const requester = this.requester;
    this.requester = undefined;
    requester?.reply(`Success=${ok ? 1 : 0}\n--\n${this.host.log.loadLines().join("\n")}`);
    if (this.pending) {
      this.pending = false;
      this.request("merged reload request");
    }
  }

  /** In the new image: finish the reload the previous image started. */
  resumeIn(
    _state: MasterState,
    handover: Handover,
    opts: RunOptions | undefined,
    problems: string[] | undefined,
    requester?: Requester,
    adoptEarly = false,
  ): void {
    this.busy = true;
    this.pending = handover.reloadPending;
    if (requester) this.requester = requester;
    if (problems || !opts) {
      problems ??= ["the configuration did not load"];
      for (const line of problems) this.host.log.alert(line);
      this.failed(`configuration: ${problems[0] ?? "invalid"}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`);
      return;
    }
    this.host.reloadWith(opts, handover.hard, (r) => this.finish(r.ok), adoptEarly);
  }
}

/** The environment for children of the master: its own, without a handover pointer. */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== HANDOVER_VAR) env[k] = v;
  return env;
}
