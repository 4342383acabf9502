/**
 * The master CLI's commands (REFERENCE §7.3) and routing to workers (§7.4). Replies are built
 * from a read-only view of the master; only `reload` and `hard-reload` act.
 * Over ~350 lines: the command table beside the replies it renders; `show proc` apart
 * would need a second upward import of master/state.ts (test/unit/layers.test.ts).
 */
import { Buffer } from "node:buffer";
import type { MasterState, ProcessEntry } from "../state.ts";
import { closeMatches, formatUptime, joinWords, levelAllows, procHeader, procLine, type Level } from "./protocol.ts";
import type { CommandRunner, Session } from "./server.ts";
import { parseShowEvents, type EventLog } from "./events.ts";
import { StreamReply } from "./event-stream.ts";

export interface MasterView {
  readonly pid: number;
  readonly version: string;
  /** the file the master re-executes on reload (what `steward upgrade -S` replaces); `compiled`: a steward executable, not a runtime running the source */
  readonly exe: { path: string; compiled: boolean };
  readonly state: MasterState;
  /** `show listeners` lines */
  listenerLines(): string[];
  startupLogs(): string[];
  /** every descendant of a worker or program (pre-fork servers' children), by PID */
  descendantsOf?(pid: number): number[];
  env(): Record<string, string | undefined>;
  /** runs a reload for this session; resolves with `Success=N`, `--` and the load's log */
  reload(session: Session, hard: boolean): Promise<string>;
  /** the socket a worker may serve forwarded commands on; undefined if it is not there as it must be */
  cliSocketOf(p: ProcessEntry): string | undefined;
  rssKiB(pid: number): number | undefined;
  /**
   * Whether the process (or a descendant) holds one of the master's listening sockets, read
   * from /proc now; undefined when the master has no listener or it cannot tell.
   */
  holdsListener(pid: number): boolean | undefined;
  /** `show metrics`: the Prometheus text exposition */
  metricsText(): string;
  /** `show events`: the master's numbered events */
  readonly events: EventLog;
  /** `promote` / `rollback`: ends the probation one way or the other; the one-line outcome */
  endProbation(action: "promote" | "rollback"): string;
}

interface Command {
  words: string[];
  level: Level;
  help: string;
  run(view: MasterView, session: Session, args: string[]): ReturnType<CommandRunner>;
}

/** a worker that does not accept within this is reported as having no CLI */
const CONNECT_TIMEOUT_MS = 10_000;
/** a worker that accepted but stays silent this long ends the exchange (the session idle limit) */
const REPLY_TIMEOUT_MS = 10 * 60_000;

/** Commands that act on the session itself: the master runs them even when a default target is set (as HAProxy does). */
const SESSION_COMMANDS: ReadonlySet<string> = new Set(["prompt", "quit", "operator", "user"]);

function uptimeOf(view: MasterView, startedAt: number): string {
  return formatUptime((Date.now() - startedAt) / 1000);
}

function byRole(state: MasterState) {
  const all = [...state.processes.values()].sort((a, b) => a.id - b.id || a.pid - b.pid);
  return {
    current: all.filter((p) => p.kind === "worker" && (p.role === "current" || p.role === "loading" || p.role === "probation")),
    old: all.filter((p) => p.kind === "worker" && (p.role === "old" || p.role === "failed")),
    programs: all.filter((p) => p.kind === "program"),
  };
}

/** Marks a current worker that holds none of the listeners (it serves nobody while connections wait). */
export const NOT_LISTENING = "[not listening]";

/** Marks a worker of the generation on probation (REFERENCE §7.5, §5.8); the master's row says which generation and until when. */
export const ON_PROBATION = "[probation]";

function probationMark(state: MasterState): string {
  const p = state.probation;
  return p ? ` [probation: generation ${p.generation} until ${new Date(p.until).toISOString()}]` : "";
}

