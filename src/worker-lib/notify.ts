/**
 * sd_notify from a JavaScript worker: one datagram to the unix socket `NOTIFY_SOCKET`.
 * No JavaScript runtime has unix datagram sockets (node:dgram is UDP only, Bun.udpSocket
 * too, Deno's unixpacket is behind --unstable-net), so the datagram is sent through libc:
 * `bun:ffi` under Bun, `Deno.dlopen` under Deno (which needs --allow-ffi). Node has no FFI:
 * there the fields go through systemd's own `systemd-notify` (a child, found in PATH), which
 * waits with BARRIER=1 until steward has read them, so steward still sees its sender alive
 * as the worker's descendant; without it `notify` throws with one line, and the worker
 * relies on steward's default readiness, `accepting`, which needs nothing from it.
 *
 * This file runs inside user workers, not in steward: it is the one place outside
 * src/runtime and src/sys that feature-detects globalThis.Bun / globalThis.Deno.
 */
import { execFile } from "node:child_process";
import process from "node:process";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const LIBC_NAMES = ["libc.so.6", "libc.so", `/lib/ld-musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`];

type Send = (fd: number, data: Uint8Array, addr: Uint8Array) => number;
interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto: Send;
  close(fd: number): number;
}

/** struct sockaddr_un for `path` (a leading `@` is the abstract namespace). */
export function sockaddrUn(path: string): Uint8Array {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length > 107) throw new Error(`steward/worker: NOTIFY_SOCKET '${path}' is longer than 107 bytes`);
  const addr = new Uint8Array(2 + bytes.length + (path.startsWith("@") ? 0 : 1));
  addr[0] = AF_UNIX; // sa_family, little-endian on every Linux steward runs on
  addr.set(bytes, 2);
  if (path.startsWith("@")) addr[2] = 0;
  return addr;
}

function firstOpen<T>(open: (name: string) => T): T {
  let last: unknown;
  for (const name of LIBC_NAMES) {
    try {
      return open(name);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

async function bunLibc(): Promise<Libc> {
  const ffi = await import("bun:ffi");
  const lib = firstOpen((name) =>
    ffi.dlopen(name, {
      socket: { args: ["i32", "i32", "i32"], returns: "i32" },
      sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i64" },
      close: { args: ["i32"], returns: "i32" },
    }),
  );
  const s = lib.symbols;
  return {
    socket: (d, t, p) => s.socket(d, t, p),
    sendto: (fd, data, addr) => Number(s.sendto(fd, ffi.ptr(data), data.length, 0, ffi.ptr(addr), addr.length)),
    close: (fd) => s.close(fd),
  };
}

// deno-lint-ignore no-explicit-any
function denoLibc(deno: any): Libc {
  let lib;
  try {
    lib = firstOpen((name) =>
      deno.dlopen(name, {
        socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
        sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
        close: { parameters: ["i32"], result: "i32" },
      }),
    );
  } catch (e) {
    throw new Error(`steward/worker: sd_notify under Deno needs --allow-ffi (${(e as Error).message})`);
  }
  const s = lib.symbols;
  return {
    socket: (d, t, p) => s.socket(d, t, p),
    sendto: (fd, data, addr) => Number(s.sendto(fd, data, BigInt(data.length), 0, addr, addr.length)),
    close: (fd) => s.close(fd),
  };
}

let libc: Promise<Libc> | undefined;

function loadLibc(): Promise<Libc> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return bunLibc();
  return Promise.resolve().then(() => denoLibc(g.Deno));
}

/** Node: `systemd-notify FIELD=value ...` (see above). */
function systemdNotify(fields: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("systemd-notify", fields.split("\n"), { timeout: 15_000 }, (error, _stdout, stderr) => {
      if (!error) resolve();
      else if ((error as { code?: unknown }).code === "ENOENT") {
        reject(new Error("steward/worker: sd_notify under Node needs 'systemd-notify' in PATH (Node has no unix datagram sockets): install systemd, or keep the default readiness, accepting"));
      } else reject(new Error(`steward/worker: systemd-notify ${JSON.stringify(fields)} failed: ${String(stderr).trim() || error.message}`));
    });
  });
}

/**
 * Sends `fields` (e.g. `READY=1`, `STATUS=...`) to `NOTIFY_SOCKET`. Resolves false when the
 * variable is unset (not started by steward or systemd); throws with one line otherwise.
 */
export async function notify(fields: string, env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const path = env.NOTIFY_SOCKET;
  if (!path) return false;
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun === undefined && g.Deno === undefined) {
    await systemdNotify(fields);
    return true;
  }
  libc ??= loadLibc();
  const c = await libc;
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("steward/worker: cannot create a unix datagram socket");
  try {
    const data = new TextEncoder().encode(fields);
    if (c.sendto(fd, data, sockaddrUn(path)) !== data.length) throw new Error(`steward/worker: cannot send to NOTIFY_SOCKET '${path}'`);
  } finally {
    c.close(fd);
  }
  return true;
}

/** `READY=1`: the worker is ready (for steward's `ready = "notify"` and systemd's Type=notify). */
export function ready(): Promise<boolean> {
  return notify("READY=1");
}

/** `STATUS=text`, shown by `show proc json` (and by systemctl status). */
export function status(text: string): Promise<boolean> {
  return notify(`STATUS=${text.replace(/\n/g, " ")}`);
}
