/**
 * Parsers for single configuration values. Each takes the raw value (from a file: any
 * JSON-like type; from the command line: a string) and returns the value or one reason.
 */

import { parseDuration } from "./duration.ts";
import { type IdDatabase, MAX_ID } from "./ids.ts";
import { suggest } from "./suggest.ts";
import type { CliLevel, OnFailure, ReadyMode } from "./types.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T = never>(error: string): Parsed<T> => ({ ok: false, error });

/** From a string result convention (`number | error text`) to Parsed. */
export function fromText(result: number | string): Parsed<number> {
  return typeof result === "number" ? ok(result) : fail(result);
}

/**
 * An integer in [min, max]. Files must give a number; strings are accepted only when
 * `text` is set (command-line values are always strings).
 */
export function parseInteger(value: unknown, min: number, max: number, text = false): Parsed<number> {
  const range = `must be an integer from ${min} to ${max}`;
  let number = value;
  if (typeof value === "string" && text && /^\s*-?\d+\s*$/.test(value)) number = Number(value);
  if (typeof number !== "number" || !Number.isInteger(number)) return fail(range);
  return number >= min && number <= max ? ok(number) : fail(range);
}

/** One of a fixed set of words, with a suggestion for a near miss. */
export function parseChoice<T extends string>(value: unknown, choices: readonly T[]): Parsed<T> {
  const list = `must be ${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}`;
  if (typeof value !== "string") return fail(list);
  const found = choices.find((choice) => choice === value.trim());
  if (found !== undefined) return ok(found);
  const close = suggest(value.trim(), choices);
  return fail(close ? `${list} (did you mean '${close}'?)` : list);
}

export const ON_FAILURE: readonly OnFailure[] = ["exit", "restart", "ignore"];
export const CLI_LEVELS: readonly CliLevel[] = ["admin", "operator", "user"];

/** `accepting`, `notify`, `spawn` or `delay:DURATION`. */
export function parseReady(value: unknown): Parsed<ReadyMode> {
  const usage = "must be accepting, notify, spawn or delay:DURATION";
  if (typeof value !== "string") return fail(usage);
  const text = value.trim();
  if (text === "accepting" || text === "notify" || text === "spawn") return ok({ kind: text });
  if (text.startsWith("delay:")) {
    const ms = parseDuration(text.slice("delay:".length));
    return typeof ms === "number" ? ok({ kind: "delay", ms }) : fail(`delay: ${ms}`);
  }
  const close = suggest(text, ["accepting", "notify", "spawn"]);
  return fail(close ? `${usage} (did you mean '${close}'?)` : usage);
}

/** A positive duration: a zero readiness timeout would fail every load. */
export function parsePositiveDuration(value: unknown): Parsed<number> {
  const ms = parseDuration(value);
  if (ms === 0) return fail("must be greater than 0");
  return fromText(ms);
}

/**
 * A permission mode. Strings are octal ("600", "0660", "0o600"). A number is read as if its
 * decimal digits were octal digits, because `mode = 600` in a file means 0o600 to every
 * human who writes it, and YAML reads `0600` as the decimal 600.
 */
export function parseMode(value: unknown): Parsed<number> {
  const usage = `must be an octal mode such as "600" or "0660"`;
  let digits: string;
  if (typeof value === "string") digits = value.trim().replace(/^0o/i, "");
  else if (typeof value === "number" && Number.isInteger(value) && value >= 0) digits = String(value);
  else return fail(usage);
  if (!/^[0-7]{1,5}$/.test(digits)) return fail(usage);
  const mode = parseInt(digits, 8);
  return mode <= 0o7777 ? ok(mode) : fail(`${usage} (at most 7777)`);
}

/** A non-empty path string (resolving is left to the caller, who knows the base). */
export function parsePath(value: unknown): Parsed<string> {
  if (typeof value !== "string") return fail("must be a path (a string)");
  if (value.trim() === "") return fail("must not be empty");
  if (value.includes("\0")) return fail("must not contain a NUL character");
  return ok(value);
}

/** A user or group as a number or a name; the name is kept, the id resolved. */
export function parseUserId(value: unknown, ids: IdDatabase): Parsed<{ name: string; uid: number; gid?: number }> {
  const id = numericId(value);
  if (id !== undefined) return id === false ? fail(`must be a user name or a uid from 0 to ${MAX_ID}`) : ok({ name: String(id), uid: id });
  const name = String(value);
  const entry = ids.user(name);
  return entry ? ok({ name, uid: entry.uid, gid: entry.gid }) : fail(`unknown user '${name}' (not in /etc/passwd)`);
}

export function parseGroupId(value: unknown, ids: IdDatabase): Parsed<{ name: string; gid: number }> {
  const id = numericId(value);
  if (id !== undefined) return id === false ? fail(`must be a group name or a gid from 0 to ${MAX_ID}`) : ok({ name: String(id), gid: id });
  const name = String(value);
  const gid = ids.group(name);
  return gid === undefined ? fail(`unknown group '${name}' (not in /etc/group)`) : ok({ name, gid });
}

/** A number, `false` for a value that is not a valid id, undefined for a name to look up. */
function numericId(value: unknown): number | false | undefined {
  if (typeof value === "string" && /^\d+$/.test(value.trim())) value = Number(value);
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 && value <= MAX_ID ? value : false;
  if (typeof value !== "string" || value.trim() === "" || /[:\s]/.test(value)) return false;
  return undefined;
}

/**
 * A listener or program name. Listener names are joined by ':' in LISTEN_FDNAMES, and
 * systemd accepts at most 255 characters per name.
 */
export function parseName(value: unknown): Parsed<string> {
  if (typeof value !== "string") return fail("must be a string");
  if (value === "") return fail("must not be empty");
  if (value.length > 255) return fail("must be at most 255 characters");
  if (!/^[A-Za-z0-9_.-]+$/.test(value)) return fail("may contain only letters, digits, '_', '.' and '-'");
  return ok(value);
}

/** A TOML table / YAML mapping / JSON object (TOML dates are objects too, but not tables). */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
