/**
 * The master CLI's client side: `steward cli` and `steward reload` (REFERENCE §2, §7.2). It
 * talks the same text protocol as socat would, through node:net, so it runs unchanged
 * under either runtime. It never looks at the process itself: the entry point passes the
 * terminal in (`ClientTerminal`).
 *
 * No client-side timeout: a `reload` is answered only when the load ends, which the
 * master bounds by `ready-timeout` (any length); the master closes idle sessions itself.
 */
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import type { MasterCliClient, MasterCliRequest, ReloadRequest } from "./requests.ts";
import { parseMasterCliAddress } from "../config/address.ts";

export type ClientAddress = { path: string } | { host: string; port: number };

/** What the client needs from its process; main.ts passes the real ones. */
export interface ClientTerminal {
  /** relative socket paths are resolved against this */
  cwd: string;
  stdin: Readable & { isTTY?: boolean };
  /** the interactive prompt's echo and line editing (a TTY) */
  stdout: Writable;
  /** replies, as received, for machines */
  write(text: string): void;
  /** one line for people */
  stderr(line: string): void;
}

import { USAGE_EXIT_CODE } from "../exit-codes.ts";
export { USAGE_EXIT_CODE };

/**
 * `-S ADDR[,KEY,VALUE]...` as a place to connect to: the settings only matter to the
 * master that binds it. A string is the reason it is not an address.
 */
export function clientAddress(text: string, cwd: string): ClientAddress | string {
  const bind = text.split(",")[0] ?? "";
  const parsed = parseMasterCliAddress(bind, cwd);
  if (typeof parsed === "string") return parsed;
  const a = parsed.address;
  return a.kind === "unix" ? { path: a.path } : { host: a.host, port: a.port };
}

/** How an address is named in messages: the `-S` value without its settings. */
export function addressName(text: string): string {
  return (text.split(",")[0] ?? text).trim();
}

/**
 * The command lines to send for `steward cli` arguments. Each argument is one command
 * line (`"show proc" "show version"`); when none holds a space, a tab or a `;`, they are
 * the words of one command instead (`steward cli -S ADDR show proc`), which is what a
 * shell user types.
 */
export function commandLines(args: readonly string[]): string[] {
  if (args.length === 0) return [];
  if (args.every((a) => !/[\s;]/.test(a))) return [args.join(" ")];
  return args.map((a) => a.replace(/[\r\n]+/g, " "));
}

/** `Success=1` as the first line of a reload reply. */
export function reloadSucceeded(reply: string): boolean {
  return /^Success=1(\r?\n|$)/.test(reply);
}

/** A prompt the master sent (`master> `, `1234> `, `master[ReloadFailed]> `): a line without its newline. */
const PROMPT = /^[^\s]*> $/;

/** The reason of a failed connect, in words. */
export function connectProblem(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "ENOENT":
      return "no such socket (is the master running with this -S?)";
    case "ECONNREFUSED":
      return "connection refused (is the master running?)";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTSOCK":
      return "not a socket";
    default:
      return error.code ? `${error.message.replace(/^\w+ /, "")}` : error.message;
  }
}

export class ConnectError extends Error {
  readonly code = "E_CONNECT";

  constructor(
    readonly address: string,
    override readonly cause: NodeJS.ErrnoException,
  ) {
    super(`cannot connect to the master CLI at ${address}: ${connectProblem(cause)}`);
    this.name = "ConnectError";
  }
}

/** Resolves with a connected socket; rejects with a ConnectError. */
export function connectTo(address: ClientAddress, name: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect("path" in address ? { path: address.path } : { host: address.host, port: address.port });
    const failed = (e: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(new ConnectError(name, e));
    };
    socket.once("error", failed);
    socket.once("connect", () => {
      socket.off("error", failed);
      resolve(socket);
    });
  });
}

export interface Exchange {
  /** everything the master sent */
  reply: string;
  /** set when the connection broke (a reset) rather than closed */
  broken?: string;
}

/**
 * Sends `input` (text, or a stream such as stdin, relayed as it comes), half-closes at
 * its end (the master then runs what it got and closes), and collects the reply until the
 * master closes. `onText` sees the reply as it arrives.
 */
