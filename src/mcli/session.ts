/**
 * A master CLI session and the listener it came through, as data (server.ts runs them;
 * sessions.ts decides which give way; exec-sessions.ts carries them across a re-exec).
 */
import type { MasterCliConfig } from "../config/types.ts";
import type { EventStream, HandedStream } from "./event-stream.ts";
import type { Level } from "./protocol.ts";

export interface CliListener {
  key: string;
  fd: number;
  config: MasterCliConfig;
  /** a unix socket file this master created */
  path?: string;
  sessions: number;
}

/** What a session carries across a re-exec when it asked for the reload. */
export interface HandedSession {
  fd: number;
  listenerKey: string;
  level: Level;
  prompt: boolean;
  target?: string;
  /** input received after the reload command, still to run */
  pending: string[][];
  peerClosed: boolean;
  /** Date.now() of its last input or reply (absent in a state written before it existed) */
  lastActive?: number;
  /** a `show events` stream in progress (event-stream.ts) */
  stream?: HandedStream;
}

export class Session {
  level: Level;
  prompt = false;
  /** default routing target (`@1`, `@!123`), if set */
  target?: string;
  /** the bytes of a line not ended yet (UTF-8 is decoded per whole line: no sequence holds a newline byte) */
  partial: Uint8Array[] = [];
  partialBytes = 0;
  queue: string[][] = [];
  out: Uint8Array[] = [];
  busy = false;
  peerClosed = false;
  closing = false;
  /** a line went over MAX_LINE: what came before it is answered, then the session closes */
  tooLong = false;
  /** closing, output written and SHUT_WR sent: input is read and discarded until EOF */
  lingering?: ReturnType<typeof setTimeout>;
  lastActive = Date.now();
  /** replies sent so far */
  replies = 0;
  /** `show events` in progress: the session is busy until it ends (exec-streams.ts) */
  stream?: EventStream;

  constructor(
    readonly fd: number,
    readonly listener: CliListener,
    /** false for a connection refused for the listener's session limit, or evicted from it (sessions.ts) */
    public counted = true,
  ) {
    this.level = listener.config.level;
  }
}
