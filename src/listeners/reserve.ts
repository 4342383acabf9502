/**
 * A reuse-port reservation (`share = "reuseport"`): the master binds the address with
 * SO_REUSEPORT and never listens on it, so it takes no connection (only listening
 * sockets are looked up), yet holds the address between generations. Workers bind the
 * same address with SO_REUSEPORT and listen; the kernel lets a socket join only when
 * both have SO_REUSEPORT and the same effective uid (inet_csk_bind_conflict), so no other
 * user can take the address, nor any socket without SO_REUSEPORT.
 *
 * Invariants (checked on Linux 6.x by binding as another uid, see test/e2e/reuseport.test.ts):
 * - SO_REUSEADDR is set only for the bind (a TIME_WAIT leftover of the previous run does
 *   not block a restart) and cleared right after: two SO_REUSEADDR sockets may share an
 *   address while neither listens, whatever their uid, so with it kept anyone could take
 *   the address between generations;
 * - SO_REUSEPORT is set only after the bind, so the bind itself is exclusive: a second
 *   steward, or any program already bound or listening there, gets EADDRINUSE.
 */
import { Buffer } from "node:buffer";
import { closeSync, openSync, readSync } from "node:fs";
import * as C from "../sys/constants.ts";
import type { Posix } from "../sys/posix.ts";
import { encodeSockAddr, ipv4Bytes, ipv6Bytes } from "../sys/sockaddr.ts";

const SO_REUSEPORT = 15;
/** /proc/net/tcp state of a listening socket */
const TCP_LISTEN = "0A";

export interface TcpAddress {
  family: 4 | 6;
  host: string;
  port: number;
}

/** The 16 or 4 address bytes of a /proc/net/tcp{,6} `ADDR:PORT` field (32-bit words in host order, little-endian). */
export function parseProcAddress(field: string): { bytes: Uint8Array; port: number } {
  const [hex = "", portHex = "0"] = field.split(":");
  const bytes = new Uint8Array(hex.length / 2);
  for (let word = 0; word < hex.length / 8; word++) {
    for (let b = 0; b < 4; b++) bytes[word * 4 + b] = parseInt(hex.slice(word * 8 + (3 - b) * 2, word * 8 + (3 - b) * 2 + 2), 16);
  }
  return { bytes, port: parseInt(portHex, 16) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A listening socket as /proc/net/tcp{,6} shows it. */
export interface ListeningSocket {
  inode: string;
  bytes: Uint8Array;
  port: number;
  family: 4 | 6;
}

/** Every listening TCP socket of this network namespace. */
/**
 * The leading lines of /proc/net/tcp{,6} up to the first socket not listening. The kernel
 * lists the listening sockets first (Linux >= 4.4: the listening hash, then the established hash, where
 * TIME_WAIT sockets are too); on a busy host the whole file is megabytes (64k lines, 0.4 s
 * to read and parse under load, measured), which readiness polling re-read per worker.
 */
export function readListeningPrefix(path: string): string {
  const fd = openSync(path, "r");
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let text = "";
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return text;
      const start = text.length;
      text += chunk.toString("latin1", 0, n);
      // a complete line after the header whose state is not LISTEN ends the listing's head
      const from = Math.max(0, text.lastIndexOf("\n", start - 1) + 1);
      for (const line of text.slice(from).split("\n").slice(0, -1)) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 4 && /^\d+:$/.test(f[0]!) && f[3] !== TCP_LISTEN) return text;
      }
    }
  } finally {
    closeSync(fd);
  }
}

export function listeningSockets(read: (path: string) => string = readListeningPrefix): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const [path, family] of [["/proc/net/tcp", 4], ["/proc/net/tcp6", 6]] as const) {
    let text: string;
    try {
      text = read(path);
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
      const { bytes, port } = parseProcAddress(f[1]!);
      out.push({ inode: f[9]!, bytes, port, family });
    }
  }
  return out;
}

export function addressBytes(a: TcpAddress): Uint8Array {
  return a.family === 4 ? ipv4Bytes(a.host) : ipv6Bytes(a.host);
}

/** Whether `s` listens on exactly `a` (same family, address and port). */
export function listensOn(s: ListeningSocket, a: TcpAddress): boolean {
  return s.family === a.family && s.port === a.port && sameBytes(s.bytes, addressBytes(a));
}

/**
 * Binds the reservation for `a` (see the file comment); throws SysError with the OS reason.
 * `uid`: the user the workers run as (`user =`). A socket belongs to the filesystem uid that
 * created it and the group admits only that uid, so a root master creates the reservation
 * under the workers' fsuid (setfsuid affects only this thread and is restored at once).
 */
export function reserveTcp(px: Posix, a: TcpAddress, subject: string, uid?: number): number {
  const asWorkers = uid !== undefined && uid !== px.fn.getuid();
  const previous = asWorkers ? px.fn.setfsuid(uid) : undefined;
  let created: number;
  try {
    created = px.fn.socket(a.family === 4 ? C.AF_INET : C.AF_INET6, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0);
  } finally {
    if (previous !== undefined) px.fn.setfsuid(previous);
  }
  const fd = px.check(created, "socket", subject);
  const set = (option: number, name: string, on: boolean) =>
    px.check(px.fn.setsockopt(fd, C.SOL_SOCKET, option, new Int32Array([on ? 1 : 0]), 4), `setsockopt(${name})`, subject);
  try {
    set(C.SO_REUSEADDR, "SO_REUSEADDR", true);
    const sa = encodeSockAddr({ family: a.family, host: a.host, port: a.port });
    px.check(px.fn.bind(fd, sa, sa.length), "bind", subject);
    set(C.SO_REUSEADDR, "SO_REUSEADDR", false);
    set(SO_REUSEPORT, "SO_REUSEPORT", true);
    return fd;
  } catch (e) {
    px.fn.close(fd);
    throw e;
  }
}