export function showProc(view: MasterView): string {
  const { state } = view;
  const groups = byRole(state);
  const row = (p: ProcessEntry) =>
    procLine({
      pid: p.pid,
      type: p.kind === "worker" ? "worker" : p.name,
      reloads: String(Math.max(0, state.reloads - p.generation)),
      uptime: uptimeOf(view, p.startedAt),
      version: p.kind !== "worker" ? "-" : p.runtime !== undefined ? `${p.version} [${p.runtime}]` : p.version,
    });
  const current = (p: ProcessEntry) => {
    const marks = [...(p.role === "probation" ? [ON_PROBATION] : []), ...(view.holdsListener(p.pid) === false ? [NOT_LISTENING] : [])];
    return [row(p), ...marks].join(" ");
  };
  const lines = [
    procHeader(),
    procLine({
      pid: view.pid,
      type: "master",
      reloads: `${state.reloads} [failed: ${state.failedReloads}]`,
      uptime: uptimeOf(view, state.startedAt),
      version: view.version,
    }) + probationMark(state),
    "# workers",
    ...groups.current.map(current),
    "# old workers",
    ...groups.old.map(row),
    "# programs",
    ...groups.programs.map(row),
  ];
  return `${lines.join("\n")}\n`;
}

/** A process's state in words, when it sent no STATUS= of its own. Old workers were ready once: they are stopping now. */
function statusOf(p: ProcessEntry): string {
  if (p.role === "old") return "stopping";
  if (p.role === "probation") return p.ready ? "probation" : "starting";
  if (p.role === "failed") return "failed";
  return p.ready ? "ready" : "starting";
}

export function showProcJson(view: MasterView): string {
  const { state } = view;
  const groups = byRole(state);
  const now = Date.now();
  const entry = (p: ProcessEntry) => ({
    pid: p.pid,
    type: p.kind === "worker" ? "worker" : p.name,
    id: p.id,
    generation: p.generation,
    reloads: Math.max(0, state.reloads - p.generation),
    uptime: Math.floor((now - p.startedAt) / 1000),
    version: p.version,
    ...(p.runtime !== undefined ? { runtime: p.runtime } : {}),
    status: p.status ?? statusOf(p),
    role: p.role,
    ready: p.ready,
    rss: (view.rssKiB(p.pid) ?? 0) * 1024,
    children: view.descendantsOf?.(p.pid) ?? [],
  });
  return JSON.stringify({
    master: {
      pid: view.pid,
      reloads: state.reloads,
      failedReloads: state.failedReloads,
      uptime: Math.floor((now - state.startedAt) / 1000),
      version: view.version,
      exe: view.exe.path,
      compiled: view.exe.compiled,
      status: state.lastFailure ? `Reload failed: ${state.lastFailure}` : state.phase,
      phase: state.phase,
      ...(state.probation ? { probation: { ...state.probation, until: new Date(state.probation.until).toISOString() } } : {}),
      rss: (view.rssKiB(view.pid) ?? 0) * 1024,
    },
    workers: groups.current.map((p) => {
      const listening = view.holdsListener(p.pid);
      return listening === undefined ? entry(p) : { ...entry(p), listening };
    }),
    oldWorkers: groups.old.map(entry),
    programs: groups.programs.map(entry),
  });
}

