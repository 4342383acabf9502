/**
 * Collects validation problems. Validation never stops at the first problem: a user fixing
 * a config file wants every mistake in one run, not one per restart.
 */

import type { ConfigProblem, OverrideField, OverrideOrigin } from "./types.ts";

/** A key path as segments: `["listen", 0, "bind"]` is `listen[0].bind`. */
export type KeyPath = readonly (string | number)[];

/** Finds the 1-based line where a key path is written, when the file format allows it. */
export type LineFinder = (path: KeyPath) => number | undefined;

/** `["listen", 0, "bind"]` → `listen[0].bind`; keys that are not plain words are quoted. */
export function keyPathText(path: KeyPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** The command-line option and the environment variable that set each override. */
export const OPTION_OF: Readonly<Record<OverrideField, string>> = {
  workers: "workers",
  ready: "ready",
  readyTimeout: "ready-timeout",
  stopSignal: "stop-signal",
  hardStopAfter: "hard-stop-after",
  maxReloads: "max-reloads",
  onFailure: "on-failure",
  logFormat: "log-format",
  startNice: "start-nice",
  pidfile: "pidfile",
  listen: "listen",
  masterCli: "master-cli",
  command: "command",
};

/** `--ready-timeout` on the command line, `STEWARD_READY_TIMEOUT` from the environment. */
export function overrideName(field: OverrideField, origin: OverrideOrigin = "command line"): string {
  const option = OPTION_OF[field];
  if (origin === "environment") return `STEWARD_${option.toUpperCase().replace(/-/g, "_")}`;
  return field === "command" ? "--" : `--${option}`;
}

export class ProblemList {
  readonly problems: ConfigProblem[] = [];

  constructor(
    /** shown for problems found in the file: the path as the user gave it */
    private readonly fileSource: string,
    private readonly lineOf: LineFinder = () => undefined,
    private readonly origins: Partial<Record<OverrideField, OverrideOrigin>> = {},
  ) {}

  /** A problem with a value in the file (or with the absence of one). */
  inFile(path: KeyPath, problem: string, ...got: [] | [unknown]): void {
    const line = this.lineOf(path);
    this.problems.push({
      source: this.fileSource,
      ...(line === undefined ? {} : { line }),
      key: keyPathText(path),
      problem,
      ...(got.length === 0 ? {} : { got: got[0] }),
    });
  }

  /** A problem with a value given on the command line or through STEWARD_* variables. */
  inOverride(field: OverrideField, problem: string, ...got: [] | [unknown]): void {
    const origin = this.origins[field] ?? "command line";
    this.problems.push({
      source: origin,
      key: overrideName(field, origin),
      problem,
      ...(got.length === 0 ? {} : { got: got[0] }),
    });
  }

  /** The option or variable name the user set `field` with. */
  optionName(field: OverrideField): string {
    return overrideName(field, this.origins[field]);
  }

  get empty(): boolean {
    return this.problems.length === 0;
  }
}
