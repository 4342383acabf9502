/**
 * How the health check of one worker is started (`[worker] health`, REFERENCE §5.10): the
 * configured command, resolved once per configuration like the worker's, run through the
 * same exec helper with the worker's identity and working directory. Its environment is
 * the worker's minus what makes a worker (LISTEN_*, NOTIFY_SOCKET, WATCHDOG_*), plus
 * STEWARD_WORKER_ID, STEWARD_WORKER_PID and the worker's own STEWARD_CLI_SOCKET, so it
 * asks that very worker rather than whichever one a shared port hands it to. Its output
 * goes to a file of the run directory, read back (the last line) for the log when it
 * fails, then removed.
 */
import { join } from "node:path";
import type { HealthConfig } from "../config/types.ts";
import type { ResolvedCommand } from "../workers/bun-command.ts";
import { inheritedEnv } from "../workers/plan.ts";
import type { HealthPlanner } from "./health.ts";
import type { MasterOs } from "./os.ts";

/** how much of a check's output is read back, and shown */
const TAIL_BYTES = 4096;
const SHOWN_CHARS = 200;

export interface HealthPlanInput {
  /** reads back and removes a check's output */
  os: Pick<MasterOs, "tailLines" | "remove">;
  health: HealthConfig;
  resolved: ResolvedCommand;
  masterEnv: Record<string, string | undefined>;
  /** `[worker] env` */
  configEnv: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  masterPid: number;
  /** the master's run directory (private to it) */
  runDir: string;
  /** the STEWARD_CLI_SOCKET worker `id` of `generation` was given */
  cliSocket(generation: number, id: number): string;
}

export function healthPlanner(i: HealthPlanInput): HealthPlanner {
  return {
    settings: i.health,
    probe(worker) {
      const outputPath = join(i.runDir, `health-${worker.pid}.out`);
      return {
        spec: {
          label: `health check of worker ${worker.id}`,
          path: i.resolved.path,
          argv: i.resolved.argv,
          ...(i.resolved.execEnv ? { execEnv: i.resolved.execEnv } : {}),
          ...(i.cwd !== undefined ? { cwd: i.cwd } : {}),
          env: {
            ...inheritedEnv(i.masterEnv),
            ...i.configEnv,
            STEWARD_WORKER_ID: String(worker.id),
            STEWARD_WORKER_PID: String(worker.pid),
            STEWARD_GENERATION: String(worker.generation),
            STEWARD_MASTER_PID: String(i.masterPid),
            STEWARD_CLI_SOCKET: i.cliSocket(worker.generation, worker.id),
          },
          fds: [],
          ...(i.uid !== undefined ? { uid: i.uid } : {}),
          ...(i.gid !== undefined ? { gid: i.gid } : {}),
          outputPath,
        },
        output: () => lastLine(i.os, outputPath),
      };
    },
  };
}

/** The last non-empty line of the file (at most SHOWN_CHARS), which is then removed; "" if none. */
export function lastLine(os: Pick<MasterOs, "tailLines" | "remove">, path: string): string {
  const lines = os.tailLines(path, TAIL_BYTES);
  os.remove(path);
  const line = lines.map((l) => l.trim()).filter((l) => l !== "").pop() ?? "";
  return line.length > SHOWN_CHARS ? `${line.slice(0, SHOWN_CHARS)}…` : line;
}
