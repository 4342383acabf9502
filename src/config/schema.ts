/**
 * From the parsed file (kebab-case keys, REFERENCE §3) plus command-line overrides to a
 * validated, defaulted `Config`. Every problem is collected; a config is returned only
 * when there are none.
 */

import { resolve } from "node:path";
import { type Draft, type Placed, reportClashes } from "./draft.ts";
import { GLOBAL_KEYS, readGlobal } from "./global.ts";
import { buildMetrics, METRICS_KEYS, metricsClash } from "./metrics.ts";
import { type IdDatabase, systemIds } from "./ids.ts";
import { applyOverrides } from "./overrides.ts";
import { type KeyPath, type LineFinder, ProblemList } from "./problems.ts";
import { checkFdPlaceholders, readSocketEnv } from "./placeholders.ts";
import { readCommand, readEnv } from "./process.ts";
import { readHealth } from "./monitors.ts";
import { buildListener, buildMasterCli, type FieldReporter, LISTEN_KEYS, MASTER_CLI_KEYS } from "./sockets.ts";
import { suggest } from "./suggest.ts";
import type { Config, ConfigOverrides, ConfigProblem, ConfigResult, MetricsConfig, ProgramConfig } from "./types.ts";
import { isTable, ON_FAILURE, parseChoice, parseName, parsePath } from "./values.ts";

export interface ValidateContext {
  /** how problems in the file name it: the path as the user gave it */
  source?: string;
  /** absolute path of the file, recorded in Config.file */
  file?: string;
  /** relative paths in the file are resolved against this (the file's directory) */
  baseDir: string;
  /** relative paths in overrides are resolved against this (the working directory) */
  cwd: string;
  overrides?: ConfigOverrides;
  lineOf?: LineFinder;
  /** user/group names; the system files by default */
  ids?: IdDatabase;
}

const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": ["global", "listen", "worker", "program", "master-cli", "metrics"],
  global: GLOBAL_KEYS,
  listen: LISTEN_KEYS,
  worker: ["command", "cwd", "env", "socket-env", "health"],
  program: ["name", "command", "cwd", "env", "start-on-reload", "on-failure"],
  "master-cli": MASTER_CLI_KEYS,
  metrics: METRICS_KEYS,
};

export function validateConfig(raw: unknown, ctx: ValidateContext): ConfigResult {
  const overrides = ctx.overrides ?? {};
  const problems = new ProblemList(ctx.source ?? "command line", ctx.lineOf, overrides.origin);
  const ids = ctx.ids ?? systemIds();
  const root = raw ?? {};
  if (!isTable(root)) {
    problems.inFile([], "the top level must be a table of sections", root);
    return { ok: false, problems: problems.problems };
  }
  checkKeys(root, [], problems);
  const read = new SectionReader(problems, ctx.baseDir, ids);
  const draft: Draft = {
    global: read.global(root.global),
    listen: read.list(root.listen, "listen", (fields, index, report) =>
      buildListener(fields, index, ctx.baseDir, ids, report)),
    worker: read.worker(root.worker),
    program: read.list(root.program, "program", (fields, index) => read.program(fields, index)),
    masterCli: read.list(root["master-cli"], "master-cli", (fields, _index, report) =>
      buildMasterCli(fields, ctx.baseDir, ids, report)),
  };
  applyOverrides(draft, overrides, { problems, cwd: ctx.cwd, ids });
  if (draft.worker.command === undefined && !draft.worker.commandInvalid) {
    problems.inFile(["worker", "command"], "required (give [worker] command = [...] or a command after --)");
  }
  checkFdPlaceholders(draft, problems);
  reportClashes(draft, problems);
  const metrics = read.metrics(root.metrics);
  const metricsProblem = metrics && metricsClash(metrics, draft);
  if (metricsProblem) problems.inFile(["metrics", "bind"], metricsProblem, metrics.bind);
  if (!problems.empty || draft.worker.command === undefined) return { ok: false, problems: inFileOrder(problems.problems) };
  const config: Config = {
    ...(ctx.file === undefined ? {} : { file: ctx.file }),
    global: draft.global,
    listen: draft.listen.map((entry) => entry.value),
    worker: {
      command: draft.worker.command,
      ...(draft.worker.cwd === undefined ? {} : { cwd: draft.worker.cwd }),
      env: draft.worker.env,
      ...(draft.worker.socketEnv === undefined ? {} : { socketEnv: draft.worker.socketEnv }),
      ...(draft.worker.health === undefined ? {} : { health: draft.worker.health }),
    },
    program: draft.program.map((entry) => entry.value),
    masterCli: draft.masterCli.map((entry) => entry.value),
    ...(metrics ? { metrics } : {}),
  };
  return { ok: true, config };
}

/**
 * Problems in the order a reader meets them: the file's by line (those without a line
 * after), then the command line's. The sort is stable, so equal lines keep their order.
 */
function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): number => (p.line ?? (p.source === "command line" || p.source === "environment" ? Infinity : 1e9));
  return [...problems].sort((a, b) => rank(a) - rank(b));
}

