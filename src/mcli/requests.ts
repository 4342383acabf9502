/**
 * What the command line asks of the master CLI's client side (`steward cli`, `reload`,
 * `status`): declared here, below the CLI, so that the client implements them without
 * importing the CLI (cli/deps.ts re-exports them).
 */

export interface MasterCliRequest {
  /** `-S` as given: a unix socket path or HOST:PORT, possibly followed by `,key,value` settings */
  address: string;
  /**
   * the command arguments: each one command line (`"show proc" "show version"`), or, when
   * none holds a space or `;`, the words of one command (`show`, `proc`); none: an
   * interactive prompt when stdin is a TTY, else command lines read from stdin
   */
  words: string[];
}

export interface ReloadRequest {
  address: string;
}

export interface StatusRequest {
  address: string;
  /** one JSON object instead of one line */
  json: boolean;
  /** exit 3 when the last reload failed */
  strict: boolean;
}

/** The client side of the master CLI; each resolves to the exit code. */
export interface MasterCliClient {
  /** `steward cli`: sends the command, prints the reply */
  cli?(request: MasterCliRequest): Promise<number>;
  /** `steward reload`: prints the reply; 0 iff it says Success=1 */
  reload?(request: ReloadRequest): Promise<number>;
  /** `steward status`: prints one line (or JSON); 0 ready, 1 not ready or no master, 3 (strict) last reload failed */
  status?(request: StatusRequest): Promise<number>;
}
