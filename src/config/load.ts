/**
 * Reading a configuration: file → text → parsed value → validated Config. Each step that
 * fails yields exactly one problem naming the file (and the line when the parser knows
 * it), because nothing after a failed step can be trusted to say more.
 */

import { dirname, extname, resolve } from "node:path";
import type { IdDatabase } from "./ids.ts";
import { scanJson } from "./jsonscan.ts";
import { limitProblem, MAX_DEPTH } from "./limits.ts";
import { type ConfigFormat, lineFinder } from "./locate.ts";
import { readConfigText } from "./read.ts";

export { readFailure } from "./read.ts";
import { validateConfig } from "./schema.ts";
import type { ConfigOverrides, ConfigProblem, ConfigResult } from "./types.ts";
import { isTable } from "./values.ts";

export interface LoadOptions {
  /** the path as the user gave it; relative to `cwd` */
  file?: string;
  overrides: ConfigOverrides;
  /** the working directory: base of a relative `file` and of relative override paths */
  cwd: string;
  ids?: IdDatabase;
}

const FORMATS: Readonly<Record<string, ConfigFormat>> = { ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json" };

/** What a top-level table is called in each format, for the one message that names it. */
const TABLE_WORD: Readonly<Record<ConfigFormat, string>> = { toml: "a table", yaml: "a mapping", json: "an object" };

/** Reading is bounded in size and time (read.ts), parsing in depth and size (limits.ts). */
export async function loadConfig(opts: LoadOptions): Promise<ConfigResult> {
  const base = { cwd: opts.cwd, overrides: opts.overrides, ...(opts.ids ? { ids: opts.ids } : {}) };
  if (opts.file === undefined) return validateConfig(undefined, { ...base, baseDir: opts.cwd });
  const source = opts.file;
  const file = resolve(opts.cwd, opts.file);
  const fail = (problem: string, line?: number): ConfigResult => ({
    ok: false,
    problems: [{ source, ...(line === undefined ? {} : { line }), key: "", problem } satisfies ConfigProblem],
  });

  const extension = extname(file).toLowerCase();
  const format = FORMATS[extension];
  if (format === undefined) {
    const what = extension === "" ? "no file extension" : `unsupported extension '${extname(file)}'`;
    return fail(`${what} (use .toml, .yaml, .yml or .json)`);
  }
  const read = await readConfigText(file);
  if (!read.ok) return fail(read.problem);
  const text = read.text.replace(/^\uFEFF/, "");
  const parsed = parseText(text, format, await parserOf(format));
  if (!parsed.ok) return fail(`syntax error: ${parsed.message}`, parsed.line);
  const beyond = limitProblem(parsed.value);
  if (beyond !== undefined) return fail(beyond);
  if (!isTable(parsed.value)) {
    return fail(`the top level must be ${TABLE_WORD[format]} of sections (got ${describe(parsed.value)})`);
  }
  return validateConfig(parsed.value, { ...base, source, file, baseDir: dirname(file), lineOf: lineFinder(text, format) });
}

type ParsedText = { ok: true; value: unknown } | { ok: false; message: string; line?: number };

/** A format's parser: text to value, throwing on a syntax error. */
export type Parser = (text: string) => unknown;

/**
 * The parser of `format`, loaded when a file of that format is read: a configuration from
 * the command line alone loads none, and a TOML file does not load YAML's (js-yaml builds
 * its schema when it is loaded). The CLI and a reload's new image and preflight start sooner.
 */
export async function parserOf(format: ConfigFormat): Promise<Parser> {
  if (format === "toml") return (await import("confbox/toml")).parseTOML;
  if (format === "json") return (await import("confbox/json")).parseJSON;
  const { parseYAML } = await import("confbox/yaml");
  return (text) => parseYAML(text, { maxDepth: MAX_DEPTH });
}

export function parseText(text: string, format: ConfigFormat, parse: Parser): ParsedText {
  if (format === "json") {
    // The scanner finds the line portably; JSON.parse's messages differ between engines.
    const scan = scanJson(text);
    if (scan.error) return { ok: false, message: scan.error.message, line: scan.error.line };
  }
  // An empty YAML file (or one with only comments) is an empty configuration, as in TOML.
  if (format === "yaml" && text.split("\n").every((line) => /^\s*(#.*)?$/.test(line))) return { ok: true, value: {} };
  try {
    return { ok: true, value: parse(text) };
  } catch (error) {
    return { ok: false, ...parserFailure(error, format) };
  }
}

/**
 * smol-toml puts the line in a code block under the message ("3:  [b" above a caret line);
 * js-yaml gives a 0-based `mark.line`. Some runtimes add their own `line` property (the line in the
 * parser's source) to errors, so that property is not trusted.
 */
function parserFailure(error: unknown, format: ConfigFormat): { message: string; line?: number } {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split("\n");
  let message = (lines[0] ?? "").replace(/^Invalid TOML document:\s*/, "").replace(/\s*\(\d+:\d+\)$/, "");
  let line: number | undefined;
  if (format === "toml") {
    // The caret sits under the offending line; at the end of the input there is no caret
    // and the last quoted line is where the parser stopped.
    const caret = lines.findIndex((l, i) => i > 0 && /^\s*\^\s*$/.test(l));
    const quoted = (caret > 0 ? lines.slice(1, caret) : lines.slice(1)).filter((l) => /^\d+:/.test(l));
    const last = quoted[quoted.length - 1];
    if (last !== undefined) line = parseInt(last, 10);
  } else if (format === "yaml") {
    const mark = (error as { mark?: { line?: unknown } }).mark;
    if (typeof mark?.line === "number") line = mark.line + 1;
    const reason = (error as { reason?: unknown }).reason;
    if (typeof reason === "string") message = reason;
  }
  return { message, ...(line === undefined ? {} : { line }) };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  return `a ${typeof value}`;
}