export function exchange(socket: Socket, input: string | Readable, onText?: (text: string) => void): Promise<Exchange> {
  return new Promise((resolve) => {
    const decoder = new TextDecoder();
    let reply = "";
    let broken: string | undefined;
    socket.on("data", (chunk: Uint8Array) => {
      const part = decoder.decode(chunk, { stream: true });
      reply += part;
      onText?.(part);
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      broken = e.code ?? e.message;
    });
    socket.on("close", () => {
      const rest = decoder.decode();
      reply += rest;
      if (rest !== "") onText?.(rest);
      resolve(broken === undefined ? { reply } : { reply, broken });
    });
    if (typeof input === "string") socket.end(input);
    else input.pipe(socket);
  });
}

/** `steward cli` and `steward reload` over `term`. */
export function createMasterCliClient(term: ClientTerminal): Required<Pick<MasterCliClient, "cli" | "reload">> {
  const resolveAddress = (given: string): ClientAddress | number => {
    const address = clientAddress(given, term.cwd);
    if (typeof address !== "string") return address;
    term.stderr(`steward: option '--master-cli' (-S): ${address} (got '${addressName(given)}')`);
    return USAGE_EXIT_CODE;
  };
  const open = async (address: ClientAddress, name: string): Promise<Socket | undefined> => {
    try {
      return await connectTo(address, name);
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      term.stderr(`steward: ${e.message}`);
      return undefined;
    }
  };
  const lost = (name: string, broken: string) => term.stderr(`steward: the connection to the master CLI at ${name} broke (${broken})`);

  return {
    async cli(request: MasterCliRequest): Promise<number> {
      const address = resolveAddress(request.address);
      if (typeof address === "number") return address;
      const name = addressName(request.address);
      const socket = await open(address, name);
      if (!socket) return 1;
      const lines = commandLines(request.words);
      if (lines.length === 0 && term.stdin.isTTY) return interactive(socket, term);
      // No command and no terminal: commands come from stdin as they are written, as with socat.
      const input = lines.length > 0 ? lines.map((l) => `${l}\n`).join("") : term.stdin;
      const { broken } = await exchange(socket, input, term.write);
      if (broken === undefined) return 0;
      lost(name, broken);
      return 1;
    },

    async reload(request: ReloadRequest): Promise<number> {
      const address = resolveAddress(request.address);
      if (typeof address === "number") return address;
      const name = addressName(request.address);
      const socket = await open(address, name);
      if (!socket) return 1;
      const { reply, broken } = await exchange(socket, "reload\n");
      term.write(reply);
      if (broken !== undefined) lost(name, broken);
      else if (reply === "") term.stderr(`steward: the master CLI at ${name} closed the connection without an answer`);
      return reloadSucceeded(reply) ? 0 : 1;
    },
  };
}

/**
 * The interactive prompt: turns the master's prompt on, then relays typed lines. The
 * master's prompt becomes readline's, so line editing redraws it. Ctrl-D half-closes
 * (the master answers what it got, then closes); `quit` closes from the master's side.
 */
function interactive(socket: Socket, term: ClientTerminal): Promise<number> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: term.stdin, output: term.stdout, terminal: true, prompt: "" });
    const decoder = new TextDecoder();
    let partial = "";
    let closed = false;
    socket.on("data", (chunk: Uint8Array) => {
      partial += decoder.decode(chunk, { stream: true });
      const nl = partial.lastIndexOf("\n");
      if (nl >= 0) {
        term.write(partial.slice(0, nl + 1));
        partial = partial.slice(nl + 1);
      }
      if (PROMPT.test(partial)) {
        rl.setPrompt(partial);
        partial = "";
        rl.prompt();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      if (partial !== "") term.write(partial);
      rl.close();
      resolve(0);
    });
    rl.on("line", (line) => {
      if (!closed) socket.write(`${line}\n`);
    });
    rl.on("SIGINT", () => rl.close());
    rl.on("close", () => {
      if (!closed) socket.end();
    });
    socket.write("prompt\n");
  });
}
