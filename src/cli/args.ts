/**
 * The options of every subcommand, as citty argument definitions. This table is the one
 * source for parsing, the strict check, the STEWARD_* variables and the help text.
 * Short flags are not listed here: they are rewritten to these long names beforehand
 * (normalize.ts), and help output adds them from that table.
 */

import type { ArgsDef } from "citty";

/** Options of `run` (and `check`) that change the configuration. */
export const CONFIG_ARGS = {
  config: { type: "string", valueHint: "file", description: "configuration file (TOML, YAML or JSON by extension)" },
  "master-cli": {
    type: "string",
    valueHint: "addr[,key,value]",
    description: "master CLI listener: unix socket path or HOST:PORT, with mode/uid/gid/level keys; repeatable",
  },
  pidfile: { type: "string", valueHint: "file", description: "write the master PID here after each successful load" },
  listen: {
    type: "string",
    valueHint: "[name=]url",
    description: "a listener: tcp://HOST:PORT, tcp://[V6]:PORT or unix:///path; repeatable; replaces the file's [[listen]] list",
  },
  workers: { type: "string", valueHint: "n", description: "worker processes per generation (default 1)" },
  ready: { type: "string", valueHint: "mode", description: "readiness: accepting, notify, spawn or delay:DURATION" },
  "ready-timeout": { type: "string", valueHint: "duration", description: "a generation not ready by then is a failed load" },
  "stop-signal": { type: "string", valueHint: "signal", description: "sent to old workers to drain (default SIGTERM)" },
  "hard-stop-after": { type: "string", valueHint: "duration", description: "SIGKILL old workers still alive after this; 0 = never" },
  "max-reloads": { type: "string", valueHint: "n", description: "SIGTERM old workers that survived more reloads" },
  "on-failure": { type: "string", valueHint: "exit|restart|ignore", description: "what to do when a current worker dies" },
  "start-nice": {
    type: "string",
    valueHint: "n",
    description: "nice value (-20 to 19) of a starting worker's session until it is ready; default -5, 0 = off",
  },
  "log-format": { type: "string", valueHint: "text|journal|json", description: "log lines: text (default; syslog priority prefixes when stderr is the journal), journal, json" },
} as const satisfies ArgsDef;

export const RUN_ARGS = {
  ...CONFIG_ARGS,
  "master-worker": { type: "boolean", description: "accepted for HAProxy compatibility; master-worker is the only mode" },
  daemon: { type: "boolean", description: "run in the background once the first generation is ready" },
  systemd: { type: "boolean", description: "send sd_notify messages to $NOTIFY_SOCKET" },
  check: { type: "boolean", description: "validate the configuration and exit (same as 'steward check')" },
  quiet: { type: "boolean", description: "log errors only" },
  verbose: { type: "boolean", description: "log debug messages too" },
} as const satisfies ArgsDef;

export const CHECK_ARGS = CONFIG_ARGS;

const MASTER_CLI_ADDRESS = {
  type: "string",
  valueHint: "addr",
  description: "the master CLI address (unix socket path or HOST:PORT); default: the first of STEWARD_MASTER_CLI",
} as const;

export const CLI_ARGS = {
  "master-cli": MASTER_CLI_ADDRESS,
  command: { type: "positional", required: false, description: "master CLI command words; none: interactive prompt" },
} as const satisfies ArgsDef;

export const RELOAD_ARGS = { "master-cli": MASTER_CLI_ADDRESS } as const satisfies ArgsDef;

export const STATUS_ARGS = {
  "master-cli": MASTER_CLI_ADDRESS,
  json: { type: "boolean", description: "print one JSON object instead of one line" },
  strict: { type: "boolean", description: "exit 3 when the last reload failed (else 0 while the current generation serves)" },
} as const satisfies ArgsDef;

export const UPGRADE_ARGS = {
  url: { type: "string", valueHint: "url", description: "where to download the new binary (with --sha256)" },
  sha256: { type: "string", valueHint: "hex", description: "expected SHA-256 of the download (with --url)" },
  manifest: { type: "string", valueHint: "url", description: "a release's manifest.json: download the artefact for this host (instead of --url)" },
  "master-cli": MASTER_CLI_ADDRESS,
} as const satisfies ArgsDef;

/** Options that may be given more than once; every value counts (others: the last wins). */
export const REPEATABLE: ReadonlySet<string> = new Set(["master-cli", "listen"]);
