/**
 * Workers of `share = "reuseport"` listeners (REFERENCE §3, §5.2): what they are told
 * (PORT, HOST and STEWARD_LISTEN_<NAME>_HOST/_PORT instead of a descriptor), and when
 * they are ready: the worker or a descendant holds a socket listening on exactly the
 * listener's address (found in /proc/net/tcp{,6} by inode) and waits to accept on it
 * (the socket is in one of its epoll sets, or a thread is blocked in accept on it).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { BoundListener } from "../listeners/registry.ts";
import { listeningSockets, listensOn, type ListeningSocket, type TcpAddress } from "../listeners/reserve.ts";
import { envName } from "../worker-lib/listeners.ts";

/** processes looked at per worker at most */
const MAX_PROCESSES = 256;
/** accept and accept4 syscall numbers per architecture (arg 0 is the descriptor) */
const ACCEPT_SYSCALLS: Record<string, number[]> = { x64: [43, 288], arm64: [202, 242] };

export function isReusePort(l: BoundListener): boolean {
  return l.config.share === "reuseport";
}

/** `tcp://127.0.0.1:8080` / `tcp://[::1]:8080` → the address a worker must bind. */
export function boundAddress(l: BoundListener): TcpAddress {
  const m = /^tcp:\/\/(?:\[([^\]]+)\]|([^:/]+)):(\d+)$/.exec(l.url);
  if (!m) throw new Error(`listener '${l.name}': not a tcp address: ${l.url}`);
  return { family: m[1] !== undefined ? 6 : 4, host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/**
 * Inherited listeners (given as fds 3, ...) and the variables that tell a worker where to
 * bind the reuse-port ones. PORT and HOST are the first reuse-port listener's.
 */
export function sharePlan(bound: BoundListener[]): { inherited: BoundListener[]; env: Record<string, string> } {
  const reuse = bound.filter(isReusePort);
  const env: Record<string, string> = {};
  if (reuse.length > 0) {
    env.STEWARD_REUSEPORT_NAMES = reuse.map((l) => l.name).join(":");
    const first = boundAddress(reuse[0]!);
    env.PORT = String(first.port);
    env.HOST = first.host;
    for (const l of reuse) {
      const a = boundAddress(l);
      env[`STEWARD_LISTEN_${envName(l.name)}_HOST`] = a.host;
      env[`STEWARD_LISTEN_${envName(l.name)}_PORT`] = String(a.port);
    }
  }
  return { inherited: bound.filter((l) => !isReusePort(l)), env };
}

function entries(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** `pid` and its descendants, breadth first, bounded (CONFIG_PROC_CHILDREN). */
function processTree(pid: number): number[] {
  const seen: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && seen.length < MAX_PROCESSES) {
    const p = queue.shift()!;
    if (seen.includes(p)) continue;
    seen.push(p);
    for (const tid of entries(`/proc/${p}/task`)) {
      for (const word of readText(`/proc/${p}/task/${tid}/children`).split(" ")) if (word.trim() !== "") queue.push(Number(word));
    }
  }
  return seen;
}

/** descriptor → socket inode of process `pid`, for the inodes in `wanted` */
function socketFds(pid: number, wanted: ReadonlySet<string>): Map<number, string> {
  const out = new Map<number, string>();
  for (const fd of entries(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && wanted.has(m[1]!)) out.set(Number(fd), m[1]!);
  }
  return out;
}

function epollFds(pid: number): string[] {
  return entries(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === "anon_inode:[eventpoll]";
    } catch {
      return false;
    }
  });
}

/** Whether process `pid` waits to accept on one of `fds` (descriptor → inode). */
function waitsToAccept(pid: number, fds: Map<number, string>, arch: string): boolean {
  const inodes = new Set(fds.values());
  for (const fd of epollFds(pid)) {
    for (const m of readText(`/proc/${pid}/fdinfo/${fd}`).matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) {
      if (inodes.has(BigInt(`0x${m[1]}`).toString())) return true;
    }
  }
  for (const tid of entries(`/proc/${pid}/task`)) {
    const [nr, arg0] = readText(`/proc/${pid}/task/${tid}/syscall`).trim().split(/\s+/);
    if (nr === undefined || arg0 === undefined || !(ACCEPT_SYSCALLS[arch] ?? []).includes(Number(nr))) continue;
    if (fds.has(Number(BigInt(arg0)))) return true;
  }
  return false;
}