const COMMANDS: Command[] = [
  { words: ["help"], level: "user", help: "help [command]: list the commands this session may use", run: () => "" },
  { words: ["prompt"], level: "user", help: "prompt: toggle the interactive prompt", run: () => "" },
  { words: ["quit"], level: "user", help: "quit: close this session", run: () => null },
  { words: ["echo"], level: "user", help: "echo <text>: print text", run: (_v, _s, args) => args.join(" ") },
  { words: ["show", "version"], level: "user", help: "show version: the master's version", run: (v) => v.version },
  { words: ["show", "cli", "level"], level: "user", help: "show cli level: this session's level", run: (_v, s) => s.level },
  {
    words: ["operator"],
    level: "operator",
    help: "operator: lower this session to operator",
    run: (_v, s) => {
      s.level = "operator";
      return "";
    },
  },
  {
    words: ["user"],
    level: "user",
    help: "user: lower this session to user",
    run: (_v, s) => {
      s.level = "user";
      return "";
    },
  },
  {
    words: ["show", "proc"],
    level: "operator",
    help: "show proc [json]: the master, workers, old workers and programs",
    run: (v, _s, args) => (args[0] === "json" ? showProcJson(v) : showProc(v)),
  },
  { words: ["show", "listeners"], level: "operator", help: "show listeners: fd, name, address and kind of each listener", run: (v) => v.listenerLines().join("\n") },
  { words: ["show", "metrics"], level: "operator", help: "show metrics: counters and gauges in the Prometheus text format", run: (v) => v.metricsText() },
  {
    words: ["show", "events"],
    level: "operator",
    help: "show events [since N]: one JSON line per event (after event N), until the client closes or sends a line",
    run: (v, _s, args) => {
      const parsed = parseShowEvents(args, v.events.last);
      return "error" in parsed ? parsed.error : new StreamReply(v.events, parsed.since);
    },
  },
  { words: ["show", "startup-logs"], level: "operator", help: "show startup-logs: the log of the latest load attempt", run: (v) => v.startupLogs().join("\n") },
  {
    words: ["show", "env"],
    level: "admin",
    help: "show env [var]: the master's environment",
    run: (v, _s, args) => {
      const env = v.env();
      if (args[0] !== undefined) return env[args[0]] === undefined ? `Variable not found: '${args[0]}'` : `${args[0]}=${env[args[0]]}`;
      return Object.entries(env)
        .filter(([, val]) => val !== undefined)
        .map(([k, val]) => `${k}=${val}`)
        .join("\n");
    },
  },
  {
    words: ["promote"],
    level: "operator",
    help: "promote: end the probation now; the new generation stays, the previous one stops",
    run: (v, _s, args) => (args.length > 0 ? `'promote' takes no argument (got '${args.join(" ")}')` : v.endProbation("promote")),
  },
  {
    words: ["rollback"],
    level: "operator",
    help: "rollback: end the probation now; the new generation stops, the previous one stays",
    run: (v, _s, args) => (args.length > 0 ? `'rollback' takes no argument (got '${args.join(" ")}')` : v.endProbation("rollback")),
  },
  { words: ["reload"], level: "operator", help: "reload: reload and wait for the result", run: (v, s) => v.reload(s, false) },
  { words: ["hard-reload"], level: "admin", help: "hard-reload: reload; old workers get SIGTERM", run: (v, s) => v.reload(s, true) },
];

