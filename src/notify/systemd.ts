/**
 * sd_notify to the service manager (REFERENCE §8), only with --systemd and a $NOTIFY_SOCKET:
 * READY/MAINPID/STATUS after each successful load, RELOADING + MONOTONIC_USEC when a
 * reload starts (so Type=notify-reload works), READY + the failure after a failed
 * reload, STOPPING on stop, and WATCHDOG=1 every WATCHDOG_USEC/2 when asked for.
 */
import type { Posix } from "../sys/posix.ts";

export interface Notifier {
  ready(pid: number): void;
  reloading(): void;
  reloadFailed(reason: string): void;
  /** a reload's new generation is ready and on probation: STATUS only, READY=1 comes with the verdict */
  probation(generation: number, until: number): void;
  /** the probation failed: the previous generation serves on */
  rolledBack(reason: string): void;
  /** the first load failed: the master is about to stop (no READY=1 will come) */
  startFailed(reason: string): void;
  stopping(): void;
}

/** Message texts, as pure functions (newline-separated assignments). */
export const messages = {
  ready: (pid: number) => `READY=1\nMAINPID=${pid}\nSTATUS=Ready`,
  reloading: (monotonicUsec: bigint) => `RELOADING=1\nMONOTONIC_USEC=${monotonicUsec}\nSTATUS=Reloading`,
  reloadFailed: (reason: string) => `READY=1\nSTATUS=Reload failed: ${reason.replace(/\n/g, " ")}`,
  probation: (generation: number, until: number) => `STATUS=Generation ${generation} on probation until ${new Date(until).toISOString()}`,
  rolledBack: (reason: string) => `READY=1\nSTATUS=Rolled back: ${reason.replace(/\n/g, " ")}`,
  startFailed: (reason: string) => `STATUS=Starting failed: ${reason.replace(/\n/g, " ")}\nERRNO=1`,
  stopping: () => "STOPPING=1\nSTATUS=Stopping",
  watchdog: () => "WATCHDOG=1",
};

export const NO_NOTIFIER: Notifier = { ready() {}, reloading() {}, reloadFailed() {}, probation() {}, rolledBack() {}, startFailed() {}, stopping() {} };

export function createNotifier(
  px: Posix,
  env: Record<string, string | undefined>,
  enabled: boolean,
  warn: (message: string) => void,
): Notifier {
  const socket = env.NOTIFY_SOCKET;
  if (!enabled || !socket) return NO_NOTIFIER;
  const encoder = new TextEncoder();
  let warned = false;
  const send = (text: string) => {
    try {
      px.sendDatagram(socket, encoder.encode(text));
    } catch (e) {
      if (!warned) warn(`sd_notify to ${socket} failed: ${(e as Error).message}`);
      warned = true;
    }
  };
  const usec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : px.pid();
  if (Number.isFinite(usec) && usec > 0 && watchdogPid === px.pid()) {
    setInterval(() => send(messages.watchdog()), Math.max(1, Math.floor(usec / 2000)));
  }
  return {
    ready: (pid) => send(messages.ready(pid)),
    reloading: () => send(messages.reloading(px.monotonicMicros())),
    reloadFailed: (reason) => send(messages.reloadFailed(reason)),
    probation: (generation, until) => send(messages.probation(generation, until)),
    rolledBack: (reason) => send(messages.rolledBack(reason)),
    startFailed: (reason) => send(messages.startFailed(reason)),
    stopping: () => send(messages.stopping()),
  };
}
