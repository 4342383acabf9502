/**
 * Signal names and numbers as Linux numbers them on x86_64 and aarch64 (the generic and
 * x86 tables agree for 1..31). steward supervises Linux processes only (readiness reads
 * /proc), so one table is enough.
 */

import * as C from "../sys/constants.ts";
import { suggest } from "./suggest.ts";

/** The numbers themselves have one owner, sys/constants.ts; this is the table of names. */
const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: C.SIGHUP, SIGINT: C.SIGINT, SIGQUIT: C.SIGQUIT, SIGILL: C.SIGILL, SIGTRAP: C.SIGTRAP,
  SIGABRT: C.SIGABRT, SIGBUS: C.SIGBUS, SIGFPE: C.SIGFPE, SIGKILL: C.SIGKILL, SIGUSR1: C.SIGUSR1,
  SIGSEGV: C.SIGSEGV, SIGUSR2: C.SIGUSR2, SIGPIPE: C.SIGPIPE, SIGALRM: C.SIGALRM, SIGTERM: C.SIGTERM,
  SIGSTKFLT: C.SIGSTKFLT, SIGCHLD: C.SIGCHLD, SIGCONT: C.SIGCONT, SIGSTOP: C.SIGSTOP, SIGTSTP: C.SIGTSTP,
  SIGTTIN: C.SIGTTIN, SIGTTOU: C.SIGTTOU, SIGURG: C.SIGURG, SIGXCPU: C.SIGXCPU, SIGXFSZ: C.SIGXFSZ,
  SIGVTALRM: C.SIGVTALRM, SIGPROF: C.SIGPROF, SIGWINCH: C.SIGWINCH, SIGIO: C.SIGIO, SIGPWR: C.SIGPWR,
  SIGSYS: C.SIGSYS,
};

/** Other names for the same numbers; accepted on input, never printed. */
const ALIASES: Readonly<Record<string, number>> = { SIGIOT: C.SIGABRT, SIGCLD: C.SIGCHLD, SIGPOLL: C.SIGIO };

const { SIGRTMIN, SIGRTMAX } = C;

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
