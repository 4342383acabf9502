/**
 * A reload (REFERENCE §5.3, §5.4) as a state machine of its own, over `ReloadPorts`:
 *
 *   idle ─request→ preflight ─→ early-start ─→ hold ─→ exec ══execve══▶ (new image) load ─→ finish → idle
 *                      │                          │        │                             │
 *                      └──────────────────────────┴─ fail ◀┴─────────────────────────────┘
 *
 * and, when the preflight is skipped (below) and no probation is configured:
 *
 *   idle ─request→ load ─→ finish → idle ─(quiet REEXEC_QUIET_MS)→ hold ─→ exec ══execve══▶ (new image) idle
 *                    └─→ fail → idle
 *
 * - request: one reload at a time. A signal during a reload is merged into one more
 *   reload after it (`pending`, carried across the exec); a CLI `reload` during one is
 *   refused; while stopping, nothing starts.
 * - preflight: the executable on disk must start and accept the configuration
 *   (preflight.ts); a stop meanwhile kills it. Skipped when it could only repeat the check
 *   this image made: the executable is the file this image runs, unchanged, and the
 *   configuration is the regular file it read, unchanged (or none); the next generation
 *   then starts at once from the running options. The re-exec could then change nothing
 *   the load needs, so this image loads it (`Loading success.`, READY=1, old workers
 *   retired, the requester answered) and re-executes once reloads have been quiet for
 *   REEXEC_QUIET_MS: off the reload's critical path, where its CPU competed with the new
 *   workers' start, and once for a burst of reloads, which this warm image serves. With a
 *   probation, whose state never crosses an exec, the master re-executes first as before.
 * - early start: into the same binary, the next generation starts now (gated by the new
 *   image), before the hold, whose signal round trip it need not wait for.
 * - hold: the master's signals are held for the next image (exec-signals.ts); a stop
 *   signal that arrived before wins and the reload gives way: the stop ends the workers
 *   started early with the others.
 * - exec: the state is written and execve called; when either fails, everything the
 *   exec prepared is undone (signals, descriptors, sessions, the early generation).
 * - load (the new image, `resumeIn`): the supervisor loads the configuration that image read.
 * - fail: the one place that records a failed reload (count, reason, log, sd_notify) —
 *   but for a failed load, which the supervisor records itself — and leaves the old
 *   generation current. finish: replies to the CLI session that asked, then the merged reload.
 */
import { join } from "node:path";
import type { Session } from "../mcli/server.ts";
import { encodeHandover, HANDOVER_FORMAT, HANDOVER_VAR, type Handover } from "./handover.ts";
import type { RunOptions } from "./options.ts";
import { sameFile } from "./os.ts";
import { preflight, type PreflightResult } from "./preflight.ts";
import { ANOTHER_RELOAD, LOADED_FIRST, MASTER_STOPPING, onProbation, REEXEC_QUIET_MS, type Early, type ReloadPorts, type ReloadStep, type Requester } from "./reloader-ports.ts";
import { nextGeneration } from "../state.ts";

export { ANOTHER_RELOAD, LOADED_FIRST, MASTER_STOPPING, onProbation, REEXEC_QUIET_MS } from "./reloader-ports.ts";
export type { Early, LoadOutcome, ReloadLog, ReloadPorts, ReloadStep, Requester } from "./reloader-ports.ts";

export class Reloader {
  private current: ReloadStep = "idle";
  /** a reload was loaded before the re-exec it owes (loadFirst): the master re-executes once reloads are quiet */
  private reexecDue = false;
  private reexecTimer?: { cancel(): void };
  /** the re-exec that reloads owed is under way (hold, exec) */
  private quietExec = false;
  /** the CLI session that asked for the last reload loaded before the re-exec it owes */
  private answered?: Session;
  /** a reload signal arrived during this reload: one more follows it */
  private pending = false;
  /** the preflight run of the new binary, while it runs */
  private preflightPid?: number;
  private requester?: Requester;

  constructor(private readonly ports: ReloadPorts) {}

  get step(): ReloadStep {
    return this.current;
  }

  get inProgress(): boolean {
    return this.current !== "idle";
  }

  /**
   * A reload asked for by a signal (merged into one more if one is running) or by a CLI
   * session (refused with "Another reload is still in progress." if one is running).
   */
  request(origin: string, hard = false, requester?: Requester): void {
    // the reload's first lines are written once its workers are spawned (Logger.batch)
    this.ports.log.batch(() => this.begin(origin, hard, requester));
  }

