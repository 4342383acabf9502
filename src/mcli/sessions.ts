/**
 * Which master CLI sessions give way, so that idle clients cannot lock the administrator
 * out (issue 9, finding 8). Pure decisions over the sessions of server.ts:
 *
 * - When a listener is at its session limit, a new connection takes the place of the
 *   session of that listener that has been idle the longest, provided it has been idle for
 *   more than EVICT_AFTER_IDLE_MS with nothing pending (no command queued or running, no
 *   reply unsent, no partial line). That session is told why, then closed. Only when no
 *   session qualifies is the new connection refused.
 * - At a re-exec, a session that has sent nothing yet is handed to the next image only if
 *   it was accepted less than EVICT_AFTER_IDLE_MS before the reload began (a client
 *   between its connect and its write); an older one is merely idle and ends with this
 *   image, told why. The reload's own duration (its preflight) does not age a session.
 */
import type { CliListener, Session } from "./session.ts";

/** a session idle at least this long, with nothing pending, may give its place to a new one */
export const EVICT_AFTER_IDLE_MS = 1_000;

/** Nothing in flight: no input waiting, no command running, no output unsent, not closing. */
export function quiet(s: Session): boolean {
  return (
    s.counted && !s.busy && s.queue.length === 0 && s.partialBytes === 0 && s.out.length === 0 &&
    !s.closing && !s.tooLong && s.lingering === undefined
  );
}

/** The session of `listener` idle the longest, if one has been idle long enough, quietly. */
export function longestIdle(sessions: Iterable<Session>, listener: CliListener, now: number): Session | undefined {
  let victim: Session | undefined;
  for (const s of sessions) {
    if (s.listener !== listener || !quiet(s) || now - s.lastActive <= EVICT_AFTER_IDLE_MS) continue;
    if (!victim || s.lastActive < victim.lastActive) victim = s;
  }
  return victim;
}

/** The line an evicted session gets before its close (after a newline if a prompt is showing). */
export function evictionNotice(s: Session, now: number, limit: number): string {
  const idle = Math.floor((now - s.lastActive) / 1000);
  return `${s.prompt ? "\n" : ""}Closing this session: idle for ${idle}s while all ${limit} sessions of this listener are in use, and a new client needs one.\n`;
}

/** Has sent nothing at all (nothing answered, nothing queued, no partial line). */
export function neverSpoke(s: Session): boolean {
  return (
    s.counted && s.replies === 0 && s.partialBytes === 0 && s.queue.length === 0 && s.out.length === 0 &&
    !s.busy && !s.prompt && !s.peerClosed && !s.closing && !s.tooLong && s.lingering === undefined
  );
}

/**
 * Handed to the next image at a re-exec: it has sent nothing and was accepted just before
 * the reload began (or during it). `reloadStartedAt` undefined: no reload start was
 * recorded; only `now` counts then.
 */
export function carriedAcrossExec(s: Session, now: number, reloadStartedAt: number | undefined): boolean {
  return neverSpoke(s) && (reloadStartedAt ?? now) - s.lastActive <= EVICT_AFTER_IDLE_MS;
}

export const IDLE_AT_EXEC = "The master is re-executing for a reload: this idle session ends; reconnect.\n";
