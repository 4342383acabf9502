/**
 * A supervisor on the fake system (test/unit/_fake-system.ts), running generation 0 of
 * plan A (path /bin/a), with its log lines and their structured fields kept.
 */
import assert from "node:assert/strict";
import type { Config, GlobalConfig } from "../../src/config/types.ts";
import { DEFAULT_GLOBAL } from "../../src/config/global.ts";
import type { LogFields } from "../../src/log-format.ts";
import type { Logger } from "../../src/log.ts";
import { Supervisor } from "../../src/master/supervisor.ts";
import type { MasterState } from "../../src/master/state.ts";
import { FakeSystem } from "./_fake-system.ts";

/**
 * A logger that keeps each line as `LEVEL message` and the structured fields of each
 * event (a call whose fields name an `event`; all fields with `allFields`).
 */
export function recordingLog(allFields = false): { log: Logger; lines: string[]; events: LogFields[] } {
  const lines: string[] = [];
  const events: LogFields[] = [];
  const record = (level: string) => (m: string, fields?: LogFields) => {
    lines.push(`${level} ${m}`);
    if (fields && (allFields || fields.event !== undefined)) events.push(fields);
  };
  const log: Logger = {
    notice: record("NOTICE"),
    warn: record("WARNING"),
    alert: record("ALERT"),
    debug: record("DEBUG"),
    loadLines: () => lines,
    beginLoad: () => {},
    restoreLoad: () => {},
    batch: (fn) => fn(),
  };
  return { log, lines, events };
}

export function config(global: Partial<GlobalConfig> = {}): Config {
  return {
    global: { ...DEFAULT_GLOBAL, workers: 4, ...global },
    listen: [{ name: "l0", bind: "tcp://127.0.0.1:8000", address: { kind: "tcp", host: "127.0.0.1", port: 8000, family: 4 }, backlog: 511 }],
    worker: { command: ["/bin/true"], env: {} },
    program: [],
    masterCli: [],
  };
}

export const planA = (id: number, generation: number) => ({ label: `worker ${id}`, path: "/bin/a", argv: ["a", String(id), String(generation)], env: {}, fds: [] });
export const planB = (id: number, generation: number) => ({ label: `worker ${id}`, path: "/bin/b", argv: ["b", String(id), String(generation)], env: {}, fds: [] });

/** A supervisor on the fake system, running generation 0 (4 workers of plan A, all accepting). */
export function runningOnFake(global: Partial<GlobalConfig> = {}) {
  const sys = new FakeSystem();
  const events: { message: string; fields?: LogFields }[] = [];
  const push = (message: string, fields?: LogFields) => void events.push({ message, ...(fields ? { fields } : {}) });
  const log: Logger = { notice: push, warn: push, alert: push, debug: push, loadLines: () => [], beginLoad: () => {}, restoreLoad: () => {}, batch: (fn) => fn() };
  const state: MasterState = { pid: 1, startedAt: sys.now(), reloads: 0, failedReloads: 0, version: "test", phase: "starting", processes: new Map() };
  const sup = new Supervisor(config(global), state, sys, log, planA);
  sys.onDeath = (ws) => sup.childExited(ws);
  sup.start();
  for (const p of sys.alive()) p.accepting = true;
  sys.advance(10);
  assert.equal(state.phase, "running");
  const flush = () => new Promise((r) => setTimeout(r, 0));
  const of = (path: string) => [...sys.processes.values()].filter((p) => p.spec.path === path);
  const alive = (path: string) => of(path).filter((p) => p.alive);
  const named = (event: string) => events.filter((e) => e.fields?.event === event).map((e) => e.fields!);
  return { sys, sup, state, events, log, flush, of, alive, named };
}

