/** Building and reading sockaddr structures (pure: bytes in, bytes out). */
import { AF_INET, AF_INET6, AF_UNIX } from "./constants.ts";

export const SOCKADDR_MAX = 128;
const UNIX_PATH_MAX = 108;

// Address text is validated by the configuration layer; these checks only keep a bad
// string from becoming a wrong address. (No node:net here: the exec shim imports this file.)
function isIPv4(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return !!m && m.slice(1).every((p) => Number(p) <= 255);
}

function isIPv6(host: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(host) && host.includes(":") && (host.match(/::/g) ?? []).length <= 1;
}

export function ipv4Bytes(host: string): Uint8Array {
  if (!isIPv4(host)) throw new Error(`not an IPv4 address: ${host}`);
  return Uint8Array.from(host.split(".").map((p) => Number(p)));
}

export function ipv6Bytes(host: string): Uint8Array {
  if (!isIPv6(host)) throw new Error(`not an IPv6 address: ${host}`);
  let text = host;
  const out = new Uint8Array(16);
  // an embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    text = text.slice(0, -v4[1]!.length).replace(/:$/, "") || "";
    if (text.endsWith(":")) text += ":";
  }
  const [headText, tailText] = text.includes("::") ? text.split("::") : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(":").filter((g) => g !== "").map((g) => parseInt(g, 16)) : []);
  const head = parse(headText);
  const rest = [...parse(tailText), ...tail];
  const groups =
    tailText === undefined && !text.includes("::")
      ? [...head, ...tail]
      : [...head, ...new Array(8 - head.length - rest.length).fill(0), ...rest];
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

export type SockAddr =
  | { family: 4 | 6; host: string; port: number }
  | { family: "unix"; path: string };

export function encodeSockAddr(addr: SockAddr): Uint8Array {
  if (addr.family === "unix") {
    const path = new TextEncoder().encode(addr.path);
    if (path.length >= UNIX_PATH_MAX) throw new Error(`unix socket path too long (${path.length} bytes, at most ${UNIX_PATH_MAX - 1}): ${addr.path}`);
    const buf = new Uint8Array(2 + path.length + 1);
    new DataView(buf.buffer).setUint16(0, AF_UNIX, true);
    buf.set(path, 2);
    return buf;
  }
  if (addr.family === 4) {
    const buf = new Uint8Array(16);
    const dv = new DataView(buf.buffer);
    dv.setUint16(0, AF_INET, true);
    dv.setUint16(2, addr.port, false);
    buf.set(ipv4Bytes(addr.host), 4);
    return buf;
  }
  const buf = new Uint8Array(28);
  const dv = new DataView(buf.buffer);
  dv.setUint16(0, AF_INET6, true);
  dv.setUint16(2, addr.port, false);
  buf.set(ipv6Bytes(addr.host), 8);
  return buf;
}

export function decodeSockAddr(buf: Uint8Array, len: number): SockAddr {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const family = dv.getUint16(0, true);
  if (family === AF_INET) {
    return { family: 4, host: Array.from(buf.subarray(4, 8)).join("."), port: dv.getUint16(2, false) };
  }
  if (family === AF_INET6) {
    const groups: number[] = [];
    for (let i = 0; i < 8; i++) groups.push(dv.getUint16(8 + i * 2, false));
    return { family: 6, host: formatIPv6Groups(groups), port: dv.getUint16(2, false) };
  }
  const raw = buf.subarray(2, len);
  const end = raw.indexOf(0);
  return { family: "unix", path: new TextDecoder().decode(end >= 0 ? raw.subarray(0, end) : raw) };
}

/** RFC 5952 text: lowercase hex, the longest run of two or more zero groups as `::`. */
export function formatIPv6Groups(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}
