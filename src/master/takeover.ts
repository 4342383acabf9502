/**
 * The new image's side of the handover (handover.ts is the format): reading the state the
 * previous image wrote, and taking over its descriptors — the listeners the configuration
 * still names, the master CLI's listeners and the sessions that crossed the exec. The
 * order of the steps is MasterHost.resume's (run.ts).
 */
import { dirname } from "node:path";
import type { ListenerRegistry } from "../listeners/registry.ts";
import { listenerKey } from "../listeners/registry.ts";
import type { CliServer, Session } from "../mcli/server.ts";
import type { Posix } from "../sys/posix.ts";
import { verifyRunDir } from "../host/rundir.ts";
import { decodeHandover, type Handover } from "./handover.ts";
import { sameConfig, type RunOptions } from "./options.ts";
import type { MasterOs } from "./os.ts";

/** Reads and removes the state file `path` (in a run directory only this user may write), or throws why not. */
export function readHandover(os: MasterOs, path: string, uid: number): Handover {
  try {
    verifyRunDir(dirname(path), uid);
    const decoded = decodeHandover(os.readPrivate(path));
    os.remove(path);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.handover;
  } catch (e) {
    // Preflight makes this unreachable for a binary that passed it; without the state
    // the processes cannot be supervised, so stop what can be found and exit.
    throw new Error(`cannot take over the previous master's state: ${(e as Error).message}`);
  }
}

/**
 * Whether the generation the previous image started before the exec is gated here: only
 * if this image loaded the very same configuration (otherwise it is killed and this
 * image starts its own).
 */
export function adoptsEarly(handover: Handover, options: RunOptions | undefined): boolean {
  return !!handover.early && !!options && sameConfig(options, handover.early.options);
}

/** Takes the listeners that the current (and an adopted early) configuration still name; closes the others. */
export function adoptListeners(listeners: ListenerRegistry, px: Posix, handover: Handover, adoptEarly: boolean): void {
  const kept = adoptEarly && handover.early ? [...handover.options.config.listen, ...handover.early.options.config.listen] : handover.options.config.listen;
  for (const l of handover.listeners) {
    const config = kept.find((c) => listeners.keyOf(c) === l.key);
    if (config) listeners.adopt({ ...l, config });
    else px.close(l.fd);
  }
}

/**
 * Takes the master CLI's listeners and the sessions that crossed the exec (after the
 * SIGIO handler exists: they are put back in O_ASYNC mode). Returns the session that
 * asked for this reload, if one did.
 */
export function adoptCli(cliListeners: ListenerRegistry, cli: CliServer, px: Posix, handover: Handover): Session | undefined {
  for (const l of handover.cli.listeners) {
    const c = handover.options.config.masterCli.find((m) => listenerKey(m.address) === l.key);
    if (!c) {
      px.close(l.fd);
      continue;
    }
    cliListeners.adopt({ ...l, config: { name: "master-cli", bind: c.bind, address: c.address, backlog: 128 } });
    cli.add({ key: l.key, fd: l.fd, config: c, sessions: 0 });
  }
  const requester = handover.cli.requester ? cli.adoptSession(handover.cli.requester) : undefined;
  for (const h of handover.cli.fresh ?? []) cli.adoptSession(h, false);
  return requester;
}
