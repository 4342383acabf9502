/**
 * `[global]` keys of safe rollouts that only the file sets (REFERENCE §3): `rollout`,
 * `max-rss`, `max-rss-for`, `old-rss-budget`. Sizes are bytes; durations milliseconds.
 */

import { parseDuration } from "./duration.ts";
import type { GlobalConfig, Rollout } from "./types.ts";
import { fail, fromText, ok, type Parsed } from "./values.ts";

/** Units of a size: IEC (powers of 1024) and SI (powers of 1000) kept apart, as written. */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40,
};

const SIZE_EXAMPLE = `e.g. "512MiB", "2GiB", "100MB"`;

/**
 * Bytes from `"512MiB"`, `"2GiB"`, `"100MB"`, `"1.5G"` or `"0"`; a number is bytes.
 * Hand-written: the npm size parsers (bytes, filesize) read MB as MiB, and this one must not.
 */
export function parseSize(value: unknown): Parsed<number> {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? ok(value) : fail(`must be a whole number of bytes or a size (${SIZE_EXAMPLE})`);
  }
  if (typeof value !== "string") return fail(`must be a size (${SIZE_EXAMPLE})`);
  const text = value.trim();
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text);
  if (!m) return fail(text.startsWith("-") ? "must not be negative" : `not a size (${SIZE_EXAMPLE})`);
  const [, amount = "", unit = ""] = m;
  if (unit === "") return Number(amount) === 0 ? ok(0) : fail(`missing unit (B, KiB, MiB, GiB, KB, MB, GB; ${SIZE_EXAMPLE})`);
  const factor = SIZE_UNITS[unit.toLowerCase()];
  if (factor === undefined) return fail(`unknown unit '${unit}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`);
  const bytes = Math.round(Number(amount) * factor);
  return Number.isSafeInteger(bytes) ? ok(bytes) : fail("too large");
}

/** `all`, `batch:N` (N ≥ 1) or `batch:P%` (0 < P ≤ 100). */
export function parseRollout(value: unknown): Parsed<Rollout> {
  const usage = `must be "all", "batch:N" or "batch:P%" (e.g. "batch:1", "batch:25%")`;
  if (typeof value !== "string") return fail(usage);
  const text = value.trim();
  if (text === "all") return ok({ kind: "all" });
  const m = /^batch:(\d+)(%?)$/.exec(text);
  if (!m) return fail(usage);
  const n = Number(m[1]);
  if (m[2] === "%") return n >= 1 && n <= 100 ? ok({ kind: "batch", percent: n }) : fail("batch:P%: P must be from 1 to 100");
  return n >= 1 && Number.isSafeInteger(n) ? ok({ kind: "batch", count: n }) : fail("batch:N: N must be at least 1");
}

/** Workers per batch for `workers` workers: P% rounds up, at least 1; N above `workers` is all. */
export function batchSize(rollout: Rollout, workers: number): number {
  if (rollout.kind === "all") return workers;
  const n = rollout.percent !== undefined ? Math.ceil((workers * rollout.percent) / 100) : (rollout.count ?? workers);
  return Math.max(1, Math.min(workers, n));
}

export interface FileOnlyField {
  key: string;
  field: "rollout" | "maxRss" | "maxRssFor" | "oldRssBudget";
  parse(value: unknown): Parsed<GlobalConfig["rollout"] | number>;
}

export const ROLLOUT_FIELDS: readonly FileOnlyField[] = [
  { key: "rollout", field: "rollout", parse: parseRollout },
  { key: "max-rss", field: "maxRss", parse: parseSize },
  { key: "max-rss-for", field: "maxRssFor", parse: (v) => fromText(parseDuration(v)) },
  { key: "old-rss-budget", field: "oldRssBudget", parse: parseSize },
];

export const ROLLOUT_DEFAULTS = { rollout: { kind: "all" }, maxRss: 0, maxRssFor: 30_000, oldRssBudget: 0 } as const satisfies Pick<
  GlobalConfig,
  "rollout" | "maxRss" | "maxRssFor" | "oldRssBudget"
>;
