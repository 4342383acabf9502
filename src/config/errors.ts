/**
 * One line per problem, in the compiler-style form editors can jump to:
 * `FILE:LINE: key: problem (got VALUE)`.
 */

import { boundedJson } from "./limits.ts";
import type { ConfigProblem } from "./types.ts";

/** Long values are cut so that a pasted certificate cannot flood the terminal. */
const MAX_VALUE_CHARS = 60;
/** A key can be as long as the file: one line still names it, cut. */
const MAX_KEY_CHARS = 120;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line === undefined ? problem.source : `${problem.source}:${problem.line}`;
  const key = problem.key === "" ? "" : `${cut(problem.key, MAX_KEY_CHARS)}: `;
  const got = "got" in problem ? ` (got ${formatValue(problem.got)})` : "";
  return oneLine(`${where}: ${key}${problem.problem}${got}`);
}

export function formatProblems(problems: readonly ConfigProblem[]): string[] {
  return problems.map(formatProblem);
}

/** JSON-like: strings quoted, tables and arrays as JSON, dates as their ISO text; never more rendered than shown. */
export function formatValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = "nothing";
  else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? "an invalid date" : value.toISOString();
  else if (typeof value === "bigint") text = `${value}`;
  else if (typeof value === "number" && !Number.isFinite(value)) text = String(value);
  else text = boundedJson(value, MAX_VALUE_CHARS);
  return cut(text, MAX_VALUE_CHARS);
}

/** A value or an OS message could contain line breaks; one problem stays one line. */
function oneLine(text: string): string {
  return text.replace(/\r?\n|\r/g, " ");
}
