/**
 * HAProxy-style short flags → long options, before citty sees the arguments.
 *
 * citty hands its arguments to `util.parseArgs`, which reads `-Ws` as `-W -s` and knows
 * no multi-letter short flags, so the HAProxy spellings are rewritten here, once, into
 * the canonical long options. Everything after the first bare `--` is the worker command
 * and is never rewritten or parsed: `-- node -W x.js` must reach the worker as typed.
 */

export const SUBCOMMANDS = ["run", "check", "cli", "reload", "status", "upgrade", "version", "help"] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/** Each short flag and the long options it stands for (HAProxy's names where they exist). */
export const SHORT_FLAGS: Readonly<Record<string, readonly string[]>> = {
  "-W": ["--master-worker"],
  "-Ws": ["--master-worker", "--systemd"],
  "-D": ["--daemon"],
  "-S": ["--master-cli"],
  "-f": ["--config"],
  "-p": ["--pidfile"],
  "-c": ["--check"],
  "-l": ["--listen"],
  "-n": ["--workers"],
  "-q": ["--quiet"],
  // HAProxy's spellings: -v prints the version (handled below, as --version), -V is verbose
  "-V": ["--verbose"],
  "-h": ["--help"],
};

/** Short flags that take a value, which may also be glued on: `-f/etc/app.toml`. */
export const GLUED_VALUE_FLAGS: ReadonlySet<string> = new Set(["-f", "-S", "-p", "-l", "-n"]);

export interface NormalizedArgv {
  /** the subcommand: the first argument when it is a word, else `run` (or `version` for `--version`) */
  subcommand: string;
  /** whether the user typed the subcommand (an implicit `run` is not named in hints) */
  explicit: boolean;
  /** the subcommand's arguments with long options only, for citty */
  args: string[];
  /** what the user typed for each element of `args`, so errors quote the user's spelling */
  spelled: string[];
  /** the words after the first bare `--`, untouched; undefined when there is no `--` */
  command: string[] | undefined;
}

export function normalizeArgv(argv: readonly string[]): NormalizedArgv {
  const separator = argv.indexOf("--");
  const options = separator === -1 ? argv : argv.slice(0, separator);
  const command = separator === -1 ? undefined : argv.slice(separator + 1);

  const first = options[0];
  const explicit = first !== undefined && !first.startsWith("-");
  const rest = explicit ? options.slice(1) : options;
  // `steward --version` and `steward -v` are `steward version`; as with HAProxy's -v, other options are ignored.
  if (!explicit && (rest.includes("--version") || rest.includes("-v"))) {
    return { subcommand: "version", explicit: false, args: [], spelled: [], command: undefined };
  }

  const args: string[] = [];
  const spelled: string[] = [];
  for (const token of rest) {
    for (const rewritten of expandShortFlag(token)) {
      args.push(rewritten);
      spelled.push(token);
    }
  }
  return { subcommand: explicit ? first : "run", explicit, args, spelled, command };
}

/**
 * One argument as long options. Values of options pass through unchanged because they do
 * not start with `-`; a value that does is refused later as a missing value anyway.
 */
function expandShortFlag(token: string): readonly string[] {
  const expansion = SHORT_FLAGS[token];
  if (expansion !== undefined) return expansion;
  const flag = token.slice(0, 2);
  if (token.length > 2 && GLUED_VALUE_FLAGS.has(flag)) {
    // `=` keeps a glued value that starts with `-` from being read as an option.
    return [`${SHORT_FLAGS[flag]![0]}=${token.slice(2)}`];
  }
  return [token];
}

/** The short flags that stand for a long option, for help output: `config` → `["f"]`. */
export function shortFlagsOf(longName: string): string[] {
  return Object.entries(SHORT_FLAGS)
    .filter(([, expansion]) => expansion[expansion.length - 1] === `--${longName}`)
    .map(([flag]) => flag.slice(1));
}
