/**
 * Signal names and numbers as Linux numbers them on x86_64 and aarch64 (the generic and
 * x86 tables agree for 1..31). steward supervises Linux processes only (readiness reads
 * /proc), so one table is enough.
 */

import { suggest } from "./suggest.ts";

const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7,
  SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14,
  SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20,
  SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26,
  SIGPROF: 27, SIGWINCH: 28, SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** Other names for the same numbers; accepted on input, never printed. */
const ALIASES: Readonly<Record<string, number>> = { SIGIOT: 6, SIGCLD: 17, SIGPOLL: 29 };

/** glibc reserves 32 and 33 for threads, so SIGRTMIN as seen by programs is 34. */
const SIGRTMIN = 34;
const SIGRTMAX = 64;

const NAME_OF: ReadonlyMap<number, string> = new Map(
  Object.entries(SIGNALS).map(([name, number]) => [number, name]),
);

/** The signal number, or the reason the value is not a signal. */
export function parseSignal(value: unknown): number | string {
  if (typeof value === "number") return signalFromNumber(value);
  if (typeof value !== "string") return `must be a signal name or number (e.g. "SIGTERM", 15)`;
  const text = value.trim();
  if (/^\d+$/.test(text)) return signalFromNumber(Number(text));
  const upper = text.toUpperCase();
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  const known = SIGNALS[name] ?? ALIASES[name] ?? realtimeSignal(name);
  if (known !== undefined) return known;
  // Compared without the common "SIG", which would make every short name look close.
  const close = suggest(name.slice(3), Object.keys(SIGNALS).map((known) => known.slice(3)));
  return `unknown signal '${text}'${close ? ` (did you mean SIG${close}?)` : ""}`;
}

function signalFromNumber(value: number): number | string {
  return Number.isInteger(value) && value >= 1 && value <= SIGRTMAX
    ? value
    : `signal numbers go from 1 to ${SIGRTMAX}`;
}

/** `SIGRTMIN`, `SIGRTMIN+N`, `SIGRTMAX`, `SIGRTMAX-N`, as kill(1) spells them. */
function realtimeSignal(name: string): number | undefined {
  const match = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (!match) return undefined;
  const [, base, sign, offset] = match;
  if (sign !== undefined && (base === "MIN") !== (sign === "+")) return undefined;
  const number = base === "MIN" ? SIGRTMIN + Number(offset ?? 0) : SIGRTMAX - Number(offset ?? 0);
  return number >= SIGRTMIN && number <= SIGRTMAX ? number : undefined;
}

/** `15` → `"SIGTERM"`, `36` → `"SIGRTMIN+2"`, unknown numbers → `"SIG<n>"`. */
export function signalName(number: number): string {
  const name = NAME_OF.get(number);
  if (name !== undefined) return name;
  if (number >= SIGRTMIN && number <= SIGRTMAX) {
    return number === SIGRTMIN ? "SIGRTMIN" : `SIGRTMIN+${number - SIGRTMIN}`;
  }
  return `SIG${number}`;
}
