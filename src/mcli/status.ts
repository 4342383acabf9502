/**
 * `steward status -S ADDR [--json] [--strict]`: the probe for container health checks and
 * Kubernetes exec probes (REFERENCE §2). It asks the master CLI for `show proc json` and
 * judges the reply:
 *   0  the master answers, its first load succeeded, it is not stopping, and at least one
 *      worker of the current generation is ready;
 *   1  no master answers (or not within STATUS_TIMEOUT_MS), or it is not ready;
 *   3  with --strict only: ready, but the last reload failed.
 * It prints one line (or one JSON object) on stdout in every case, for the probe's record.
 * Loaded only when `steward status` runs (main.ts), so the probe stays cheap.
 */
import type { Socket } from "node:net";
import type { StatusRequest } from "./requests.ts";
import { addressName, clientAddress, ConnectError, connectTo, exchange, USAGE_EXIT_CODE } from "./client.ts";

export const EXIT_READY = 0;
export const EXIT_NOT_READY = 1;
export const EXIT_RELOAD_FAILED = 3;

/** A master that accepted the connection but does not answer this soon is not healthy. */
export const STATUS_TIMEOUT_MS = 5_000;

export interface StatusReport {
  /** `ready`, `not ready` or `reload failed` (the last only with --strict) */
  status: "ready" | "not ready" | "reload failed";
  exit: number;
  master?: { pid: number; version: string; phase: string; reloads: number; failedReloads: number; uptime: number };
  /** the generation of the current workers */
  generation?: number;
  workers?: { ready: number; total: number };
  /** the reason of the last reload, when it failed */
  lastReloadFailure?: string;
  /** why no master could be asked */
  error?: string;
}

interface ProcEntry {
  generation?: number;
  role?: string;
  ready?: boolean;
  status?: string;
}

interface ProcJson {
  master: { pid: number; version: string; status: string; phase?: string; reloads: number; failedReloads: number; uptime: number };
  workers: ProcEntry[];
}

const FAILED_PREFIX = "Reload failed: ";

/** The verdict on a `show proc json` reply (pure: unit-tested). */
export function judge(reply: string, strict: boolean): StatusReport {
  const text = reply.trim();
  if (text === "Permission denied") {
    return unreachable("the master CLI refused 'show proc' at this level (status needs an operator or admin socket)");
  }
  let json: ProcJson;
  try {
    json = JSON.parse(text.split("\n").find((line) => line.startsWith("{")) ?? "") as ProcJson;
  } catch {
    return unreachable(`unexpected reply to 'show proc json': ${JSON.stringify(text.slice(0, 120))}`);
  }
  const m = json.master;
  const failure = m.status.startsWith(FAILED_PREFIX) ? m.status.slice(FAILED_PREFIX.length) : undefined;
  // Masters before `phase` was shown hid it behind a failed reload's status; they were running.
  const phase = m.phase ?? (failure !== undefined ? "running" : m.status);
  // `workers` also lists those of a reload in progress ("loading"), which are not serving yet;
  // while the first generation starts, they are the ones to count.
  const current = phase === "starting" ? json.workers : json.workers.filter((w) => w.role === undefined || w.role === "current");
  const ready = current.filter((w) => w.ready ?? w.status === "ready").length;
  const serving = (phase === "running" || phase === "reloading") && ready > 0;
  const failed = failure !== undefined;
  const exit = !serving ? EXIT_NOT_READY : strict && failed ? EXIT_RELOAD_FAILED : EXIT_READY;
  const generations = current.map((w) => w.generation).filter((g): g is number => typeof g === "number");
  return {
    status: exit === EXIT_READY ? "ready" : exit === EXIT_RELOAD_FAILED ? "reload failed" : "not ready",
    exit,
    master: { pid: m.pid, version: m.version, phase, reloads: m.reloads, failedReloads: m.failedReloads, uptime: m.uptime },
    generation: generations.length > 0 ? Math.max(...generations) : m.reloads,
    workers: { ready, total: current.length },
    ...(failed ? { lastReloadFailure: failure } : {}),
  };
}

function unreachable(error: string): StatusReport {
  return { status: "not ready", exit: EXIT_NOT_READY, error };
}

/** The one line for people: `ready: master 4120 (v1.2.0) running, generation 3, 4/4 workers ready`. */
export function statusLine(r: StatusReport): string {
  if (r.master === undefined) return `${r.status}: ${r.error ?? "no answer"}`;
  const m = r.master;
  const parts = [
    `master ${m.pid} (v${m.version}) ${m.phase}`,
    `generation ${r.generation}`,
    `${r.workers?.ready ?? 0}/${r.workers?.total ?? 0} workers ready`,
  ];
  if (r.lastReloadFailure !== undefined) parts.push(`last reload failed: ${r.lastReloadFailure}`);
  return `${r.status}: ${parts.join(", ")}`;
}

export interface StatusTerminal {
  cwd: string;
  stdout(line: string): void;
  stderr(line: string): void;
}

/** Asks the master and prints the verdict; resolves to the exit code. */
export async function probeStatus(request: StatusRequest, term: StatusTerminal, timeoutMs = STATUS_TIMEOUT_MS): Promise<number> {
  const address = clientAddress(request.address, term.cwd);
  if (typeof address === "string") {
    term.stderr(`steward: option '--master-cli' (-S): ${address} (got '${addressName(request.address)}')`);
    return USAGE_EXIT_CODE;
  }
  const report = await ask(address, addressName(request.address), timeoutMs).then(
    (reply) => judge(reply, request.strict),
    (e: Error) => unreachable(e.message),
  );
  term.stdout(request.json ? JSON.stringify(report) : statusLine(report));
  return report.exit;
}

/** The reply to `show proc json`, or a rejection saying why there is none. */
function ask(address: Parameters<typeof connectTo>[0], name: string, timeoutMs: number): Promise<string> {
  let socket: Socket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      socket?.destroy();
      reject(new Error(`the master CLI at ${name} did not answer within ${timeoutMs / 1000}s`));
    }, timeoutMs);
  });
  const exchanged = (async () => {
    try {
      socket = await connectTo(address, name);
    } catch (e) {
      throw e instanceof ConnectError ? new Error(e.message) : e;
    }
    const { reply, broken } = await exchange(socket, "show proc json\n");
    if (broken !== undefined) throw new Error(`the connection to the master CLI at ${name} broke (${broken})`);
    if (reply.trim() === "") throw new Error(`the master CLI at ${name} closed the connection without an answer`);
    return reply;
  })();
  // the loser of the race must not end the process as an unhandled rejection
  exchanged.catch(() => {});
  return Promise.race([exchanged, deadline]).finally(() => clearTimeout(timer));
}