  private begin(origin: string, hard: boolean, requester: Requester | undefined): void {
    const { ports } = this;
    const phase = ports.state().phase;
    if (phase === "stopping") return requester?.reply(MASTER_STOPPING);
    const probation = ports.state().probation;
    if (requester && probation) return requester.reply(`Success=0\n--\n${onProbation(probation)}`);
    if (requester && this.quietExec && this.current === "hold" && !this.requester) {
      // the master is about to re-execute: the next image runs this reload and answers it
      this.requester = requester;
      return this.merge(origin, false);
    }
    if (requester && (this.inProgress || phase !== "running")) return requester.reply(ANOTHER_RELOAD);
    if (this.inProgress || phase !== "running") return this.merge(origin, !!probation);
    this.requester = requester;
    this.reexecTimer?.cancel();
    this.reexecTimer = undefined;
    ports.began();
    ports.log.beginLoad();
    ports.log.notice(`Reloading (${origin})`, { event: "reload-started", generation: nextGeneration(ports.state()) });
    ports.reloading();
    if (this.checkedAlready()) {
      const options = ports.current();
      if (options.config.global.probation > 0) {
        ports.log.notice("Same executable and configuration file as the running generation's: no preflight");
        void this.hold(hard, options);
      } else {
        ports.log.notice(LOADED_FIRST);
        this.loadFirst(hard, options);
      }
    } else {
      void this.preflight(hard);
    }
  }

  /**
   * Whether a preflight could only repeat what this image checked: the executable is the
   * file this image started from, unchanged, and the configuration is the one it read —
   * given on the command line only, or a regular file with the same identity. (A file
   * changed after that check is read again by the new image, whose failure to load it
   * is a failed reload like any other.)
   */
  private checkedAlready(): boolean {
    const { ports } = this;
    const { os } = ports;
    if (!ports.compiled || !sameFile(ports.selfIdentity, os.fileIdentity(ports.self.path))) return false;
    const source = ports.current().configSource;
    if (!source) return false;
    return source.file === undefined || sameFile(source.identity, os.fileIdentity(source.file));
  }

  /**
   * The reload is loaded in this image, and the re-exec follows its success: nothing it
   * would change matters to the load (the same binary, the same options).
   */
  private loadFirst(hard: boolean, options: RunOptions): void {
    this.current = "load";
    this.ports.load(options, hard, false, (outcome) => {
      if (!outcome.ok) return this.fail(outcome.reason, outcome);
      this.reexecDue = true;
      this.finish(true);
    });
  }

  private merge(origin: string, probation: boolean): void {
    if (!this.pending) {
      this.ports.log.notice(
        this.quietExec
          ? `${origin} received while the master re-executes: the next image reloads`
          : `${origin} received during a reload${probation ? " (a probation)" : ""}: one more reload will follow its outcome`,
      );
    }
    this.pending = true;
  }

  private async preflight(hard: boolean): Promise<void> {
    const { ports } = this;
    const { os, self } = ports;
    this.current = "preflight";
    const checked: PreflightResult = await preflight(
      {
        spawn: (path, argv, outputPath) =>
          (this.preflightPid = os.spawn({ path, argv, env: childEnv(os.env), passFds: [], ownSession: true, outputPath })),
        waitFor: (pid) =>
          ports.waitFor(pid).then((ws) => {
            this.preflightPid = undefined;
            return ws;
          }),
        kill: (pid, sig) => void os.kill(pid, sig),
        after: (ms, fn) => os.after(ms, fn),
        executableProblem: (path) => os.executableProblem(path),
        tailLines: (path, max) => os.tailLines(path, max),
      },
      self,
      ports.current().args,
      HANDOVER_FORMAT,
      join(ports.runDir(), "preflight.out"),
      ports.compiled && sameFile(ports.selfIdentity, os.fileIdentity(self.path)),
    );
    if (!checked.ok) {
      for (const line of checked.output) ports.log.alert(`preflight: ${line}`);
      return this.fail(checked.reason);
    }
    await this.hold(hard, checked.options);
  }

  /**
   * The same binary checked the configuration and said what it loads (`options`): its
   * workers start now, while the master re-executes, rather than after it (the new image
   * gates them). From the hold on, a stop signal either arrived (and wins) or waits for
   * the next image.
   */
  private async hold(hard: boolean, options: RunOptions | undefined): Promise<void> {
    const { ports } = this;
    this.current = "early-start";
    const early = options ? ports.startEarly(options) : undefined;
    this.current = "hold";
    await ports.hold();
    if (ports.state().phase !== "running" || ports.stopWaiting()) {
      // stopping meanwhile: nothing to reload into; the stop ends the workers started early
      ports.release();
      this.current = "idle";
      return;
    }
    this.exec(hard, early);
  }

  /** Writes the state and execs; returns only when that failed, after undoing what it prepared. */
  private exec(hard: boolean, early: Early | undefined): void {
    const { ports } = this;
    const { os, self } = ports;
    this.current = "exec";
    const reloaded = this.quietExec;
    const session = this.requester?.session;
    const answered = reloaded && this.answered && ports.crossesExec(this.answered) ? this.answered : undefined;
    const handover = ports.handOver({ reloadPending: this.pending, hard, ...(early ? { early } : {}), ...(reloaded ? { reloaded } : {}) }, session, answered);
    const undo = (reason: string) => {
      ports.release();
      ports.handOverFailed(session, answered);
      if (early) ports.abandonEarly(early.generation);
      if (!reloaded) return this.fail(reason);
      // the reloads succeeded: this image goes on supervising them, and does not try again
      ports.log.warn(`The master did not re-execute after reload ${ports.state().reloads} (${reason}): this image goes on`);
      this.quietExec = false;
      this.reexecDue = false;
      this.idle();
    };
    const statePath = join(ports.runDir(), "handover.json");
    try {
      os.writePrivate(statePath, encodeHandover(handover));
    } catch (e) {
      return undo(`cannot write the state for the new image: ${(e as Error).message}`);
    }
    ports.keepAcrossExec(true);
    try {
      os.execve(self.path, [self.path, ...self.prefix, ...ports.current().args], { ...childEnv(os.env), [HANDOVER_VAR]: statePath });
    } catch (e) {
      ports.keepAcrossExec(false);
      undo(`exec of ${self.path} failed: ${(e as Error).message}`);
    }
  }

