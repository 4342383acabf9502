/** Waiting with deadlines, and looking at processes through /proc. */
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it is truthy or `timeoutMs` passes; then throws naming `what`. */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${typeof what === "string" ? what : what()}`);
    }
    await sleep(25);
  }
}

/** Alive = exists and is not a zombie (a zombie's parent may be a non-reaping init). */
export function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

export function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

export async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  await waitUntil(() => pids.every((pid) => !isAlive(pid)), timeoutMs, () => {
    const alive = pids.filter(isAlive);
    return `process(es) ${alive.join(", ")} to be gone (${alive.map(describeProcess).join("; ")})`;
  });
}

function describeProcess(pid: number): string {
  try {
    return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()}`;
  } catch {
    return `${pid}: gone`;
  }
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
export function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return undefined;
  }
}

/** Now, in clock ticks since boot (USER_HZ is 100 on Linux). */
export function uptimeTicks(): number {
  return Math.floor(Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 100);
}

/** PIDs of live processes whose environment says they were started by master `masterPid`. */
export function processesOfMaster(masterPid: number): number[] {
  const marker = `\0STEWARD_MASTER_PID=${masterPid}\0`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (`\0${readFileSync(`/proc/${entry}/environ`, "latin1")}`.includes(marker)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

export function killQuietly(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
