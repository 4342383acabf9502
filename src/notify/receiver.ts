/**
 * The master's NOTIFY_SOCKET: a unix datagram socket workers send sd_notify messages to.
 * No runtime can watch an arbitrary descriptor for us, so the socket is put in
 * O_ASYNC mode and the kernel raises SIGIO when a datagram arrives; the SIGIO handler
 * drains it. Nothing polls.
 */
import type { Posix } from "../sys/posix.ts";

export type NotifyFields = Record<string, string>;

/** `READY=1\nSTATUS=Serving` → { READY: "1", STATUS: "Serving" } */
export function parseNotifyMessage(text: string): NotifyFields {
  const out: NotifyFields = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export class NotifyReceiver {
  private readonly buf = new Uint8Array(4096);
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly px: Posix,
    readonly fd: number,
    readonly path: string,
    private readonly onMessage: (pid: number, fields: NotifyFields) => void,
  ) {}

  /** Binds `path`; the caller must route SIGIO to `drain()` before calling this. */
  static open(px: Posix, path: string, onMessage: (pid: number, fields: NotifyFields) => void): NotifyReceiver {
    const fd = px.bindDatagram(path);
    px.passCredentials(fd);
    px.signalWhenReadable(fd);
    return new NotifyReceiver(px, fd, path, onMessage);
  }

  /** Takes over the socket a previous image of this master opened; SIGIO must be routed first. */
  static adopt(px: Posix, fd: number, path: string, onMessage: (pid: number, fields: NotifyFields) => void): NotifyReceiver {
    px.setCloexec(fd, true);
    px.signalWhenReadable(fd);
    return new NotifyReceiver(px, fd, path, onMessage);
  }

  /** Before execve: no SIGIO until the new image has a handler, and the socket stays open. */
  prepareExec(): void {
    this.px.stopSignalWhenReadable(this.fd);
    this.px.setCloexec(this.fd, false);
  }

  /** After a failed execve: back to normal. */
  execFailed(): void {
    this.px.setCloexec(this.fd, true);
    this.px.signalWhenReadable(this.fd);
  }

  drain(): void {
    for (let i = 0; i < 1024; i++) {
      const got = this.px.recvWithSender(this.fd, this.buf);
      if (!got) return;
      const fields = parseNotifyMessage(this.decoder.decode(got.data));
      // BARRIER=1 (sd_notify_barrier) is answered by closing the descriptor it carried,
      // which recvWithSender did; like systemd, nothing else in that message is acted on.
      if (fields.BARRIER === "1") continue;
      this.onMessage(got.pid, fields);
    }
  }

  close(keepFile = false): void {
    this.px.close(this.fd);
    if (keepFile) return;
    try {
      this.px.unlink(this.path);
    } catch {
      // already removed
    }
  }
}