/**
 * Unknown keys, with the section the key belongs to (a key in the wrong section is the
 * likelier mistake when it matches exactly) or else the closest key of this section.
 */
function checkKeys(table: Record<string, unknown>, path: KeyPath, problems: ProblemList): void {
  const section = path.length === 0 ? "" : String(path[0]);
  const allowed = SECTION_KEYS[section] ?? [];
  for (const key of Object.keys(table)) {
    if (allowed.includes(key)) continue;
    const close = suggest(key, allowed);
    const home = Object.keys(SECTION_KEYS).find((name) => name !== "" && name !== section && SECTION_KEYS[name]?.includes(key));
    const hint = home ? ` (it belongs in ${home})` : close ? ` (did you mean '${close}'?)` : "";
    problems.inFile([...path, key], `unknown key${hint}`);
  }
}

class SectionReader {
  constructor(
    private readonly problems: ProblemList,
    private readonly baseDir: string,
    private readonly ids: IdDatabase,
  ) {}

  private table(value: unknown, path: KeyPath): Record<string, unknown> | undefined {
    if (value === undefined) return undefined;
    if (isTable(value)) {
      checkKeys(value, path, this.problems);
      return value;
    }
    this.problems.inFile(path, "must be a table", value);
    return undefined;
  }

  global(value: unknown): Draft["global"] {
    return readGlobal(this.table(value, ["global"]) ?? {}, this.baseDir, this.ids, this.problems);
  }

  /** An array of tables (`[[listen]]`); entries that fail to build are left out. */
  list<T>(
    value: unknown,
    section: string,
    build: (fields: Record<string, unknown>, index: number, report: FieldReporter) => T | undefined,
  ): Placed<T>[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.problems.inFile([section], `must be a list of tables ([[${section}]] in TOML)`, value);
      return [];
    }
    const entries: Placed<T>[] = [];
    value.forEach((item: unknown, index) => {
      const fields = isTable(item) ? this.table(item, [section, index]) : undefined;
      if (!fields) {
        this.problems.inFile([section, index], "must be a table", item);
        return;
      }
      const built = build(fields, index, (field, problem, ...got) => this.problems.inFile([section, index, field], problem, ...got));
      if (built !== undefined) entries.push({ value: built, path: [section, index] });
    });
    return entries;
  }

  metrics(value: unknown): MetricsConfig | undefined {
    const table = this.table(value, ["metrics"]);
    return table && buildMetrics(table, (problem, ...got) => this.problems.inFile(["metrics", "bind"], problem, ...got));
  }

  worker(value: unknown): Draft["worker"] {
    const table = this.table(value, ["worker"]) ?? {};
    const command = table.command === undefined ? undefined : readCommand(table.command, ["worker", "command"], this.problems);
    return {
      command,
      commandInvalid: table.command !== undefined && command === undefined,
      cwd: this.directory(table.cwd, ["worker", "cwd"]),
      env: readEnv(table.env, ["worker", "env"], this.problems),
      ...(table["socket-env"] === undefined ? {} : { socketEnv: readSocketEnv(table["socket-env"], ["worker", "socket-env"], this.problems) }),
      ...(table.health === undefined ? {} : { health: readHealth(table.health, ["worker", "health"], this.problems) }),
    };
  }

  /** Undefined only without a valid name; other problems are reported, and the name still
   * takes part in the duplicate check. */
  program(fields: Record<string, unknown>, index: number): ProgramConfig | undefined {
    const path: KeyPath = ["program", index];
    const name = fields.name === undefined ? undefined : parseName(fields.name);
    if (name === undefined) this.problems.inFile([...path, "name"], "required (programs are shown and addressed by name)");
    else if (!name.ok) this.problems.inFile([...path, "name"], name.error, fields.name);
    const command = fields.command === undefined
      ? (this.problems.inFile([...path, "command"], "required"), undefined)
      : readCommand(fields.command, [...path, "command"], this.problems);
    const cwd = this.directory(fields.cwd, [...path, "cwd"]);
    const env = readEnv(fields.env, [...path, "env"], this.problems);
    const startOnReload = fields["start-on-reload"] ?? true;
    if (typeof startOnReload !== "boolean") this.problems.inFile([...path, "start-on-reload"], "must be true or false", startOnReload);
    const onFailure = fields["on-failure"] === undefined ? { ok: true as const, value: "restart" as const } : parseChoice(fields["on-failure"], ON_FAILURE);
    if (!onFailure.ok) this.problems.inFile([...path, "on-failure"], onFailure.error, fields["on-failure"]);
    if (!name?.ok) return undefined;
    return {
      name: name.value,
      command: command ?? [],
      ...(cwd === undefined ? {} : { cwd }),
      env,
      startOnReload: startOnReload === true,
      onFailure: onFailure.ok ? onFailure.value : "restart",
    };
  }

  private directory(value: unknown, path: KeyPath): string | undefined {
    if (value === undefined) return undefined;
    const parsed = parsePath(value);
    if (parsed.ok) return resolve(this.baseDir, parsed.value);
    this.problems.inFile(path, parsed.error, value);
    return undefined;
  }
}
