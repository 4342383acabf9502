/**
 * The listening sockets the master owns, keyed by address (`tcp:127.0.0.1:8080`,
 * `unix:/run/app.sock`) so a reload can match what it keeps, binds and closes.
 * Invariant: a listener is bound once and stays open until it is removed from the
 * configuration and no worker uses it; its descriptor is close-on-exec in the master
 * and is given to workers only through an explicit spawn plan.
 */
import { lstatSync, readlinkSync } from "node:fs";
import type { ListenAddress, ListenerConfig } from "../config/types.ts";
import { SysError } from "../sys/errors.ts";
import type { Posix } from "../sys/posix.ts";
import type { SockAddr } from "../sys/sockaddr.ts";
import { reserveTcp } from "./reserve.ts";

/** A bound listener as the master hands it to its next image across execve (master/handover.ts). */
export interface HandedListener {
  key: string;
  name: string;
  fd: number;
  url: string;
  inode: string;
  ownsFile: boolean;
  path?: string;
}

export interface BoundListener {
  key: string;
  name: string;
  fd: number;
  config: ListenerConfig;
  /** the address actually bound, with the real port when the configuration said 0 */
  url: string;
  /** socket inode, as the kernel shows it in /proc (`socket:[INODE]`) */
  inode: string;
  /** true when this master created the unix socket file (and so removes it on exit) */
  ownsFile: boolean;
}

/**
 * The identity of a listener across reloads: its address. Port 0 means "any free port",
 * so two such listeners are different sockets: they are told apart by name.
 */
export function listenerKey(address: ListenAddress, name?: string): string {
  if (address.kind === "unix") return `unix:${address.path}`;
  const key = `tcp:${address.host}:${address.port}`;
  return address.port === 0 && name !== undefined ? `${key}#${name}` : key;
}

export function urlOf(addr: SockAddr): string {
  if (addr.family === "unix") return `unix://${addr.path}`;
  return addr.family === 6 ? `tcp://[${addr.host}]:${addr.port}` : `tcp://${addr.host}:${addr.port}`;
}

export function socketInode(fd: number, pid: number | "self" = "self"): string | undefined {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
    return m?.[1];
  } catch {
    return undefined;
  }
}

export class ListenerError extends Error {
  constructor(readonly listener: ListenerConfig, reason: string) {
    super(`cannot bind listener '${listener.name}' (${listener.bind}): ${reason}`);
    this.name = "ListenerError";
  }
}

export class ListenerRegistry {
  private readonly byKey = new Map<string, BoundListener>();

  constructor(private readonly px: Posix) {}

  list(): BoundListener[] {
    return [...this.byKey.values()];
  }

  keyOf(config: ListenerConfig): string {
    // a reservation and a listening socket are different sockets: switching needs a restart
    return `${config.share === "reuseport" ? "reuseport:" : ""}${listenerKey(config.address, config.name)}`;
  }

  get(key: string): BoundListener | undefined {
    return this.byKey.get(key);
  }

  /** Binds one configured listener; throws ListenerError with the OS reason. `workerUid`: see reserveTcp. */
  bind(config: ListenerConfig, workerUid?: number): BoundListener {
    const key = this.keyOf(config);
    const existing = this.byKey.get(key);
    if (existing) return existing;
    try {
      const { fd, ownsFile } = config.address.kind === "unix" ? this.bindUnix(config) : this.bindTcp(config, workerUid);
      const bound: BoundListener = {
        key,
        name: config.name,
        fd,
        config,
        url: urlOf(this.px.localAddress(fd)),
        inode: socketInode(fd) ?? "",
        ownsFile,
      };
      this.byKey.set(key, bound);
      return bound;
    } catch (e) {
      if (e instanceof ListenerError) throw e;
      throw new ListenerError(config, e instanceof SysError ? `${e.reason} (${e.code})` : (e as Error).message);
    }
  }

  /** Takes over a listener a previous image of this master bound (its descriptor survived exec). */
  adopt(listener: BoundListener): void {
    this.px.setCloexec(listener.fd, true);
    this.byKey.set(listener.key, listener);
  }

  /** Keeps every listener open across the coming execve. */
  keepAcrossExec(keep: boolean): void {
    for (const l of this.byKey.values()) this.px.setCloexec(l.fd, !keep);
  }

  /** Closes one listener (and removes its socket file if this master made it). */
  close(key: string): void {
    const l = this.byKey.get(key);
    if (!l) return;
    this.byKey.delete(key);
    this.px.close(l.fd);
    if (l.ownsFile && l.config.address.kind === "unix") {
      try {
        this.px.unlink(l.config.address.path);
      } catch {
        // already gone: nothing to clean
      }
    }
  }

  closeAll(): void {
    for (const key of [...this.byKey.keys()]) this.close(key);
  }

  private bindTcp(config: ListenerConfig, workerUid?: number): { fd: number; ownsFile: false } {
    const a = config.address as Extract<ListenAddress, { kind: "tcp" }>;
    if (config.share === "reuseport") return { fd: reserveTcp(this.px, { family: a.family, host: a.host, port: a.port }, config.bind, workerUid), ownsFile: false };
    return { fd: this.px.listenStream({ family: a.family, host: a.host, port: a.port }, config.backlog, config.bind), ownsFile: false };
  }

  private bindUnix(config: ListenerConfig): { fd: number; ownsFile: true } {
    const path = (config.address as Extract<ListenAddress, { kind: "unix" }>).path;
    this.removeStaleSocket(config, path);
    const mode = config.mode ?? 0o666;
    // Create the file with its final mode: there is never a moment with wider permissions.
    const previous = this.px.umask(~mode & 0o777);
    let fd: number;
    try {
      fd = this.px.listenStream({ family: "unix", path }, config.backlog, path);
    } finally {
      this.px.umask(previous);
    }
    try {
      this.px.chmod(path, mode);
      if (config.uid !== undefined || config.gid !== undefined) this.px.chown(path, config.uid ?? -1, config.gid ?? -1);
    } catch (e) {
      this.px.close(fd);
      throw e;
    }
    return { fd, ownsFile: true };
  }

  /** A socket file nobody accepts on is left over from a previous run: replace it. */
  private removeStaleSocket(config: ListenerConfig, path: string): void {
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return; // nothing there
    }
    if (!isSocket) throw new ListenerError(config, `${path} exists and is not a socket`);
    if (this.px.unixPathInUse(path)) throw new ListenerError(config, `${path} is in use by another process (Address already in use)`);
    this.px.unlink(path);
  }
}