function findCommand(words: string[]): { cmd: Command; args: string[] } | undefined {
  let best: Command | undefined;
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => words[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best ? { cmd: best, args: words.slice(best.words.length) } : undefined;
}

function helpText(level: Level, about?: string[]): string {
  const allowed = COMMANDS.filter((c) => levelAllows(level, c.level));
  const chosen = about && about.length > 0 ? allowed.filter((c) => c.words.join(" ").startsWith(about.join(" "))) : allowed;
  const lines = chosen.map((c) => `  ${c.help}`);
  if (!about || about.length === 0) {
    lines.push("  @<N> <cmd>, @!<pid> <cmd>, @master <cmd>: send to current worker N, to a process, or to the master; a prefix alone sets the default target, '@' resets it");
  }
  return lines.length > 0 ? `The following commands are valid at this level:\n${lines.join("\n")}` : `Unknown command: '${about?.join(" ")}'`;
}

function unknown(level: Level, words: string[]): string {
  const names = COMMANDS.filter((c) => levelAllows(level, c.level)).map((c) => c.words.join(" "));
  const attempt = words.slice(0, Math.min(words.length, 3)).join(" ");
  // `show` alone: the commands it begins; else the known names closest to what was typed
  const completions = names.filter((n) => n.startsWith(`${words.join(" ")} `));
  const firstWords = [...new Set(names.map((n) => n.split(" ")[0]!))];
  const matches =
    completions.length > 0
      ? completions
      : words[0] === "show" && words.length > 1
        ? closeMatches(words.slice(0, 2).join(" "), names)
        : closeMatches(words[0]!, [...new Set([...firstWords, ...names])]);
  return `Unknown command: '${attempt}'${matches.length > 0 ? `\nDid you mean: ${matches.join(", ")}?` : ""}`;
}

/** The process a routing prefix names, or the reason there is none. */
export function resolveTarget(state: MasterState, prefix: string): ProcessEntry | "master" | string {
  if (prefix === "@master" || prefix === "@0" || prefix === "@") return "master";
  const bang = /^@!(\d+)$/.exec(prefix);
  if (bang) {
    const p = state.processes.get(Number(bang[1]));
    if (p) return p;
  }
  const id = /^@(\d+)$/.exec(prefix);
  if (id) {
    const p = [...state.processes.values()].find((w) => w.kind === "worker" && w.role === "current" && w.id === Number(id[1]));
    if (p) return p;
  }
  return `Can't find the target PID matching the prefix '${prefix.slice(1)}'`;
}

/** Forwards one command to a worker's STEWARD_CLI_SOCKET and relays its whole reply. */
export async function forward(socketPath: string, line: string): Promise<string> {
  // node:net is loaded on first use: most masters never route a command (~1 MiB of RSS)
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (text: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(text);
    };
    const sock = connect({ path: socketPath });
    let timer = setTimeout(() => done("Can't connect to the target CLI!"), CONNECT_TIMEOUT_MS);
    sock.on("connect", () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(Buffer.concat(chunks).toString().replace(/\n+$/, "")), REPLY_TIMEOUT_MS);
      sock.end(`${line}\n`);
    });
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", () => done(chunks.length ? Buffer.concat(chunks).toString() : "Can't connect to the target CLI!"));
    sock.on("close", () => done(Buffer.concat(chunks).toString().replace(/\n+$/, "")));
  });
}

export function createCommandRunner(view: MasterView): CommandRunner {
  return (session, words) => {
    const first = words[0]!;
    if (first.startsWith("@")) {
      const target = resolveTarget(view.state, first);
      if (typeof target === "string" && target !== "master") return target;
      if (words.length === 1) {
        if (target === "master") delete session.target;
        else session.target = first;
        return "";
      }
      if (target === "master") return runOnMaster(view, session, words.slice(1));
      return route(view, session, target, words.slice(1));
    }
    if (session.target !== undefined && !SESSION_COMMANDS.has(first)) {
      const target = resolveTarget(view.state, session.target);
      if (typeof target === "string" && target !== "master") return target;
      if (target !== "master") return route(view, session, target, words);
    }
    return runOnMaster(view, session, words);
  };
}

function route(view: MasterView, session: Session, target: ProcessEntry, words: string[]): Promise<string> {
  const prefix = session.level === "admin" ? "" : `${session.level} -; `;
  const socket = view.cliSocketOf(target);
  if (socket === undefined) return Promise.resolve("Can't connect to the target CLI!");
  return forward(socket, `${prefix}${joinWords(words)}`);
}

function runOnMaster(view: MasterView, session: Session, words: string[]): ReturnType<CommandRunner> {
  const found = findCommand(words);
  if (!found) return unknown(session.level, words);
  const { cmd, args } = found;
  if (!levelAllows(session.level, cmd.level)) return "Permission denied";
  if (cmd.words[0] === "help") return helpText(session.level, args);
  if (cmd.words[0] === "prompt") {
    session.prompt = !session.prompt;
    return "";
  }
  return cmd.run(view, session, args);
}

export function promptFor(view: MasterView, session: Session): string {
  if (session.target !== undefined) {
    const t = resolveTarget(view.state, session.target);
    if (typeof t !== "string") return `${t.pid}> `;
  }
  return view.state.failedReloads > 0 ? "master[ReloadFailed]> " : "master> ";
}
