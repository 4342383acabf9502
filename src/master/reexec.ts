/**
 * Reload by re-execution (REFERENCE §5.3, §5.4): one reload at a time; preflight; the state
 * written for the next image; listeners and the notify socket kept open across execve;
 * the same PID. The next image finishes the reload (MasterHost.resume → resumeIn).
 *
 * Signals during the exec: from just before the state is written, the master's signals
 * are held (exec-signals.ts): a stop signal that arrived before is handled first (and
 * the reload gives way), one that arrives after waits, pending, for the new image's
 * handlers, which main.ts installs before anything else. Reload, quit and tty signals
 * are also set to SIG_IGN for the execve (a disposition that survives it; a reload asked
 * for then is merged into this one, whose new image reads the configuration afresh).
 */
import { join } from "node:path";
import process from "node:process";
import { VERSION } from "../version.ts";
import { encodeHandover, HANDOVER_FORMAT, HANDOVER_VAR, type Handover } from "./handover.ts";
import type { RunOptions } from "./options.ts";
import { fileIdentity, preflight, sameFile, type PreflightPorts } from "./preflight.ts";
import type { MasterHost } from "./run.ts";
import { nextGeneration, type MasterState } from "./state.ts";
import { writePrivateFile } from "./rundir.ts";
import type { Session } from "../mcli/server.ts";
import { ExecSignals } from "./exec-signals.ts";
import { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGTTIN, SIGTTOU } from "../sys/constants.ts";
import { killGroupThenPid } from "../sys/kill.ts";

/** A master CLI session waiting for the outcome of the reload it asked for. */
export interface Requester {
  session: Session;
  reply: (text: string) => void;
}

export const ANOTHER_RELOAD = "Success=0\n--\nAnother reload is still in progress.";

/** Why a reload asked for from the master CLI during a probation is refused (no re-exec happens during one). */
export function onProbation(p: { generation: number; until: number }): string {
  return `Generation ${p.generation} is on probation until ${new Date(p.until).toISOString()}: 'promote' or 'rollback' first, or wait for its outcome.`;
}

const STOP_SIGNALS = [SIGTERM, SIGINT, SIGUSR1];

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
  private readonly signals: ExecSignals;

  constructor(private readonly host: MasterHost) {
    this.signals = new ExecSignals(host.runtime, host.px, process.arch);
  }

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
    const probation = host.state.probation;
    if (requester && probation) {
      requester.reply(`Success=0\n--\n${onProbation(probation)}`);
      return;
    }
    if (requester && (this.busy || host.state.phase !== "running")) {
      requester.reply(ANOTHER_RELOAD);
      return;
    }
    if (this.busy || host.state.phase !== "running") {
      if (!this.pending) host.log.notice(`${origin} received during a reload${probation ? " (a probation)" : ""}: one more reload will follow its outcome`);
      this.pending = true;
      return;
    }
    this.busy = true;
    host.cli.reloadStarted();
    host.metrics.reloadBegan();
    if (requester) this.requester = requester;
    host.log.beginLoad();
    host.log.notice(`Reloading (${origin})`, { event: "reload-started", generation: nextGeneration(host.state) });
    host.notifier.reloading();
    void this.prepareAndExec(hard);
  }

  private async prepareAndExec(hard: boolean): Promise<void> {
    const { host } = this;
    const ports: PreflightPorts = {
      spawn: (path, argv, outputPath) =>
        (this.preflightPid = host.px.spawn({ path, argv, env: childEnv(host.runtime.env), passFds: [], ownProcessGroup: true, outputPath })),
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
    const sameBinary = host.runtime.compiled && sameFile(host.selfIdentity, fileIdentity(self.path));
    const checked = await preflight(ports, self, host.current.args, HANDOVER_FORMAT, join(host.runDir, "preflight.out"), sameBinary);
    if (!checked.ok) {
      for (const line of checked.output) host.log.alert(`preflight: ${line}`);
      this.failed(checked.reason);
      return;
    }
    // From here a stop signal either arrived (and wins) or waits for the next image.
    await this.signals.hold(Reloader.HELD_SIGNALS);
    if (host.state.phase !== "running" || this.signals.waiting(STOP_SIGNALS).length > 0) {
      this.signals.release(Reloader.HELD_SIGNALS);
      this.busy = false; // stopping meanwhile: nothing to reload into
      return;
    }
    // The same binary checked the configuration and said what it loads: its workers can
    // start now, while the master re-executes, rather than after it (the new image gates them).
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
      ...(host.pidfile.written ? { pidfile: host.pidfile.written } : {}),
      ...(host.userDirs.handover() ? { userDirs: host.userDirs.handover()! } : {}),
      metrics: host.metrics.prepareExec(),
      events: host.events.handOver(),
    };
    // Undoing what this image did for the exec once it cannot happen.
    const abort = (reason: string) => {
      this.signals.release(Reloader.HELD_SIGNALS);
      host.cli.execFailed(this.requester?.session);
      host.metrics.execFailed();
      if (early) host.supervisor.abandonEarly(early.generation);
      this.failed(reason);
    };
    const statePath = join(host.runDir, "handover.json");
    try {
      writePrivateFile(statePath, encodeHandover(handover));
    } catch (e) {
      abort(`cannot write the state for the new image: ${(e as Error).message}`);
      return;
    }
    const self = host.runtime.self;
    const argv = [self.path, ...self.prefix, ...host.current.args];

    host.listeners.keepAcrossExec(true);
    host.notify.prepareExec();
    host.userDirs.prepareExec();
    const previous = Reloader.IGNORED_DURING_EXEC.map((s) => [s, px.ignoreSignal(s)] as const);
    try {
      px.execve(self.path, argv, { ...childEnv(host.runtime.env), [HANDOVER_VAR]: statePath });
    } catch (e) {
      for (const [s, handler] of previous) px.restoreSignal(s, handler);
      host.notify.execFailed();
      host.userDirs.execFailed();
      host.listeners.keepAcrossExec(false);
      abort(`exec of ${self.path} failed: ${(e as Error).message}`);
    }
  }

  /** The master is stopping: a preflight still running goes with it (its whole process group). */
  stopping(): void {
    const pid = this.preflightPid;
    if (pid === undefined) return;
    killGroupThenPid((t, s) => this.host.px.kill(t, s), pid);
  }

  private failed(reason: string): void {
    const { host } = this;
    host.state.failedReloads++;
    host.state.lastFailure = reason;
    host.log.alert(`Reload failed: ${reason}`, { event: "reload-failed", generation: nextGeneration(host.state), reason });
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
function childEnv(masterEnv: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(masterEnv)) if (v !== undefined && k !== HANDOVER_VAR) env[k] = v;
  return env;
}
