/**
 * Listener addresses. Every address gets one canonical spelling (`bind`) because reloads
 * match listeners by address: `tcp://[0:0::1]:80` and `tcp://[::1]:80` must be the same
 * listener, or a reload would close a socket and bind it again, refusing connections.
 *
 * Host names other than `localhost` are refused rather than resolved: a name can resolve
 * to several addresses or change between reloads, and the master binds exactly once.
 * IP literals are parsed by hand because only node:fs/path/os may be used here.
 */

import { isAbsolute, resolve } from "node:path";
import type { ListenAddress } from "./types.ts";

export interface ParsedAddress {
  address: ListenAddress;
  /** canonical form: `tcp://127.0.0.1:80`, `tcp://[::1]:80`, `unix:///run/app.sock` */
  bind: string;
}

/** sun_path holds 108 bytes including the terminating NUL. */
const UNIX_PATH_MAX = 107;

const URL_HINT = "use tcp://HOST:PORT, tcp://[V6]:PORT or unix:///PATH";

/** `tcp://HOST:PORT`, `tcp://[V6]:PORT`, `unix:///abs`, `unix:/abs`, `unix:rel` (against baseDir). */
export function parseListenUrl(url: string, baseDir: string): ParsedAddress | string {
  const text = url.trim();
  if (/^unix:/i.test(text)) return unixAddress(text.slice(5).replace(/^\/\//, ""), baseDir);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  const [prefix, name] = scheme ?? [];
  if (prefix === undefined || name === undefined) return `missing scheme (${guessUrl(text)})`;
  if (name.toLowerCase() !== "tcp") return `unsupported scheme '${name}' (${URL_HINT})`;
  return tcpAddress(text.slice(prefix.length));
}

function guessUrl(text: string): string {
  if (text.startsWith("/")) return `did you mean unix://${text}?`;
  if (/^(\[[^\]]*\]|[^/]*):\d+$/.test(text)) return `did you mean tcp://${text}?`;
  return URL_HINT;
}

/** A unix socket path, relative ones resolved against baseDir. */
export function unixAddress(path: string, baseDir: string): ParsedAddress | string {
  if (path === "") return "empty unix socket path";
  const absolute = isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
  const bytes = new TextEncoder().encode(absolute).length;
  if (bytes > UNIX_PATH_MAX) {
    return `unix socket path too long (${bytes} bytes, at most ${UNIX_PATH_MAX}): ${absolute}`;
  }
  return { address: { kind: "unix", path: absolute }, bind: `unix://${absolute}` };
}

/** `HOST:PORT` or `[V6]:PORT`, as written after `tcp://` or in a master-CLI address. */
export function tcpAddress(hostPort: string): ParsedAddress | string {
  let host: string;
  let port: string;
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]");
    if (close < 0) return "missing ']' after the IPv6 address";
    host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (!after.startsWith(":")) return "missing port (write [V6]:PORT)";
    port = after.slice(1);
    if (!parseIPv6(host)) return `'${host}' is not an IPv6 address`;
  } else {
    const colon = hostPort.lastIndexOf(":");
    if (colon < 0) return "missing port (write HOST:PORT)";
    host = hostPort.slice(0, colon);
    port = hostPort.slice(colon + 1);
    if (host.includes(":")) return `IPv6 addresses need brackets: [${host}]:${port}`;
  }
  const portNumber = parsePort(port);
  if (typeof portNumber === "string") return portNumber;
  const ip = canonicalHost(host, hostPort.startsWith("["));
  if (typeof ip === "string") return ip;
  const shown = ip.family === 6 ? `[${ip.host}]` : ip.host;
  return {
    address: { kind: "tcp", host: ip.host, port: portNumber, family: ip.family },
    bind: `tcp://${shown}:${portNumber}`,
  };
}

function parsePort(port: string): number | string {
  if (port === "") return "missing port";
  if (!/^\d+$/.test(port) || Number(port) > 65535) return `port must be a number from 0 to 65535 (got '${port}')`;
  return Number(port);
}

function canonicalHost(host: string, bracketed: boolean): { host: string; family: 4 | 6 } | string {
  if (bracketed) return { host: formatIPv6(parseIPv6(host) ?? []), family: 6 };
  if (host === "" || host === "*") return { host: "0.0.0.0", family: 4 };
  if (host.toLowerCase() === "localhost") return { host: "127.0.0.1", family: 4 };
  const v4 = parseIPv4(host);
  if (v4) return { host: v4.join("."), family: 4 };
  return `host '${host}' must be an IP address, localhost or * (names are not resolved)`;
}

/** Dotted quad with no leading zeros (inet_aton would read `010` as octal 8). */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((part) => (/^(0|[1-9]\d{0,2})$/.test(part) ? Number(part) : 256));
  return bytes.every((byte) => byte <= 255) ? bytes : undefined;
}

/** Eight 16-bit groups, or undefined. Accepts `::` compression and a trailing dotted quad. */
export function parseIPv6(text: string): number[] | undefined {
  const [before = "", after, ...more] = text.split("::");
  if (more.length > 0) return undefined;
  const head = parseGroups(before, after === undefined);
  const tail = after === undefined ? [] : parseGroups(after, true);
  if (!head || !tail) return undefined;
  const explicit = head.length + tail.length;
  if (after === undefined) return explicit === 8 ? head : undefined;
  if (explicit > 7) return undefined;
  return [...head, ...new Array<number>(8 - explicit).fill(0), ...tail];
}

function parseGroups(text: string, mayEndInV4: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (mayEndInV4 && index === parts.length - 1 && part.includes(".")) {
      const [a, b, c, d] = parseIPv4(part) ?? [];
      if (a === undefined || b === undefined || c === undefined || d === undefined) return undefined;
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

/** RFC 5952: lower case, no leading zeros, the longest run (≥2) of zero groups as `::`. */
export function formatIPv6(groups: number[]): string {
  const [high = 0, low = 0] = groups.slice(6);
  if (groups.length === 8 && groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < groups.length; start++) {
    let length = 0;
    while (start + length < groups.length && groups[start + length] === 0) length++;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/**
 * A master-CLI address as HAProxy's `-S` takes it: a unix socket path (absolute, or
 * relative to baseDir) or `HOST:PORT`. The URL forms of listeners are accepted too.
 */
export function parseMasterCliAddress(text: string, baseDir: string): ParsedAddress | string {
  const addr = text.trim();
  if (addr === "") return "empty address";
  if (/^(unix:|tcp:\/\/)/i.test(addr)) return parseListenUrl(addr, baseDir);
  if (addr.startsWith("/") || addr.startsWith(".")) return unixAddress(addr, baseDir);
  // Anything with a colon and no slash is meant as HOST:PORT; tcpAddress explains what is wrong.
  if (addr.includes(":") && !addr.includes("/")) return tcpAddress(addr);
  return unixAddress(addr, baseDir);
}

/** The master-CLI spelling of an address: the socket path, or `HOST:PORT` / `[V6]:PORT`. */
export function masterCliBind(address: ListenAddress): string {
  if (address.kind === "unix") return address.path;
  return address.family === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