/** What the worker tree of `pid` listens on, among `sockets`. */
function heldListening(pid: number, sockets: ListeningSocket[]): { pid: number; fds: Map<number, string>; sockets: ListeningSocket[] }[] {
  const byInode = new Map(sockets.map((s) => [s.inode, s]));
  const wanted = new Set(byInode.keys());
  return processTree(pid).map((p) => {
    const fds = socketFds(p, wanted);
    return { pid: p, fds, sockets: [...new Set(fds.values())].map((i) => byInode.get(i)!) };
  });
}

/** The descriptors of the worker trees of `pids` that hold one of `sockets` (pid, fd, inode). */
export function heldSockets(pids: number[], sockets: ListeningSocket[]): { pid: number; fd: number; inode: string }[] {
  return pids.flatMap((pid) => heldListening(pid, sockets).flatMap((h) => [...h.fds].map(([fd, inode]) => ({ pid: h.pid, fd, inode }))));
}

/** REFERENCE §5.2 for reuse-port listeners: the worker tree listens on one of `addresses` and accepts there. */
export function acceptingOnAddress(pid: number, addresses: TcpAddress[], arch: string): boolean {
  const mine = listeningSockets().filter((s) => addresses.some((a) => listensOn(s, a)));
  if (mine.length === 0) return false;
  return heldListening(pid, mine).some((h) => h.fds.size > 0 && waitsToAccept(h.pid, h.fds, arch));
}

function formatSocket(s: ListeningSocket): string {
  const host = s.family === 4 ? [...s.bytes].join(".") : `[${[...Array(8)].map((_, i) => ((s.bytes[i * 2]! << 8) | s.bytes[i * 2 + 1]!).toString(16)).join(":")}]`;
  return `${host}:${s.port}`;
}

/** One line on why a reuse-port worker is not ready: where it listens instead, if anywhere (the master's own listeners aside). */
export function notListeningReason(pid: number, addresses: TcpAddress[], masterInodes: ReadonlySet<string>): string {
  const want = addresses.map((a) => (a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)).join(", ");
  const others = listeningSockets().filter((s) => !masterInodes.has(s.inode) && !addresses.some((a) => listensOn(s, a)));
  const elsewhere = heldListening(pid, others).flatMap((h) => h.sockets);
  if (elsewhere.length === 0) return `not listening on ${want} (share = "reuseport": bind PORT/HOST with SO_REUSEPORT)`;
  return `listening on ${[...new Set(elsewhere.map(formatSocket))].join(", ")}, not on ${want} (share = "reuseport")`;
}

/** `accepting` readiness on the reuse-port listeners among `listeners` (false when there is none). */
export function reusePortReady(listeners: BoundListener[], pid: number, arch: string): boolean {
  const addresses = listeners.filter(isReusePort).map(boundAddress);
  return addresses.length > 0 && acceptingOnAddress(pid, addresses, arch);
}

/** Why a worker with reuse-port listeners is not ready; undefined when it has none (the generic reason applies). */
export function reusePortReason(listeners: BoundListener[], pid: number): string | undefined {
  const addresses = listeners.filter(isReusePort).map(boundAddress);
  if (addresses.length === 0) return undefined;
  return notListeningReason(pid, addresses, new Set(listeners.map((l) => l.inode)));
}

/** Whether the worker tree of `pid` holds a socket listening on a reuse-port listener's address; undefined when there is none. */
export function reusePortHolds(listeners: BoundListener[], pid: number): boolean | undefined {
  const addresses = listeners.filter(isReusePort).map(boundAddress);
  if (addresses.length === 0) return undefined;
  const mine = listeningSockets().filter((s) => addresses.some((a) => listensOn(s, a)));
  return mine.length > 0 && heldListening(pid, mine).some((h) => h.fds.size > 0);
}
