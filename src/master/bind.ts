/**
 * Binding the master's sockets, a step of its own before planning (workers/spawn-plan.ts
 * plans from what is bound): the listeners a configuration names, the master CLI's, and
 * closing those a configuration no longer names.
 */
import type { Config, ListenerConfig, MasterCliConfig } from "../config/types.ts";
import { ensureMigrateReq } from "../listeners/migrate.ts";
import type { BoundListener, ListenerRegistry } from "../listeners/registry.ts";
import type { Logger } from "../log.ts";
import type { CliServer } from "../mcli/server.ts";
import { isReusePort } from "../workers/reuseport.ts";

/** Binds what `config` listens on, in configuration order (fds 3, 4, ...), keeping what is bound already. */
export function bindListeners(listeners: ListenerRegistry, config: Config, log: Logger): BoundListener[] {
  const bound = config.listen.map((l) => {
    const known = listeners.get(listeners.keyOf(l));
    const b = listeners.bind(l, config.global.uid);
    if (!known) log.notice(`Listener '${b.name}' bound to ${b.url} (fd ${b.fd})`);
    return b;
  });
  // workers of a reuse-port listener bind their own sockets: the kernel must move connections between them
  if (bound.some(isReusePort)) ensureMigrateReq((line) => log.notice(line));
  return bound;
}

/** Closes the listeners `config` no longer names (once no old worker needs them). */
export function closeUnusedListeners(listeners: ListenerRegistry, config: Config, log: Logger): void {
  const keep = new Set(config.listen.map((l) => listeners.keyOf(l)));
  for (const l of listeners.list()) {
    if (keep.has(l.key)) continue;
    listeners.close(l.key);
    log.notice(`Listener '${l.name}' (${l.url}) closed: no longer configured`);
  }
}

/** Binds the master CLI listeners `wanted` names; closes those it no longer names. */
export function syncCliListeners(cliListeners: ListenerRegistry, cli: CliServer, wanted: MasterCliConfig[], log: Logger): void {
  const asListener = (c: MasterCliConfig): ListenerConfig => ({
    name: "master-cli",
    bind: c.bind,
    address: c.address,
    backlog: 128,
    mode: c.mode,
    ...(c.uid !== undefined ? { uid: c.uid } : {}),
    ...(c.gid !== undefined ? { gid: c.gid } : {}),
  });
  const keep = new Set<string>();
  for (const c of wanted) {
    const lc = asListener(c);
    const key = cliListeners.keyOf(lc);
    keep.add(key);
    if (cliListeners.get(key)) continue;
    const b = cliListeners.bind(lc);
    cli.add({ key, fd: b.fd, config: c, sessions: 0 });
    log.notice(`Master CLI listening on ${b.url} (level ${c.level})`);
  }
  for (const l of cliListeners.list()) {
    if (keep.has(l.key)) continue;
    cli.removeListener(l.key);
    cliListeners.close(l.key);
  }
}
