/**
 * Who an sd_notify message speaks for, as systemd's `NotifyAccess=all` decides it: the
 * worker (or program) that sent it, any of its descendants, or a PID it named with
 * `MAINPID=` (a pre-fork server that re-executes itself). Anyone else is a stranger:
 * ignored, and logged once.
 */

/** how far up the parent chain a sender is followed */
const MAX_DEPTH = 32;
/** strangers and named main PIDs remembered at most (oldest forgotten first) */
const MAX_REMEMBERED = 256;

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as K);
}

export class NotifySenders {
  /** a PID named by MAINPID= → the supervised PID it speaks for */
  private readonly speakers = new Map<number, number>();
  private readonly strangers = new Map<number, true>();

  constructor(private readonly parentOf: (pid: number) => number | undefined) {}

  /** The supervised PID that `sender` speaks for, if any (`known` tells a supervised PID). */
  resolve(sender: number, known: (pid: number) => boolean): number | undefined {
    for (let i = 0, cur: number | undefined = sender; cur && cur > 1 && i < MAX_DEPTH; i++) {
      if (known(cur)) return cur;
      const named = this.speakers.get(cur);
      if (named !== undefined && known(named)) return named;
      cur = this.parentOf(cur);
    }
    return undefined;
  }

  /** `MAINPID=value` from a sender that speaks for `owner`: false when value is no PID. */
  name(value: string, owner: number): boolean {
    const pid = Number(value);
    if (!Number.isInteger(pid) || pid <= 1) return false;
    if (pid !== owner) remember(this.speakers, pid, owner);
    return true;
  }

  /** true the first time a stranger is seen (so it is logged once) */
  firstFromStranger(pid: number): boolean {
    if (this.strangers.has(pid)) return false;
    remember(this.strangers, pid, true);
    return true;
  }

  /** A supervised process is gone: PIDs that spoke for it no longer do. */
  forget(owner: number): void {
    for (const [pid, o] of this.speakers) if (o === owner) this.speakers.delete(pid);
  }
}