  /**
   * In the new image: finish the reload the previous image started, loading the options
   * this image read (`options`), or failing with why it could not read them (`problems`).
   */
  resumeIn(handover: Handover, options: RunOptions | undefined, problems: string[] | undefined, requester?: Requester, adoptEarly = false): void {
    this.current = "load";
    this.pending = handover.reloadPending;
    this.requester = requester;
    if (problems || !options) {
      problems ??= ["the configuration did not load"];
      for (const line of problems) this.ports.log.alert(line);
      return this.fail(`configuration: ${problems[0] ?? "invalid"}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`);
    }
    this.ports.load(options, handover.hard, adoptEarly, (outcome) => {
      if (outcome.ok) this.finish(true);
      else this.fail(outcome.reason, outcome);
    });
  }

  /** The master is stopping: a preflight still running goes with it (its whole process group). */
  stopping(): void {
    this.reexecTimer?.cancel();
    this.reexecTimer = undefined;
    if (this.preflightPid !== undefined) this.ports.os.killGroup(this.preflightPid);
  }

  /** The reload failed: the old generation stays current. `load`: how its load ended, when it was the load that failed. */
  private fail(reason: string, load?: { recorded: boolean; rolledBack?: boolean }): void {
    const { ports } = this;
    const state = ports.state();
    if (!load?.recorded) {
      state.failedReloads++;
      state.lastFailure = reason;
      ports.log.alert(`Reload failed: ${reason}`, { event: "reload-failed", generation: nextGeneration(state), reason });
    }
    if (load && state.phase === "stopping") {
      // a load ended by the master stopping (during a probation): no READY=1 after STOPPING=1
    } else if (load?.rolledBack) {
      ports.rolledBack(reason);
    } else {
      ports.reloadFailed(reason);
    }
    this.finish(false);
  }

  /** The reload ended: the requester gets its answer; then the merged reload, or, when due and quiet, the re-exec. */
  private finish(ok: boolean): void {
    this.ports.ended(ok);
    const requester = this.requester;
    this.requester = undefined;
    requester?.reply(`Success=${ok ? 1 : 0}\n--\n${this.ports.log.loadLines().join("\n")}`);
    this.answered = requester?.session;
    this.idle();
  }

  private idle(): void {
    this.current = "idle";
    if (this.pending) {
      this.pending = false;
      const requester = this.requester;
      this.requester = undefined;
      return this.request("merged reload request", false, requester);
    }
    if (this.reexecDue && !this.reexecTimer) this.reexecTimer = this.ports.os.after(REEXEC_QUIET_MS, () => void this.reexecWhenQuiet());
  }

  /**
   * Reloads loaded before the re-exec they owe have been quiet for REEXEC_QUIET_MS: the
   * master re-executes, holding its signals as for any exec (a stop signal that waits wins;
   * a reload asked for meanwhile is the next image's). Not if the executable changed since
   * (a preflight must check it first: the next reload does), nor during a probation.
   */
  private async reexecWhenQuiet(): Promise<void> {
    const { ports } = this;
    this.reexecTimer = undefined;
    if (!this.reexecDue || this.inProgress || ports.state().phase !== "running" || ports.state().probation) return;
    if (!sameFile(ports.selfIdentity, ports.os.fileIdentity(ports.self.path))) {
      this.reexecDue = false;
      ports.log.notice(`${ports.self.path} changed since reload ${ports.state().reloads}: the master re-executes into it at the next reload, after its preflight`);
      return;
    }
    this.current = "hold";
    this.quietExec = true;
    await ports.hold();
    if (ports.state().phase !== "running" || ports.stopWaiting()) {
      ports.release();
      this.quietExec = false;
      this.current = "idle";
      this.pending = false;
      this.requester?.reply(MASTER_STOPPING);
      this.requester = undefined;
      return;
    }
    this.exec(false, undefined);
  }

  /**
   * In the new image after a re-exec owed by reloads the previous image loaded: then the
   * reload asked for meanwhile (`requester`: by a CLI session, which it answers).
   */
  resumeAfter(handover: Handover, requester?: Requester): void {
    this.pending = handover.reloadPending;
    this.requester = requester;
    this.idle();
  }
}

/** The environment for children of the master: its own, without a handover pointer. */
export function childEnv(masterEnv: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(masterEnv)) if (v !== undefined && k !== HANDOVER_VAR) env[k] = v;
  return env;
}
