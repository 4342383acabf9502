/**
 * Durations: `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"1m30s"`, `"1.5s"`, `"0"`.
 * A number (from a TOML/YAML/JSON number) is milliseconds; a string needs a unit, because
 * `"10"` is as likely meant as seconds as milliseconds and guessing wrong is silent.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Timers in every runtime overflow above 2^31-1 ms (about 24.8 days) and then fire at once,
 * so a longer duration would turn "wait a long time" into "do it now".
 */
export const MAX_DURATION_MS = 2_147_483_647;

const EXAMPLE = `e.g. "500ms", "30s", "1m30s"`;

/** Milliseconds, or the reason the value is not a duration. */
export function parseDuration(value: unknown): number | string {
  if (typeof value === "number") return durationFromNumber(value);
  if (typeof value !== "string") return `must be a duration string (${EXAMPLE})`;
  const text = value.trim();
  if (text === "") return `empty duration (${EXAMPLE})`;
  if (text.startsWith("-")) return "must not be negative";
  if (/\s/.test(text)) return `must not contain spaces (${EXAMPLE})`;
  if (/^\d+(\.\d+)?$/.test(text)) {
    return Number(text) === 0 ? 0 : "missing unit (ms, s, m, h)";
  }
  let total = 0;
  let rest = text;
  while (rest !== "") {
    const part = /^(\d+(?:\.\d+)?)([a-zA-Z]*)/.exec(rest);
    if (!part) return `not a duration (${EXAMPLE})`;
    const [whole, amount = "", unit = ""] = part;
    if (unit === "") return whole === rest ? "missing unit (ms, s, m, h)" : `not a duration (${EXAMPLE})`;
    const factor = UNIT_MS[unit.toLowerCase()];
    if (factor === undefined) return `unknown unit '${unit}' (use ms, s, m, h)`;
    total += Number(amount) * factor;
    rest = rest.slice(whole.length);
  }
  return checkRange(Math.round(total));
}

function durationFromNumber(value: number): number | string {
  if (!Number.isFinite(value)) return "must be a finite number of milliseconds";
  if (value < 0) return "must not be negative";
  if (!Number.isInteger(value)) return `must be a whole number of milliseconds (or a string, ${EXAMPLE})`;
  return checkRange(value);
}

function checkRange(ms: number): number | string {
  return ms > MAX_DURATION_MS ? `too long (at most ${formatDuration(MAX_DURATION_MS)})` : ms;
}

/** The shortest unit-by-unit spelling that `parseDuration` reads back: 90500 → "1m30s500ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "0";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of Object.entries(UNIT_MS).reverse()) {
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return out;
}
